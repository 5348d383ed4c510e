import { Hono } from "hono";
import { imgwireDelivery } from "../../domain/delivery/imgwire.ts";
import { AppError } from "../../domain/errors.ts";
import { askOf, openedBody, sendDelivered } from "../delivery.ts";
import { pathUnder } from "../mounts.ts";
import type { RequesterServices } from "../requester.ts";
import { targetOf } from "../target.ts";
import { markBodyRead } from "../validate.ts";
import type { ImgwireEnv } from "./context.ts";

/** The services these routes use. */
type Env = ImgwireEnv<"config" | "delivery" | "imgwire" | "keys" | "runtime" | "tokens" | RequesterServices>;

// What browsers reach without a key: the CDN (Imgwire URL parameters), the signed upload URL
// and the signed ZIP of a bulk download.

export const cdnRoutes = new Hono<Env>().on(["GET", "HEAD"], "/:username/*", async (c) => {
  const { delivery, config } = c.var.services;
  const ask = askOf(c, {
    username: c.req.param("username"),
    path: pathUnder(c, `${config.imgwireMount}/cdn`, 1),
    search: targetOf(c).search,
  });
  const res = await sendDelivered(c, await delivery.deliver(imgwireDelivery(ask)));
  res.headers.set("Access-Control-Allow-Origin", "*");
  return res;
});

export const uploadRoutes = new Hono<Env>().put("/:id", async (c) => {
  // Take the body's reader before the first await: Bun 1.3.14 loses a request stream that is
  // left alone across the database calls below ("undefined is not a function" when read).
  const reader = c.req.raw.body?.getReader();
  try {
    const { uploads, origins } = c.var.services.imgwire;
    const upload = await uploads.verifyUploadUrl(c.req.param("id"), c.req.query("expires"), c.req.query("signature"));
    const origin = c.req.header("origin");
    if (origin !== undefined) {
      if (!(await origins.originAllowed(upload.user_id, origin)))
        throw new AppError("FORBIDDEN", `Origin ${origin} is not an allowed CORS origin of this environment`);
      c.header("Access-Control-Allow-Origin", origin);
      c.header("Vary", "Origin");
    }
    const length = c.req.header("content-length");
    if (!length || !/^\d+$/.test(length) || !reader) {
      throw new AppError("VALIDATION_ERROR", "Content-Length is required", { field: "Content-Length" });
    }
    if (Number(length) > c.var.services.config.maxUploadBytes)
      throw new AppError("PAYLOAD_TOO_LARGE", `The upload limit is ${c.var.services.config.maxUploadBytes} bytes`);
    // Streamed to a temp file as it arrives; the blob store refuses it past the limit.
    const stream = (async function* () {
      for (let r = await reader.read(); !r.done; r = await reader.read()) yield r.value;
    })();
    const key = upload.key_id ? await c.var.services.keys.byId(upload.key_id) : undefined;
    await uploads.complete(upload, key, stream, {
      contentLength: Number(length),
      contentType: c.req.header("content-type") ?? null,
    });
    markBodyRead(c.req.raw);
    return c.body(null, 200);
  } finally {
    // Unlocked again, so a refusal can read (drain) what is left of the body.
    try {
      reader?.releaseLock();
    } catch {}
  }
});

export const zipRoutes = new Hono<Env>().get("/:file", async (c) => {
  const m = /^([0-9a-f-]{36})\.zip$/.exec(c.req.param("file"));
  const expires = c.req.query("expires") ?? "";
  if (!m || !/^\d{1,12}$/.test(expires)) throw new AppError("NOT_FOUND", "Download not found");
  const check = c.var.services.tokens.checkExpiring("imgwire-download-url", [m[1]], expires, c.req.query("signature"));
  if (check === "expired") throw new AppError("FORBIDDEN", "This download URL has expired");
  if (check !== "valid") throw new AppError("FORBIDDEN", "This download URL is not valid");
  const zip = await c.var.services.imgwire.downloads.zip(m[1]);
  if (!zip) throw new AppError("NOT_FOUND", "Download not found");
  return new Response(await openedBody(zip, c.var.services.runtime.name), {
    headers: {
      "Content-Type": "application/zip",
      "Content-Length": String(zip.size),
      "Content-Disposition": `attachment; filename="images-${m[1]}.zip"`,
    },
  });
});
