// The stored records the use cases hand out, named for the layers above the domain (which
// never import the database module itself).
export type { ApiKey, Image, Preset, User } from "../db/schema.ts";
export type {
  ImgwireCorsOrigin,
  ImgwireDomain,
  ImgwireDownload,
  ImgwireToken,
  ImgwireUpload,
} from "../db/schema.ts";
