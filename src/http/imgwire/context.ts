import type { Context, MiddlewareHandler } from "hono";
import * as v from "valibot";
import type { User } from "../../domain/records.ts";
import { AppError } from "../../domain/errors.ts";
import type { AppServices, RouteEnv } from "../env.ts";
import { admit } from "../auth.ts";
import { jsonBody } from "../validate.ts";
import { ImgwireValidation, type Issue } from "./errors.ts";
import { setPageHeaders } from "../paging.ts";

/**
 * What the Imgwire middleware leaves on the context besides the native principal; `K` names
 * the services a router uses.
 */
export interface ImgwireEnv<K extends keyof AppServices = keyof AppServices> {
  Variables: RouteEnv<K>["Variables"] & {
    /** The environment (tenant) the request acts on. */
    env: User;
    isClient: boolean;
  };
  Bindings: RouteEnv["Bindings"];
}
/** Any Imgwire context: for helpers that read only the request. */
export type Ctx = Context<any>;
/** An Imgwire context whose services include `K`. */
type With<K extends keyof AppServices> = Context<ImgwireEnv<K>>;
const narrow = <K extends keyof AppServices>(c: Context<any>) => c as With<K>;

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Parses with valibot; every issue becomes one FastAPI-style entry under `where`. */
export function parseIn<S extends v.GenericSchema>(
  schema: S,
  input: unknown,
  where: "body" | "query" | "path" | "header",
): v.InferOutput<S> {
  const r = v.safeParse(schema, input);
  if (r.success) return r.output;
  const issues: Issue[] = r.issues.map((i) => ({
    loc: [where, ...(i.path?.map((p) => (typeof p.key === "number" ? p.key : String(p.key))) ?? [])],
    msg: i.message,
    type: i.kind === "schema" ? `${i.type}_type` : "value_error",
  }));
  throw new ImgwireValidation(issues);
}

export async function body<S extends v.GenericSchema>(c: Ctx, schema: S): Promise<v.InferOutput<S>> {
  const raw = await jsonBody(c.req.raw);
  return parseIn(schema, raw, "body");
}

export function pathId(c: Ctx, name: string): string {
  const id = c.req.param(name) ?? "";
  if (!UUID.test(id))
    throw new ImgwireValidation([{ loc: ["path", name], msg: "Input should be a valid UUID", type: "uuid_parsing" }]);
  return id.toLowerCase();
}

const queryInt = (min: number, max: number, fallback: number) =>
  v.pipe(
    v.optional(v.string(), String(fallback)),
    v.regex(/^\d{1,9}$/, "Input should be a valid integer"),
    v.transform(Number),
    v.minValue(min, `Input should be greater than or equal to ${min}`),
    v.maxValue(max, `Input should be less than or equal to ${max}`),
  );

export const PageQuery = v.object({ page: queryInt(1, 1_000_000_000, 1), limit: queryInt(1, 100, 20) });

/** Imgwire's pagination headers; the body is the bare array. */
export function paged<T>(c: Ctx, items: T[], total: number, page: number, limit: number) {
  setPageHeaders(c, total, page, limit);
  return c.json(items);
}

/** Routes a client key may use; everything else needs a server key. */
export function clientMayUse(method: string, path: string): boolean {
  if (method === "POST" && /\/api\/v1\/images\/standard_upload\/?$/.test(path)) return true;
  return method === "GET" && /\/api\/v1\/images\/[0-9a-f-]{36}$/i.test(path);
}

/**
 * Authenticates a server or client key, picks the environment (X-Environment-Id: any one for
 * an admin key, only its own otherwise) and holds client keys to their routes and origins.
 */
export function imgwireAuth(): MiddlewareHandler<ImgwireEnv<"auth" | "users" | "imgwire">> {
  return async (c, next) => {
    await admit(c, {
      allowClient: true,
      missingKey: "Not authenticated: send 'Authorization: Bearer <key>'",
      authorize: async (principal) => {
        const isClient = principal.key.kind === "client";
        if (isClient && !clientMayUse(c.req.method, c.req.path)) {
          throw new AppError(
            "FORBIDDEN",
            "A client key may only create standard uploads and get images: use a server key",
          );
        }
        let env = principal.user;
        const wanted = c.req.header("x-environment-id");
        if (wanted !== undefined && wanted !== "" && wanted !== "null") {
          if (!UUID.test(wanted))
            throw new ImgwireValidation([
              { loc: ["header", "X-Environment-Id"], msg: "Input should be a valid UUID", type: "uuid_parsing" },
            ]);
          const id = wanted.toLowerCase();
          if (id !== principal.user.id) {
            if (principal.user.role !== "admin" || isClient)
              throw new AppError("FORBIDDEN", "This key may not act on that environment");
            const found = await c.var.services.users.byId(id);
            if (!found) throw new AppError("NOT_FOUND", "Environment not found");
            env = found;
          }
        }
        const origin = c.req.header("origin");
        if (isClient && origin !== undefined) {
          if (!(await c.var.services.imgwire.origins.originAllowed(env.id, origin)))
            throw new AppError("FORBIDDEN", `Origin ${origin} is not an allowed CORS origin of this environment`);
        }
        c.set("env", env);
        c.set("isClient", isClient);
      },
    });
    await next();
  };
}

/** The base of absolute URLs: the configured public URL, else this request's origin if it is one of ours (OwnHosts.base). */
export const baseUrl = (c: Ctx): string => narrow<"ownHosts">(c).var.services.ownHosts.base(c.req.url);

/** Where a tenant's images are delivered: its connected custom domain, else imgd's CDN route. */
export async function cdnBase(c: Ctx, user: User): Promise<string> {
  const { config, imgwire } = narrow<"config" | "imgwire">(c).var.services;
  const domain = await imgwire.domains.domain(user.id);
  const base = baseUrl(c);
  if (domain?.status === "CONNECTED") {
    const u = new URL(base);
    return `${u.protocol}//${domain.hostname}${config.basePath}`;
  }
  return `${base}${config.imgwireMount}/cdn/${encodeURIComponent(user.username)}`;
}

export const apiBase = (c: Ctx) => `${baseUrl(c)}${narrow<"config">(c).var.services.config.imgwireMount}`;
