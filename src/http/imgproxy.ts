import { Hono } from "hono";
import { AppError } from "../domain/errors.ts";
import { keepSourceFormat } from "../domain/delivery/compat.ts";
import { parseImgproxyPath } from "../domain/delivery/imgproxy.ts";
import { checkImgproxySignature } from "../domain/delivery/shape-signatures.ts";
import { type CompatEnv, serveMapped } from "./compat.ts";
import { MOUNTS, rawPathUnder } from "./mounts.ts";

// imgproxy's URLs under /imgproxy/ (IMGD_IMGPROXY), as its builders make them for an endpoint
// ending in /imgproxy: the signature is checked before the source is read, so a wrong one says
// nothing about which images exist.

export const imgproxyRoutes = new Hono<CompatEnv>().on(["GET", "HEAD"], "/*", (c) => {
  const { config } = c.var.services;
  if (!config.imgproxy)
    throw new AppError("NOT_FOUND", "imgproxy URLs are switched off on this server (IMGD_IMGPROXY)");
  const url = parseImgproxyPath(rawPathUnder(c, MOUNTS.imgproxy));
  checkImgproxySignature(url.signature, url.signed, {
    key: config.imgproxyKey,
    salt: config.imgproxySalt,
    size: config.imgproxySignatureSize,
    insecure: config.imgproxyInsecure,
  });
  return serveMapped(c, "/imgproxy/*", url.mapped, url.source, keepSourceFormat, {
    rules: { option: "source", local: true, bareTenantPath: false },
    presets: url.presets,
    // Signed with the operator's key (not `insecure`): transforms as a signed URL may.
    vouched: url.signature !== "insecure",
  });
});
