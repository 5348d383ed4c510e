import { type ConfigInput, resolveConfig } from "./config.ts";
import { buildApp } from "./http/app.ts";
import { deliverFast } from "./http/delivery.ts";
import { detectRuntime } from "./runtime/index.ts";
import { buildServices, type Services } from "./services.ts";

export type { ConfigInput } from "./config.ts";

export interface Imgd {
  /** A web-standard handler: mount it in any server that speaks Request/Response. */
  fetch: (req: Request, env?: { remoteAddress?: string }) => Promise<Response>;
  close: () => Promise<void>;
  /** Creates the admin user if needed and a new admin API key; returns the key (shown once). */
  createAdminKey: (name?: string) => Promise<string>;
  services: Services;
}

/** The request as imgd's routes expect it: without the prefix it is mounted under. */
function stripBasePath(req: Request, basePath: string): Request | null {
  const url = new URL(req.url);
  if (url.pathname !== basePath && !url.pathname.startsWith(`${basePath}/`)) return null;
  url.pathname = url.pathname.slice(basePath.length) || "/";
  return new Request(url, req);
}

/** Builds one isolated imgd: its own database, blob store and worker pool. Nothing is global. */
export async function createImgd(input: ConfigInput = {}, options: { log?: (line: string) => void } = {}): Promise<Imgd> {
  const config = resolveConfig(input);
  const runtime = await detectRuntime();
  const log = options.log ?? ((line: string) => console.error(line));
  const services = await buildServices(config, runtime, log);
  const app = buildApp(services);
  let closed = false;
  return {
    services,
    fetch: async (req, env) => {
      if (config.basePath) {
        const stripped = stripBasePath(req, config.basePath);
        if (!stripped) return new Response(JSON.stringify({ error: { code: "NOT_FOUND", message: `imgd is served under ${config.basePath}`, status: 404, path: new URL(req.url).pathname } }), { status: 404, headers: { "content-type": "application/json" } });
        req = stripped;
      }
      return deliverFast(services, req) ?? app.fetch(req, { remoteAddress: env?.remoteAddress ?? "" });
    },
    async createAdminKey(name = "embedded") {
      const { user } = await services.users.ensureAdmin(config.adminUsername);
      return (await services.keys.create(user.id, { name })).secret;
    },
    async close() {
      if (closed) return;
      closed = true;
      await services.sweeper.stop();
      await services.usage.close();
      await services.presets.close();
      await services.pool.close();
      await services.db.destroy();
    },
  };
}
