import { AppError } from "../errors.ts";
import type { Keys, Principal, Scope } from "../accounts/keys.ts";
import type { Metering } from "../metering/metering.ts";
import type { SessionPrincipal, Sessions, Site } from "../accounts/sessions.ts";

// One admission step for every dialect: who is calling (the key), may it (scope, then the
// dialect's own rules), and may it now (the key's minute window and the tenant's monthly API
// requests). Dialects differ only in how they word a refusal.

export interface IdentifyOptions {
  /** Imgwire's public client keys are accepted (the dialect holds them to their routes). */
  allowClient?: boolean;
  /** What a request without a key is told (dialects word it their own way). */
  missingKey?: string;
  /**
   * The dashboard's session cookie, used when no Authorization header is sent: its principal
   * is a key's (same scopes, rules and metering). The HTTP layer checks its Origin and CSRF
   * token before the scope.
   */
  sessionSecret?: string | null;
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

  // One admission, in the order the HTTP layer runs it: identify → (the cookie's CSRF check)
  // → requireScope → (the dialect's rules) → meter. A refused request is not counted.

  /** Who calls, by key or session cookie; refuses a missing, bad or ended one. */
  async identify(authorization: string | null | undefined, opts: IdentifyOptions = {}): Promise<Principal> {
    const secret = bearer(authorization);
    const principal = secret
      ? await this.d.keys.authenticate(secret, { allowClient: opts.allowClient })
      : authorization == null && opts.sessionSecret
        ? await this.#session(opts.sessionSecret)
        : null;
    if (!principal)
      throw new AppError("UNAUTHORIZED", opts.missingKey ?? "Missing API key: send 'Authorization: Bearer <key>'");
    return principal;
  }

  requireScope(principal: Principal, scope: Scope) {
    if (!principal.scopes.has(scope)) throw new AppError("FORBIDDEN", `This API key lacks the '${scope}' scope`);
  }

  /** Takes the request from the key's minute window and the month's API requests (see Metering.request). */
  meter(principal: Principal) {
    return this.d.metering.request(principal);
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

  async #session(secret: string): Promise<SessionPrincipal> {
    const principal = await this.d.sessions.resolve(secret);
    if (!principal) throw new SessionEndedError();
    return principal;
  }
}
