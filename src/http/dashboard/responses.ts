import * as v from "valibot";

// The /auth answers (the dashboard's session API) as valibot schemas, for the API document.

const unix = v.pipe(v.number(), v.integer(), v.description("Unix seconds"));

export const Whoami = v.object({
  id: v.string(),
  username: v.string(),
  email: v.nullable(v.string()),
  role: v.string(),
  plan: v.string(),
  verified: v.boolean(),
  theme: v.nullable(v.string()),
  language: v.nullable(v.string()),
});

export const SessionOpened = v.object({
  user: Whoami,
  csrf_token: v.pipe(v.string(), v.description("Send as X-CSRF-Token on every state-changing request")),
  scopes: v.array(v.string()),
});

export const Session = v.object({
  ...SessionOpened.entries,
  method: v.string(),
  has_password: v.boolean(),
});

export const SessionList = v.object({
  sessions: v.array(
    v.object({
      id: v.string(),
      method: v.string(),
      user_agent: v.nullable(v.string()),
      ip: v.nullable(v.string()),
      created_at: unix,
      last_seen_at: unix,
      expires_at: unix,
      current: v.boolean(),
    }),
  ),
});

export const AuthConfig = v.object({ registration: v.string() });
export const Done = v.object({ success: v.boolean() });
export const EmailConfirmed = v.object({ user: Whoami, message: v.string() });
