import { type Context, Hono } from "hono";
import { nativeDelivery } from "../../domain/delivery/native.ts";
import { AppError } from "../../domain/errors.ts";
import { admit, refuseKeyInQuery } from "../auth.ts";
import { sendDelivered } from "../delivery.ts";
import { MOUNTS, pathUnder } from "../mounts.ts";
import { targetOf } from "../target.ts";
import type { AppServices, RouteEnv } from "../env.ts";
import { settleBody, toAppError } from "../errors.ts";

// The AssetsRepo dialect: `GET /api/images/{path}` with a Bearer key serves the key's tenant's
// image at that path (native URL options allowed), and each served view counts against the
// plan's monthly views. Its error table: 400 bad path or key in the URL, 401 no/invalid key,
// 403 no access, 404 unknown path, 429 monthly views used up.

const BAD_SEGMENT = /(^|\/)\.{1,2}(\/|$)|\/\/|[\u0000-\u001f]/;

/** AssetsRepo's error words: the native envelope, with its finer code where it names one. */
function assetsrepoError(c: Context, err: AppError) {
  if (err.extra.retryAfter) c.header("Retry-After", String(err.extra.retryAfter));
  const code = err.extra.reason === "view_limit_exceeded" ? "VIEW_LIMIT_EXCEEDED" : err.code;
  return c.json({ error: { code, message: err.message, status: err.status, path: c.req.path } }, err.status as any);
}

export function assetsrepoApp(services: Pick<AppServices, "delivery" | "log">) {
  const app = new Hono<RouteEnv<"auth" | "delivery" | "config" | "runtime">>();
  app.on(["GET", "HEAD"], "/*", async (c) => {
    refuseKeyInQuery(c.req.url);
    const principal = await admit(c, { scope: "read" });
    const path = pathUnder(c, MOUNTS.assetsrepo);
    if (path === "" || path.length > 1024 || BAD_SEGMENT.test(path))
      throw new AppError(
        "VALIDATION_ERROR",
        "Invalid storage key: give the image's path, e.g. /api/images/illustrations/hero.png",
      );
    // The key's own images (private ones too); an unknown path is a 404 and costs no view.
    const ask = {
      username: principal.user.username,
      path,
      search: targetOf(c).search,
      accept: c.req.header("accept"),
      ifNoneMatch: c.req.header("if-none-match"),
    };
    const request = nativeDelivery(ask, { access: "owner", countView: true, notFound: `No image at '${path}'` });
    return sendDelivered(c, await services.delivery.deliver(request));
  });
  app.all("*", (c) => {
    throw new AppError("NOT_FOUND", `No route for ${c.req.method} ${c.req.path}`);
  });
  app.onError(async (err, c) => {
    const e = toAppError(err, services.log);
    await settleBody(c);
    return assetsrepoError(c, e);
  });
  return app;
}
