import { type ConfigInput, resolveConfig } from "./config.ts";
import { buildApp } from "./http/app.ts";
import { frontRouter } from "./http/front.ts";
import { detectRuntime } from "./runtime/index.ts";
import { type AppServices, appServices, buildServices, type RunOptions } from "./services.ts";

export type { ConfigInput } from "./config.ts";

export interface Imgd {
  /** A web-standard handler: mount it in any server that speaks Request/Response. */
  fetch: (req: Request, env?: { remoteAddress?: string }) => Promise<Response>;
  close: () => Promise<void>;
  /** Creates the admin user if needed and a new admin API key; returns the key (shown once). */
  createAdminKey: (name?: string) => Promise<string>;
  /** The use cases of this instance (no database or stores: those stay behind them). */
  services: AppServices;
}

/** Builds one isolated imgd: its own database, blob store and worker pool. Nothing is global. */
export async function createImgd(
  input: ConfigInput = {},
  options: { log?: (line: string) => void } & RunOptions = {},
): Promise<Imgd> {
  const config = resolveConfig(input);
  const runtime = await detectRuntime();
  const log = options.log ?? ((line: string) => console.error(line));
  const services = await buildServices(config, runtime, log, options);
  // Routes see the use cases only: no database, stores or workers.
  const visible = appServices(services);
  let closed = false;
  return {
    services: visible,
    fetch: frontRouter(visible, buildApp(visible)),
    async createAdminKey(name = "embedded") {
      const { user } = await services.users.ensureAdmin(config.adminUsername);
      return (await services.keys.create(user.id, { name })).secret;
    },
    async close() {
      if (closed) return;
      closed = true;
      await services.sweeper.stop();
      await services.placeholders.stop();
      await services.facts.stop();
      await services.dispatcher.stop();
      await services.usage.close();
      await services.presets.close();
      await services.pool.close();
      await services.bus.close();
      await services.db.destroy();
    },
  };
}
