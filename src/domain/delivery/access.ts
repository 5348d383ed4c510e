import type { Image, User } from "../../db/schema.ts";
import { AppError } from "../errors.ts";
import type { Auth } from "../auth/auth.ts";
import type { Tokens } from "../tokens/tokens.ts";
import { type SignaturePurpose, signatureOf, verify } from "./signing.ts";

// The one answer to "may this caller see these pixels": every path that reads an image's bytes
// for a caller (each URL shape, placeholders, an image named inside another's URL as its
// watermark) asks here, so no feature can read around the rule. Three kinds of caller see
// pixels: anyone sees a public image; the owner (its key or dashboard session) sees its own;
// a valid signature over the whole URL sees what it names. Also here, the two things a caller
// may make imgd do for it: transform (IMGD_TRANSFORMS and the tenant's `transforms`) and fetch
// another host (`fetch_origins`).

/** How far unsigned requests of anonymous callers may go: imgproxy's and thumbor's "only signed" option. */
export const TRANSFORM_POLICIES = ["signed", "presets", "any"] as const;
export type TransformPolicy = (typeof TRANSFORM_POLICIES)[number];

/** What a URL asks beyond the stored image: nothing (the original), a named preset, or options of its own. */
export type Asks = "original" | "preset" | "options";

/** Who a request is, as far as one image goes ("anonymous": neither signed nor known to be the owner yet). */
export type Caller = "owner" | "signed" | "anonymous";

export interface Grant {
  caller: Caller;
  /** Until when the answer is private (a shared cache must not keep it); undefined: public. */
  privateUntil?: number;
  /** Until when the URL's signature holds, when it has a valid one. */
  signedUntil?: number;
  /**
   * Whether the caller is the owner, by its key or session: looked up only when an answer
   * depends on it (a public image asked for more than anyone may have). Once true, `caller`
   * says "owner", and the answer is not remembered for others.
   */
  isOwner: () => Promise<boolean>;
  /** The operator's key signed the URL: IMGD_TRANSFORMS does not hold it. */
  vouched?: boolean;
}

/**
 * Who sends a request, as the HTTP layer read it: the credentials are checked only when an
 * answer depends on them, and then once (`Grant.isOwner`). Delivery URLs need none, so ones
 * that do not check out make the request anonymous rather than refused.
 */
export interface Requester {
  /** The client's address (IMGD_TRUST_PROXY decides which one). */
  address: string;
  /** The Authorization header (an API key), if any. */
  authorization?: string;
  /** The dashboard session's secret, when no Authorization came. */
  session?: string | null;
}

/** What the access rule reads of a delivery request. */
export interface AccessRequest {
  /**
   * `signed`: the URL may carry a signature (native and imgix on `/i/`, Imgwire's CDN);
   * `owner`: the caller is the tenant itself (AssetsRepo's key route); `public`: the shape
   * cannot be signed (IPX, Cloudflare, Next.js).
   */
  access: "signed" | "owner" | "public";
  /** The image path as the URL names it: what a signature covers with `search`. */
  path: string;
  /** What the signature covers instead of `path`, where the URL writes more (Imgwire's `@preset`). */
  signedPath?: string;
  search?: URLSearchParams;
  /** Which dialect's signatures the URL carries (a native signature never verifies on Imgwire's CDN). */
  signature?: SignaturePurpose;
  /** Who asks; absent: anonymous, of unknown address. */
  requester?: Requester;
  /**
   * The operator's signature covers the URL (imgproxy's, thumbor's or imgix's key): it may ask
   * for any transform, as a signed URL may, but opens no private image (the key is the
   * server's, not the tenant's).
   */
  vouched?: boolean;
}

const NOT_FOUND_MARK = (id: string) => `watermark: no image with id '${id}' in this account`;

const ORDER: Record<TransformPolicy, number> = { signed: 0, presets: 1, any: 2 };

/** The stricter of the server's and the tenant's policy: a tenant can tighten, never loosen. */
export const stricterPolicy = (a: TransformPolicy, b: TransformPolicy): TransformPolicy =>
  ORDER[a] <= ORDER[b] ? a : b;

export class Access {
  constructor(
    private readonly d: {
      tokens: Tokens;
      /** Whose key or session a request carries (not metered as an API request). */
      auth: Pick<Auth, "caller">;
      now: () => number;
      /** IMGD_TRANSFORMS. */
      transforms: TransformPolicy;
    },
  ) {}

  /** May this caller see this image's pixels? Returns who it is; refuses with 403 otherwise. */
  async see(req: AccessRequest, owner: User, image: Image): Promise<Grant> {
    let known: Promise<boolean> | undefined;
    const grant: Grant = {
      caller: "anonymous",
      vouched: req.vouched,
      isOwner: () => {
        known ??= (req.access === "owner" ? Promise.resolve(true) : this.#isOwner(req, owner)).then((yes) => {
          if (yes) grant.caller = "owner";
          return yes;
        });
        return known;
      },
    };
    if (req.access === "owner") return this.#owner(grant, image);
    const signed = this.#signature(req, owner);
    if (signed.check === "valid") {
      grant.caller = "signed";
      grant.signedUntil = signed.until;
      if (image.visibility !== "public") grant.privateUntil = signed.until;
      return grant;
    }
    if (image.visibility === "public") return grant;
    if (await grant.isOwner()) return this.#owner(grant, image);
    if (req.access === "public") throw new AppError("FORBIDDEN", "This image is private");
    const why = {
      missing: "This image is private: use a signed URL (POST /api/v1/images/{id}/signed-url)",
      expired: "This signed URL has expired: request a new one",
      invalid: "This signed URL is not valid for this path and these options",
    }[signed.check];
    throw new AppError("FORBIDDEN", why);
  }

  /**
   * Another image named inside a delivery (a watermark by id) resolves as a delivery of it by
   * an anonymous caller would: a public image of the same tenant, or a private one when the
   * whole URL is signed or the owner asks. Anything else is the same 404 as no image at all,
   * so an id says nothing about images the caller may not see.
   */
  async mark(grant: Grant, owner: User, mark: Image | undefined, id: string): Promise<Image> {
    if (!mark || mark.user_id !== owner.id) throw new AppError("NOT_FOUND", NOT_FOUND_MARK(id));
    if (mark.visibility === "public") return mark;
    if (grant.caller === "anonymous" && !(await grant.isOwner())) throw new AppError("NOT_FOUND", NOT_FOUND_MARK(id));
    // A private mark makes the whole answer private: no shared cache may keep it.
    grant.privateUntil ??= grant.signedUntil ?? this.d.now() + 365 * 86_400_000;
    return mark;
  }

  /** The policy that holds for a tenant's unsigned URLs. */
  policyOf(owner: Pick<User, "transforms">): TransformPolicy {
    const own = TRANSFORM_POLICIES.includes(owner.transforms as TransformPolicy)
      ? (owner.transforms as TransformPolicy)
      : "any";
    return stricterPolicy(this.d.transforms, own);
  }

  /**
   * May an anonymous, unsigned request ask this much? `signed`: only the original as it is;
   * `presets`: a named preset too; `any`: anything. Signed URLs and the owner are not held.
   */
  async transforms(grant: Grant, owner: User, asks: Asks): Promise<void> {
    if (grant.caller !== "anonymous" || grant.vouched || asks === "original") return;
    const policy = this.policyOf(owner);
    if (policy === "any" || (policy === "presets" && asks === "preset")) return;
    if (await grant.isOwner()) return;
    throw new AppError(
      "FORBIDDEN",
      policy === "presets"
        ? "This tenant serves only its originals and presets to unsigned URLs: use a preset or a signed URL"
        : "This tenant serves only its originals to unsigned URLs: use a signed URL",
    );
  }

  /**
   * May this request make imgd fetch `url` (a watermark from a URL)? Signed URLs and the owner
   * may; anonymous callers only from the origins the tenant lists. The refusal says nothing
   * about the URL (what its name resolves to, or whether it answers).
   */
  async fetch(grant: Grant, owner: Pick<User, "fetch_origins">, url: string, param: string): Promise<void> {
    if (grant.caller !== "anonymous") return;
    if (originListed(parseOrigins(owner.fetch_origins), url)) return;
    if (await grant.isOwner()) return;
    throw new AppError(
      "FORBIDDEN",
      `${param}: this URL may only be fetched for a signed URL or from an origin the tenant lists in fetch_origins`,
      { field: param },
    );
  }

  #owner(grant: Grant, image: Image): Grant {
    grant.caller = "owner";
    // The owner's private images stay private in shared caches (and out of the hot path).
    if (image.visibility !== "public") grant.privateUntil = this.d.now() + 365 * 86_400_000;
    return grant;
  }

  #signature(req: AccessRequest, owner: User): { check: "valid" | "missing" | "expired" | "invalid"; until?: number } {
    if (req.access !== "signed" || !req.search) return { check: "missing" };
    const check = verify(this.d.tokens, owner.username, req.signedPath ?? req.path, req.search, req.signature);
    if (check !== "valid") return { check };
    return { check, until: Number(signatureOf(req.search).expires) * 1000 };
  }

  async #isOwner(req: AccessRequest, owner: User): Promise<boolean> {
    const r = req.requester;
    if (!r || (r.authorization === undefined && !r.session)) return false;
    return (await this.d.auth.caller(r.authorization, r.session ?? null))?.user.id === owner.id;
  }
}

/** A tenant's `fetch_origins` column (a list of URL prefixes), tolerant of none. */
export function parseOrigins(list: unknown): string[] {
  return Array.isArray(list) ? list.filter((x): x is string => typeof x === "string") : [];
}

/**
 * A URL prefix in one spelling: scheme and host lower-cased, the default port dropped, the path
 * normalised (dot segments resolved, percent-escapes of unreserved characters decoded by URL)
 * and ending in `/`, so that `https://cdn.example/logos` admits `/logos/a.png` and never
 * `/logos-evil/a.png` or `/logos/../secret`. Null when it is no http(s) URL, or carries
 * credentials, a query or a fragment.
 */
export function normaliseOrigin(raw: string): string | null {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return null;
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") return null;
  if (u.username || u.password || u.search || u.hash) return null;
  const path = u.pathname.endsWith("/") ? u.pathname : `${u.pathname}/`;
  return `${u.protocol}//${u.host}${path}`;
}

/** Whether `url` lies under one of `origins`, matched by whole path segments after normalising both. */
export function originListed(origins: readonly string[], url: string): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (u.username || u.password) return false;
  const target = `${u.protocol}//${u.host}${u.pathname}`;
  return origins.some((o) => {
    const prefix = normaliseOrigin(o);
    return prefix !== null && target.startsWith(prefix);
  });
}
