import { Hono } from "hono";
import * as v from "valibot";
import type { User } from "../../domain/records.ts";
import { USERNAME } from "../../domain/accounts/accounts.ts";
import { AppError, invalid } from "../../domain/errors.ts";
import type { Plans } from "../../domain/metering/plans.ts";
import type { RouteEnv } from "../env.ts";
import { jsonBody, parse } from "../validate.ts";
import { unix } from "./shape.ts";

/** The services these routes use. */
type Env = RouteEnv<"accounts" | "delivery" | "plans" | "users">;

// /api/v1/admin/users: the operator's view of tenants. Admin keys only.

// Plans come from each server's config, so the name is checked against it in the handler.
const plan = v.pipe(v.string("must be a plan name"), v.trim(), v.minLength(1, "must be a plan name"));

function checkPlan(plans: Plans, name: string | undefined) {
  if (name !== undefined && !plans.has(name)) {
    throw invalid("plan", `must be one of ${plans.names().join(", ")}`);
  }
}

export const CreateUser = v.strictObject({
  username: v.pipe(v.string("is required"), v.regex(USERNAME, "must be 2–39 lowercase letters, digits, '-' or '_'")),
  email: v.optional(v.nullable(v.pipe(v.string(), v.trim(), v.toLowerCase(), v.email("must be an email address")))),
  plan: v.optional(plan),
  verified: v.optional(v.boolean("must be true or false")),
});

export const UpdateUser = v.strictObject({
  plan: v.optional(plan),
  verified: v.optional(v.boolean("must be true or false")),
  email: v.optional(v.nullable(v.pipe(v.string(), v.trim(), v.toLowerCase(), v.email("must be an email address")))),
});

export const userItem = (u: User) => ({
  id: u.id,
  username: u.username,
  email: u.email,
  role: u.role,
  plan: u.plan,
  verified: !!u.verified,
  created_at: unix(u.created_at),
});

export const adminRoutes = new Hono<Env>()
  .use(async (c, next) => {
    if (c.var.principal.user.role !== "admin") throw new AppError("FORBIDDEN", "Only admin keys may manage users");
    await next();
  })
  .get("/", async (c) => {
    const users = await c.var.services.accounts.list();
    return c.json({ users: users.map(userItem), total: users.length });
  })
  .post("/", async (c) => {
    const body = parse(CreateUser, await jsonBody(c.req.raw));
    const { users } = c.var.services;
    checkPlan(c.var.services.plans, body.plan);
    if (await users.byUsername(body.username))
      throw new AppError("CONFLICT", `A user named '${body.username}' exists already`, { field: "username" });
    let user = await users.create({ username: body.username, email: body.email ?? null, plan: body.plan });
    if (body.verified === false) user = await users.update(user.id, { verified: 0 });
    return c.json(userItem(user), 201);
  })
  .get("/:ref", async (c) => c.json(userItem(await c.var.services.accounts.find(c.req.param("ref")))))
  .patch("/:ref", async (c) => {
    const body = parse(UpdateUser, await jsonBody(c.req.raw));
    const { accounts, users, delivery } = c.var.services;
    checkPlan(c.var.services.plans, body.plan);
    const u = await accounts.find(c.req.param("ref"));
    const changes: Parameters<typeof users.update>[1] = {};
    if (body.plan !== undefined) changes.plan = body.plan;
    if (body.verified !== undefined) changes.verified = body.verified ? 1 : 0;
    if (body.email !== undefined) changes.email = body.email;
    const updated = await users.update(u.id, changes);
    delivery.forgetUser(u.id);
    return c.json(userItem(updated));
  })
  .delete("/:ref", async (c) => {
    const u = await c.var.services.accounts.delete(c.req.param("ref"));
    c.var.services.delivery.forgetUser(u.id);
    return c.json({ success: true, message: `User '${u.username}' deleted`, id: u.id });
  });
