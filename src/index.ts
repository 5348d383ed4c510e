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
  services: Services;
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
    fetch: async (req, env) => deliverFast(services, req) ?? app.fetch(req, { remoteAddress: env?.remoteAddress ?? "" }),
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
