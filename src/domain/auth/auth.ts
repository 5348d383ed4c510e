import { AppError } from "../errors.ts";
import type { Keys, Principal, Scope } from "../accounts/keys.ts";
import type { Metering, RateState } from "../metering/metering.ts";
import type { SessionPrincipal, Sessions, Site } from "../accounts/sessions.ts";

// One admission step for every dialect: who is calling (the key), may it (scope, then the
// dialect's own rules), and may it now (the key's minute window and the tenant's monthly API
// requests). Dialects differ only in how they word a refusal.

export interface AdmitOptions {
  /** The scope this request needs. */
  scope: Scope;
  /** Imgwire's public client keys are accepted (their routes are held by `authorize`). */
  allowClient?: boolean;
  /** The dialect's own rules for this key, after the scope and before metering: throw to refuse. */
  authorize?: (principal: Principal) => void | Promise<void>;
  /** What a request without a key is told (dialects word it their own way). */
  missingKey?: string;
  /** Hears the key's rate window, for the X-RateLimit-* headers: also when the request is refused. */
  onRate?: (state: RateState) => void;
  /**
   * The dashboard's session cookie, used when no Authorization header is sent: its principal
   * is a key's (same scopes, rules and metering). `verify` is the HTTP layer's Origin and CSRF
   * check; it throws to refuse.
   */
  session?: { secret: string; verify: (principal: SessionPrincipal) => void };
}

/** The secret of `Authorization: Bearer <secret>`, or null. */
export function bearer(header: string | null | undefined): string | null {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return m ? m[1] : null;
}

/** The scope a method needs when a route says nothing else: reads `read`, the rest `write`. */
export const scopeOf = (method: string): Scope => (method === "GET" || method === "HEAD" ? "read" : "write");

/** A dashboard session cookie that no longer opens a session: the cookie is to be cleared. */
export class SessionEndedError extends AppError {
  constructor() {
    super("UNAUTHORIZED", "Your session has ended: sign in again");
  }
}

export class Auth {
  constructor(private readonly d: { keys: Keys; metering: Metering; sessions: Sessions; site: Site }) {}

  /** Which origins are this server's, for the HTTP layer's checks of cookie requests. */
  get site(): Site {
    return this.d.site;
  }

  /** authenticate → scope → dialect rules → meter. A refused request is not counted. */
  async admit(authorization: string | null | undefined, opts: AdmitOptions): Promise<Principal> {
    const secret = bearer(authorization);
    const principal = secret
      ? await this.d.keys.authenticate(secret, { allowClient: opts.allowClient })
      : authorization == null && opts.session
        ? await this.#session(opts.session)
        : null;
    if (!principal)
      throw new AppError("UNAUTHORIZED", opts.missingKey ?? "Missing API key: send 'Authorization: Bearer <key>'");
    if (!principal.scopes.has(opts.scope))
      throw new AppError("FORBIDDEN", `This API key lacks the '${opts.scope}' scope`);
    await opts.authorize?.(principal);
    await this.d.metering.request(principal, opts.onRate ?? (() => {}));
    return principal;
  }

  /**
   * Who calls, by key or session, without metering or refusing: delivery URLs ask this only to
   * know whether the caller owns the image (its own pixels, transforms and fetches). A bad,
   * expired, client or write-only key, or an ended session, is nobody.
   */
  async caller(authorization: string | null | undefined, sessionSecret: string | null): Promise<Principal | null> {
    try {
      const secret = bearer(authorization);
      const principal = secret
        ? await this.d.keys.authenticate(secret)
        : authorization == null && sessionSecret
          ? await this.d.sessions.resolve(sessionSecret)
          : null;
      return principal?.scopes.has("read") ? principal : null;
    } catch {
      return null;
    }
  }

  async #session(session: NonNullable<AdmitOptions["session"]>): Promise<Principal> {
    const principal = await this.d.sessions.resolve(session.secret);
    if (!principal) throw new SessionEndedError();
    session.verify(principal);
    return principal;
  }
}
