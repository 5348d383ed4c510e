import { useState } from "preact/hooks";
import { ApiError, get, post } from "../api.ts";
import { t } from "../i18n.ts";
import { signedIn } from "../session.ts";
import { html, Link, navigate, useLoad, useTitle } from "../ui.ts";

function nextPath(): string {
  const next = new URLSearchParams(location.search).get("next");
  return next && next.startsWith("/") && !next.startsWith("//") ? next : "/library";
}

function explain(err: unknown): string {
  if (err instanceof ApiError && err.status === 429 && err.retryAfter) return t("signin.backoff", { s: err.retryAfter });
  return err instanceof Error ? err.message : String(err);
}

/** A sign-in form's submit: busy while `run` goes; its failure, explained, is the form's error. */
function useFormSubmit(run: (form: FormData) => Promise<void>) {
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    const f = new FormData(e.target as HTMLFormElement);
    setBusy(true);
    setError("");
    try {
      await run(f);
    } catch (err) {
      setError(explain(err));
    } finally {
      setBusy(false);
    }
  };
  return { error, busy, submit };
}

function Card({ title, children }: { title: string; children: unknown }) {
  useTitle(title);
  return html`<div class="card narrow"><div class="brand big" aria-hidden="true">imgd</div><h1 id="page-title" tabindex="-1">${title}</h1>${children}</div>`;
}

export function LoginPage() {
  const [withKey, setWithKey] = useState(false);
  const registration = useLoad(() => get("/auth/config"), []).data?.registration ?? "closed";
  const { error, busy, submit } = useFormSubmit(async (f) => {
    const body = withKey ? { api_key: String(f.get("api_key")) } : { username: String(f.get("username")), password: String(f.get("password")) };
    signedIn(await post("/auth/login", body));
    navigate(nextPath(), true);
  });
  return html`<${Card} title=${t("signin.title")}>
    <form onSubmit=${submit} class="stack">
      ${withKey
        ? html`<div class="field"><label for="api_key">${t("signin.apiKey")}</label><input id="api_key" name="api_key" type="password" autocomplete="off" required /></div>`
        : html`<div class="field"><label for="username">${t("signin.username")}</label><input id="username" name="username" autocomplete="username" required autofocus /></div>
            <div class="field"><label for="password">${t("signin.password")}</label><input id="password" name="password" type="password" autocomplete="current-password" required /></div>`}
      ${error && html`<p class="notice error" role="alert">${error}</p>`}
      <button type="submit" class="primary" disabled=${busy}>${busy ? t("signin.busy") : t("signin.submit")}</button>
      <button type="button" class="link" onClick=${() => setWithKey(!withKey)}>${withKey ? t("signin.withPassword") : t("signin.withKey")}</button>
      ${registration === "open" && html`<p><${Link} href="/signup">${t("signin.toSignup")}<//></p>`}
      <p class="muted small">${t("signin.firstTime")}</p>
    </form>
  <//>`;
}

export function SetupPage() {
  const token = location.hash.slice(1);
  const { error, busy, submit } = useFormSubmit(async (f) => {
    if (f.get("password") !== f.get("confirm")) throw new Error(t("setup.mismatch"));
    signedIn(await post("/auth/setup", { token, password: String(f.get("password")) }));
    history.replaceState(null, "", location.pathname);
    navigate("/library", true);
  });
  return html`<${Card} title=${t("setup.title")}>
    ${!token
      ? html`<p class="notice error" role="alert">${t("setup.noToken")}</p>`
      : html`<form onSubmit=${submit} class="stack">
          <p>${t("setup.intro")}</p>
          <div class="field"><label for="password">${t("setup.password")}</label><input id="password" name="password" type="password" autocomplete="new-password" minlength="10" required aria-describedby="pw-hint" /><small id="pw-hint" class="muted">${t("setup.hint")}</small></div>
          <div class="field"><label for="confirm">${t("setup.confirm")}</label><input id="confirm" name="confirm" type="password" autocomplete="new-password" minlength="10" required /></div>
          ${error && html`<p class="notice error" role="alert">${error}</p>`}
          <button type="submit" class="primary" disabled=${busy}>${t("setup.submit")}</button>
        </form>`}
  <//>`;
}

export function SignupPage() {
  const config = useLoad(() => get("/auth/config"), []);
  const open = config.loading ? null : config.data?.registration === "open";
  const { error, busy, submit } = useFormSubmit(async (f) => {
    signedIn(await post("/auth/signup", { username: String(f.get("username")), email: String(f.get("email") || "") || null, password: String(f.get("password")) }));
    navigate("/library", true);
  });
  return html`<${Card} title=${t("signup.title")}>
    ${open === false
      ? html`<p class="notice">${t("signup.closed")}</p><p><${Link} href="/login">${t("signup.toSignin")}<//></p>`
      : html`<form onSubmit=${submit} class="stack">
          <p>${t("signup.intro")}</p>
          <div class="field"><label for="username">${t("signin.username")}</label><input id="username" name="username" autocomplete="username" pattern="[a-z0-9][a-z0-9_\\-]{1,38}" required aria-describedby="user-hint" /><small id="user-hint" class="muted">${t("signup.userHint")}</small></div>
          <div class="field"><label for="email">${t("signup.email")}</label><input id="email" name="email" type="email" autocomplete="email" /></div>
          <div class="field"><label for="password">${t("setup.password")}</label><input id="password" name="password" type="password" autocomplete="new-password" minlength="10" required /></div>
          ${error && html`<p class="notice error" role="alert">${error}</p>`}
          <button type="submit" class="primary" disabled=${busy}>${t("signup.submit")}</button>
          <p><${Link} href="/login">${t("signup.toSignin")}<//></p>
        </form>`}
  <//>`;
}
