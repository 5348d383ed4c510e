import { ChangePassword, ConfirmEmailQuery, Login, Setup, Signup } from "../dashboard/account.ts";
import * as r from "../dashboard/responses.ts";
import { NativeError } from "../native/responses.ts";
import type { Answer, Op } from "./describe.ts";

// /auth/…: the dashboard's sessions (a cookie plus a CSRF token), and AssetsRepo's one route.

const error: Answer = { description: "An error, in the native envelope", json: NativeError };
const session = ["sessionCookie"] as const;
const cookie = { "Set-Cookie": "imgd_session: HttpOnly, SameSite=Lax" };

export const dashboardOps: Op[] = [
  {
    method: "get",
    path: "/auth/config",
    tag: "dashboard",
    operationId: "authConfig",
    summary: "Whether sign-up is open",
    responses: { 200: { description: "Registration mode", json: r.AuthConfig } },
  },
  {
    method: "get",
    path: "/auth/session",
    tag: "dashboard",
    operationId: "getSession",
    summary: "The signed-in user and the session's CSRF token",
    security: [...session],
    responses: { 200: { description: "The session", json: r.Session }, default: error },
  },
  {
    method: "post",
    path: "/auth/login",
    tag: "dashboard",
    operationId: "login",
    summary: "Sign in with a username and password, or an API key",
    body: { kind: "json", schema: Login, required: true },
    responses: { 200: { description: "Signed in", json: r.SessionOpened, headers: cookie }, default: error },
  },
  {
    method: "post",
    path: "/auth/logout",
    tag: "dashboard",
    operationId: "logout",
    summary: "Sign out (ends this session)",
    security: [...session],
    responses: { 200: { description: "Signed out", json: r.Done }, default: error },
  },
  {
    method: "post",
    path: "/auth/setup",
    tag: "dashboard",
    operationId: "setup",
    summary: "First start: set the admin's password with the token the server printed",
    body: { kind: "json", schema: Setup, required: true },
    responses: { 200: { description: "Signed in as admin", json: r.SessionOpened, headers: cookie }, default: error },
  },
  {
    method: "post",
    path: "/auth/signup",
    tag: "dashboard",
    operationId: "signup",
    summary: "Create an account (where registration is open)",
    body: { kind: "json", schema: Signup, required: true },
    responses: { 201: { description: "Signed in", json: r.SessionOpened, headers: cookie }, default: error },
  },
  {
    method: "get",
    path: "/auth/email/confirm",
    tag: "dashboard",
    operationId: "confirmEmail",
    summary: "Open registration: the one-time link (printed to the server's log) that makes an address its account's",
    description:
      "An address given to POST /v1/keys or /auth/signup belongs to nobody until this link is opened; 409 when another account confirmed it first.",
    query: ConfirmEmailQuery,
    responses: { 200: { description: "Confirmed", json: r.EmailConfirmed }, default: error },
  },
  {
    method: "get",
    path: "/auth/sessions",
    tag: "dashboard",
    operationId: "listSessions",
    summary: "Your open sessions",
    security: ["sessionCookie", "bearerKey"],
    responses: { 200: { description: "Sessions", json: r.SessionList }, default: error },
  },
  {
    method: "delete",
    path: "/auth/sessions/{id}",
    tag: "dashboard",
    operationId: "endSession",
    summary: "End one of your sessions",
    security: ["sessionCookie", "bearerKey"],
    params: { id: "The session's id" },
    responses: { 200: { description: "Ended", json: r.Done }, default: error },
  },
  {
    method: "post",
    path: "/auth/password",
    tag: "dashboard",
    operationId: "changePassword",
    summary: "Change your password (ends your other sessions)",
    security: ["sessionCookie", "bearerKey"],
    body: { kind: "json", schema: ChangePassword, required: true },
    responses: { 200: { description: "Changed", json: r.Done }, default: error },
  },
];

export const assetsrepoOps: Op[] = (["get", "head"] as const).map((method) => ({
  method,
  path: "/api/images/{path}",
  route: "/api/images/*",
  tag: "AssetsRepo",
  operationId: method === "get" ? "assetsrepoImage" : "assetsrepoImageHead",
  summary: "Your image at a path, with a Bearer key; each view counts against the plan's monthly views",
  description: "Native URL options (w, h, fit, q, format) apply. A key in the query string is refused.",
  security: ["bearerKey"],
  params: { path: "The image's path, e.g. illustrations/hero.png" },
  responses: {
    200: { description: "The image", media: "image/*" },
    304: { description: "Not modified" },
    default: {
      description: "An error: native envelope; VIEW_LIMIT_EXCEEDED (429) when the views are used up",
      json: NativeError,
    },
  },
}));
