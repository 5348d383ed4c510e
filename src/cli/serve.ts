import { configFromEnv, resolveConfig, settings } from "../config.ts";
import { createImgd } from "../index.ts";
import { detectRuntime, type Runtime } from "../runtime/index.ts";
import { metricsResponse } from "../http/metrics/prometheus.ts";
import { type FlagSpec, formatFlags, parseArgs } from "./args.ts";
import { setupLink } from "./passwd.ts";

/** Defaults worth printing: scalars that say something (not empty strings, not built-in tables). */
const shownDefault = (d: unknown) => (d === undefined || d === "" || typeof d === "object" ? "" : `, default ${d}`);

export const serveFlags: Record<string, FlagSpec> = Object.fromEntries(
  Object.values(settings).map((s) => [
    s.flag,
    { help: `${s.help} [${s.env}${shownDefault(s.default)}]`, boolean: typeof s.default === "boolean" },
  ]),
);
serveFlags.help = { boolean: true, help: "Show this help" };

export const serveHelp = `Usage: imgd serve [options]

Starts the HTTP server. On the first start it creates the admin user and prints an admin API
key once, and a one-time link to choose the admin's dashboard password (valid 24 hours). Every option can also be given as the environment variable named in brackets; a
flag wins over the variable.

Options:
${formatFlags(serveFlags)}`;

export async function serve(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const { flags } = parseArgs(argv, serveFlags);
  if (flags.help) {
    console.log(serveHelp);
    return 0;
  }
  const input: Record<string, unknown> = configFromEnv(env);
  for (const [name, s] of Object.entries(settings)) if (flags[s.flag] !== undefined) input[name] = flags[s.flag];
  const config = resolveConfig(input); // fails fast, before anything is created
  const say = (line: string) => {
    if (!config.quiet) console.log(line);
  };

  // What nothing handled is a bug or a broken installation, never a dependency's outage (those
  // become 503s): say so plainly and exit non-zero, so a supervisor restarts a clean process.
  const fatal = (what: string) => (err: unknown) => {
    console.error(`imgd: fatal ${what}, exiting: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  };
  process.on("uncaughtException", fatal("error"));
  process.on("unhandledRejection", fatal("unhandled rejection"));

  const imgd = await createImgd(input);
  const { users, keys, runtime, sessions } = imgd.services;
  const admin = await users.ensureAdmin(config.adminUsername);
  // The dashboard's first sign-in: a one-time link to choose the admin's password.
  const setupToken = admin.created ? await sessions.createSetupToken(admin.user.id) : null;
  if (admin.created) {
    const { secret } = await keys.create(admin.user.id, { name: "admin (first start)" });
    // Printed even when quiet: it is shown only this once.
    console.log(`Created admin user '${admin.user.username}'. Admin API key (shown once, store it now):\n${secret}`);
  }

  // Requests in flight are counted here, not left to the runtime: Bun's and Deno's ideas of
  // a graceful stop differ, and a stop must never close the database under a request.
  let active = 0;
  let draining = false;
  let idle: (() => void) | null = null;
  const listener = await runtime.serve({
    hostname: config.host,
    port: config.port,
    fetch: async (req, info) => {
      if (draining) {
        return new Response(
          JSON.stringify({ error: { code: "SERVICE_UNAVAILABLE", message: "imgd is shutting down", status: 503 } }),
          {
            status: 503,
            headers: { "content-type": "application/json", "retry-after": "5", connection: "close" },
          },
        );
      }
      active++;
      try {
        return await imgd.fetch(req, info);
      } finally {
        if (--active === 0) idle?.();
      }
    },
    // The app refuses oversize bodies itself, in its error shape; this is only the outer guard.
    maxRequestBodySize: config.maxUploadBytes * 2 + 64 * 1024 * 1024,
  });
  // Without IMGD_PUBLIC_URL, absolute URLs for a Host that is not ours name this address.
  imgd.services.ownHosts.listening(listener.hostname, listener.port);
  // The workers warm up behind the listener; a broken installation still ends the process.
  imgd.services.codecsReady.catch(() => process.exit(1));
  const metrics = config.metricsAddr
    ? await serveMetrics(runtime, config.metricsAddr, () => metricsResponse(imgd.services.telemetry))
    : null;
  if (metrics)
    say(
      `imgd metrics on http://${metrics.hostname.includes(":") ? `[${metrics.hostname}]` : metrics.hostname}:${metrics.port}/metrics`,
    );
  const shown = listener.hostname === "0.0.0.0" || listener.hostname === "::" ? "localhost" : listener.hostname;
  const origin = `http://${shown.includes(":") ? `[${shown}]` : shown}:${listener.port}`;
  // Before the "listening" line, which tools (and the tests) wait for.
  if (setupToken)
    console.log(
      `Dashboard: choose the admin's password at ${setupLink(config.publicUrl ?? origin + config.basePath, setupToken)} (one-time link, valid 24 hours)`,
    );
  const on = imgd.services.health.kinds();
  const where = [
    ...(on.database === "sqlite" ? [] : [`database: ${on.database}`]),
    on.storage === "filesystem" ? `data: ${config.dataDir}` : `storage: ${on.storage}`,
  ].join(", ");
  say(`imgd listening on ${origin} (${where}, runtime: ${runtime.name} ${runtime.version})`);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = async () => {
      if (stopping) {
        // A second signal: the user wants out now.
        process.exit(1);
      }
      stopping = true;
      draining = true;
      say(`imgd stopping: finishing ${active} request(s) in flight…`);
      const finished = active === 0 ? Promise.resolve() : new Promise<void>((r) => (idle = r));
      await Promise.race([finished, new Promise((r) => setTimeout(r, 10_000))]);
      await listener.stop(true).catch(() => {});
      await metrics?.stop(true).catch(() => {});
      await imgd.close();
      say("imgd stopped");
      resolve(0);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}

/** A listener for Prometheus alone (IMGD_METRICS_ADDR): no key, nothing else served. */
async function serveMetrics(runtime: Runtime, addr: string, respond: () => Promise<Response>) {
  const i = addr.lastIndexOf(":");
  return runtime.serve({
    hostname: addr.slice(0, i).replace(/^\[|\]$/g, ""),
    port: Number(addr.slice(i + 1)),
    fetch: (req) =>
      new URL(req.url).pathname === "/metrics" && (req.method === "GET" || req.method === "HEAD")
        ? respond()
        : new Response(
            JSON.stringify({
              error: {
                code: "NOT_FOUND",
                message: "This listener serves only GET /metrics",
                status: 404,
                path: new URL(req.url).pathname,
              },
            }),
            {
              status: 404,
              headers: { "content-type": "application/json" },
            },
          ),
    maxRequestBodySize: 64 * 1024,
  });
}

export { detectRuntime };
