import { Hono, type Context } from "hono";
import * as v from "valibot";
import type { User } from "../../domain/records.ts";
import { USERNAME, normalizeEmail } from "../../domain/accounts/accounts.ts";
import { AppError, invalid } from "../../domain/errors.ts";
import type { Scope } from "../../domain/accounts/keys.ts";
import { checkPasswordRules } from "../../domain/accounts/passwords.ts";
import { signinSubject } from "../../domain/accounts/sessions.ts";
import { HOUR } from "../../domain/metering/ratelimits.ts";
import { requireKey } from "../auth.ts";
import { clientIp } from "../client-ip.ts";
import { sendEmailLink } from "../email-link.ts";
import type { AppEnv } from "../env.ts";
import { unix } from "../native/shape.ts";
import { jsonBody, parse } from "../validate.ts";
import {
  checkSameOrigin,
  clearSessionCookie,
  sessionPrincipal,
  sessionSecretOf,
  setSessionCookie,
  siteOf,
} from "../session.ts";

// /auth/…: signing in and out of the dashboard, first-start setup, sign-up, and the user's
// sessions. Everything else the dashboard does goes through the public API with the cookie.

const SIGNUP_PER_IP_HOUR = 10;

export const Login = v.union(
  [
    v.strictObject({
      username: v.pipe(
        v.string("is required"),
        v.trim(),
        v.toLowerCase(),
        v.minLength(1, "is required"),
        v.maxLength(254),
      ),
      password: v.pipe(v.string("is required"), v.minLength(1, "is required")),
    }),
    v.strictObject({ api_key: v.pipe(v.string("is required"), v.trim(), v.minLength(1, "is required")) }),
  ],
  "send a username and password, or an api_key",
);
export const Setup = v.strictObject({
  token: v.pipe(v.string("is required"), v.minLength(1, "is required")),
  password: v.string("is required"),
});
export const Signup = v.strictObject({
  username: v.pipe(
    v.string("is required"),
    v.trim(),
    v.toLowerCase(),
    v.regex(USERNAME, "must be 2–39 lowercase letters, digits, '-' or '_'"),
  ),
  email: v.optional(v.nullable(v.string())),
  password: v.string("is required"),
});
export const ConfirmEmailQuery = v.object({
  token: v.pipe(v.string("is required"), v.minLength(1, "is required")),
});
export const ChangePassword = v.strictObject({
  current_password: v.string("is required"),
  new_password: v.string("is required"),
});

export const whoami = (u: User) => ({
  id: u.id,
  username: u.username,
  email: u.email,
  role: u.role,
  plan: u.plan,
  verified: !!u.verified,
  theme: u.theme,
  language: u.language,
});

async function openSession(
  c: Context<AppEnv>,
  user: User,
  method: "password" | "key" | "setup" | "signup",
  key?: { id: string; scopes: Scope[] },
) {
  const { session, secret } = await c.var.services.sessions.create(user.id, {
    method,
    scopes: key?.scopes,
    keyId: key?.id,
    userAgent: c.req.header("user-agent") ?? null,
    ip: clientIp(c),
  });
  setSessionCookie(c, siteOf(c), secret);
  return { user: whoami(user), csrf_token: session.csrf_token, scopes: session.scopes.split(",") };
}

export const accountRoutes = new Hono<AppEnv>()
  .get("/config", (c) => c.json({ registration: c.var.services.config.registration }))
  .get("/session", async (c) => {
    const p = await sessionPrincipal(c);
    if (!p) throw new AppError("UNAUTHORIZED", "Not signed in");
    const secret = sessionSecretOf(c.req.header("cookie"));
    if (secret) setSessionCookie(c, siteOf(c), secret); // keeps the browser's copy as alive as the server's
    return c.json({
      user: whoami(p.user),
      csrf_token: p.session.csrf_token,
      scopes: [...p.scopes],
      method: p.session.method,
      has_password: await c.var.services.passwords.has(p.user.id),
    });
  })
  .post("/login", async (c) => {
    // Login CSRF: a cross-site page must not sign the browser into someone else's account.
    checkSameOrigin(c, siteOf(c));
    const body = parse(Login, await jsonBody(c.req.raw));
    const { keys, passwords, signins } = c.var.services;
    const ip = clientIp(c);
    if ("api_key" in body) {
      // Keys cannot be guessed: only bad keys from this address hold key sign-in back, never
      // password failures (an attacker's wrong passwords must not lock the owner's key out).
      const subject = signinSubject.key(ip);
      await signins.check([subject]);
      const principal = await keys.authenticate(body.api_key).catch(async (err) => {
        await signins.fail([subject]);
        throw err;
      });
      // The session is the key's: its scopes, and it ends when the key is deleted or expires.
      return c.json(
        await openSession(c, principal.user, "key", { id: principal.key.id, scopes: [...principal.scopes] }),
      );
    }
    const name = body.username;
    const user = await passwords.userByLogin(name);
    const account = user?.id ?? name;
    // Refused: this account from this address, or this address guessing many accounts. The
    // account's failures from everywhere only slow its sign-ins down: the owner still gets in.
    const refusing = [signinSubject.pair(account, ip), signinSubject.ip(ip)];
    await signins.check(refusing);
    await signins.pace(signinSubject.account(account));
    if (!(await passwords.verify(user?.id ?? null, body.password)) || !user) {
      await signins.fail([...refusing, signinSubject.account(account)]);
      throw new AppError("UNAUTHORIZED", "Wrong username or password");
    }
    await signins.succeed([signinSubject.pair(account, ip), signinSubject.account(account)]);
    return c.json(await openSession(c, user, "password"));
  })
  .post("/logout", async (c) => {
    const p = await sessionPrincipal(c).catch(() => null);
    if (p) await c.var.services.sessions.revoke(p.user.id, p.session.id);
    clearSessionCookie(c, siteOf(c));
    return c.json({ success: true });
  })
  .post("/setup", async (c) => {
    checkSameOrigin(c, siteOf(c));
    const body = parse(Setup, await jsonBody(c.req.raw));
    const { sessions, passwords, signins } = c.var.services;
    // Its own count: password failures from this address do not hold a one-time link back.
    const subject = signinSubject.setup(clientIp(c));
    await signins.check([subject]);
    if (!(await sessions.setupTokenValid(body.token))) {
      await signins.fail([subject]);
      throw new AppError(
        "FORBIDDEN",
        "This setup link is used up or expired: ask the operator for a new one (imgd users passwd NAME --link)",
      );
    }
    // Rules first, so a too-short password does not use the link up.
    checkPasswordRules(body.password);
    const user = await sessions.consumeSetupToken(body.token);
    await passwords.set(user.id, body.password);
    await sessions.revokeOthers(user.id, null);
    return c.json(await openSession(c, user, "setup"));
  })
  .post("/signup", async (c) => {
    const { config, users, passwords, rates, accounts } = c.var.services;
    if (config.registration !== "open")
      throw new AppError("FORBIDDEN", "This server does not accept sign-ups: ask its operator for an account");
    checkSameOrigin(c, siteOf(c));
    const body = parse(Signup, await jsonBody(c.req.raw));
    const email = body.email ? normalizeEmail(body.email) : null;
    if (body.email && !email) throw invalid("email", "is not a valid email address");
    checkPasswordRules(body.password);
    await rates.take(
      [
        {
          subject: `signup-ip:${clientIp(c)}`,
          limit: SIGNUP_PER_IP_HOUR,
          windowMs: HOUR,
          label: `${SIGNUP_PER_IP_HOUR} per IP address per hour`,
        },
      ],
      "sign-ups",
    );
    if (email && (await passwords.userByLogin(email))) {
      throw new AppError("CONFLICT", "email: an account with this address exists; sign in instead", { field: "email" });
    }
    const taken = await users.taken(body.username);
    if (taken)
      throw new AppError(
        "CONFLICT",
        taken === "in-use"
          ? "username: is taken, choose another"
          : "username: belonged to a deleted account and is never given again, choose another",
        { field: "username" },
      );
    // The address is the account's only once the link sent for it is opened (no squatting).
    let user = await users.create({ username: body.username, email: null, plan: "free" });
    user = await users.update(user.id, { verified: 0 });
    await passwords.set(user.id, body.password);
    if (email) sendEmailLink(c, email, await accounts.claimEmail(user.id, email));
    return c.json(await openSession(c, user, "signup"), 201);
  })
  // The link sent for an address given at open registration: it makes the address the account's.
  .get("/email/confirm", async (c) => {
    const { token } = parse(ConfirmEmailQuery, c.req.query(), "query");
    const user = await c.var.services.accounts.confirmEmail(token);
    return c.json({ user: whoami(user), message: `${user.email} is now this account's address` });
  })
  .use("/sessions/*", requireKey())
  .use("/sessions", requireKey())
  .get("/sessions", async (c) => {
    const p = c.var.principal;
    const current = p.key.id.startsWith("session:") ? p.key.id.slice(8) : null;
    const list = await c.var.services.sessions.list(p.user.id);
    return c.json({
      sessions: list.map((s) => ({
        id: s.id,
        method: s.method,
        user_agent: s.user_agent,
        ip: s.ip,
        created_at: unix(s.created_at),
        last_seen_at: unix(s.last_seen_at),
        expires_at: unix(s.expires_at),
        current: s.id === current,
      })),
    });
  })
  .delete("/sessions/:id", async (c) => {
    if (!(await c.var.services.sessions.revoke(c.var.principal.user.id, c.req.param("id"))))
      throw new AppError("NOT_FOUND", "Session not found");
    return c.json({ success: true });
  })
  // Only a signed-in person who knows the current password changes it: a leaked key must not
  // turn into a password that outlives the key. Accounts without one get a setup link
  // (imgd users passwd NAME --link).
  .post("/password", async (c) => {
    const p = await sessionPrincipal(c);
    if (!p || c.req.header("authorization") !== undefined)
      throw new AppError("FORBIDDEN", "Change the password from a signed-in dashboard session, not with an API key");
    const body = parse(ChangePassword, await jsonBody(c.req.raw));
    const { passwords, sessions, signins } = c.var.services;
    const subject = signinSubject.change(p.user.id);
    await signins.check([subject]);
    if (!(await passwords.has(p.user.id)))
      throw new AppError(
        "FORBIDDEN",
        "This account has no password yet: ask the operator for a setup link (imgd users passwd NAME --link)",
      );
    if (!(await passwords.verify(p.user.id, body.current_password))) {
      await signins.fail([subject]);
      throw new AppError("FORBIDDEN", "current_password: is wrong", { field: "current_password" });
    }
    await passwords.set(p.user.id, body.new_password);
    await sessions.revokeOthers(p.user.id, p.session.id);
    return c.json({ success: true });
  });
