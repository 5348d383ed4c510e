import { Hono } from "hono";
import { AppError } from "../domain/errors.ts";
import { keepSourceFormat } from "../domain/delivery/compat.ts";
import { checkThumborSignature } from "../domain/delivery/shape-signatures.ts";
import { parseThumborPath } from "../domain/delivery/thumbor.ts";
import { type CompatEnv, serveMapped } from "./compat.ts";
import { MOUNTS, rawPathUnder } from "./mounts.ts";

// thumbor's URLs under /thumbor/ (IMGD_THUMBOR), as its builders make them for a server URL
// ending in /thumbor: the HMAC is checked before the image is looked up.

export const thumborRoutes = new Hono<CompatEnv>().on(["GET", "HEAD"], "/*", (c) => {
  const { config } = c.var.services;
  if (!config.thumbor) throw new AppError("NOT_FOUND", "thumbor URLs are switched off on this server (IMGD_THUMBOR)");
  const url = parseThumborPath(rawPathUnder(c, MOUNTS.thumbor));
  checkThumborSignature(url.signature, url.signed, config.thumborKey, config.thumborUnsafe);
  return serveMapped(c, "/thumbor/*", url.mapped, url.source, keepSourceFormat, {
    rules: { option: "image", bareTenantPath: false },
    // Signed with the operator's key (not `unsafe`): transforms as a signed URL may.
    vouched: url.signature !== "unsafe",
  });
});
