import type { Migration } from "kysely/migration";
import * as m001 from "./001_initial.ts";
import * as m002 from "./002_media.ts";
import * as m003 from "./003_metering.ts";
import * as m004 from "./004_imgwire.ts";
import * as m005 from "./005_sessions.ts";
import * as m006 from "./006_placeholders.ts";
import * as m007 from "./007_cluster.ts";
import * as m008 from "./008_identity.ts";
import * as m009 from "./009_domains.ts";
import * as m010 from "./010_access.ts";
import * as m011 from "./011_cost.ts";
import * as m013 from "./013_image_facts.ts";
import * as m014 from "./014_uploads.ts";
import * as m015 from "./015_webhooks.ts";
import * as m016 from "./016_purge.ts";

// Migrations live in code (not read from a folder) so the compiled binary carries them.
// Append only; never edit one that has shipped.
export const migrations: Record<string, Migration> = {
  "001_initial": m001,
  "002_media": m002,
  "003_metering": m003,
  "004_imgwire": m004,
  "005_sessions": m005,
  "006_placeholders": m006,
  "007_cluster": m007,
  "008_identity": m008,
  "009_domains": m009,
  "010_access": m010,
  "011_cost": m011,
  "013_image_facts": m013,
  "014_uploads": m014,
  "015_webhooks": m015,
  "016_purge": m016,
};
