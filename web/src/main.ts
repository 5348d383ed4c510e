import { render } from "preact";
import { useEffect } from "preact/hooks";
import { BASE, get, post, whenSignedOut } from "./api.ts";
import { t } from "./i18n.ts";
import { me, signedIn, signedOut, applyTheme } from "./session.ts";
import { html, Link, navigate, usePath } from "./ui.ts";
import { LoginPage, SetupPage, SignupPage } from "./pages/signin.ts";
import { LibraryPage } from "./pages/library.ts";
import { ImagePage } from "./pages/image.ts";
import { KeysPage } from "./pages/keys.ts";
import { PresetsPage } from "./pages/presets.ts";
import { WebhooksPage } from "./pages/webhooks.ts";
import { SettingsPage } from "./pages/settings.ts";
import { UsagePage } from "./pages/usage.ts";
import { UploadersPage } from "./pages/uploaders.ts";
import { AdminPage } from "./pages/admin.ts";
import { ImgwirePage } from "./pages/imgwire.ts";

const PUBLIC: Record<string, (p: { rest: string }) => unknown> = { login: LoginPage, setup: SetupPage, signup: SignupPage };
const PRIVATE: Record<string, (p: { rest: string }) => unknown> = {
  library: LibraryPage,
  upload: LibraryPage,
  image: ImagePage,
  keys: KeysPage,
  presets: PresetsPage,
  webhooks: WebhooksPage,
  settings: SettingsPage,
  account: SettingsPage,
  usage: UsagePage,
  uploaders: UploadersPage,
  // Not /imgwire: that is the Imgwire API's mount.
  environments: ImgwirePage,
  admin: AdminPage,
};

const NAV: [string, () => string][] = [
  ["library", () => t("nav.library")],
  ["keys", () => t("nav.keys")],
  ["presets", () => t("nav.presets")],
  ["webhooks", () => t("nav.webhooks")],
  ["usage", () => t("nav.usage")],
  ["uploaders", () => t("nav.uploaders")],
  ["environments", () => t("nav.imgwire")],
  ["settings", () => t("nav.settings")],
];

function Shell({ section, children }: { section: string; children: unknown }) {
  const user = me.use();
  const signOut = async () => {
    await post("/auth/logout").catch(() => {});
    signedOut();
    navigate("/login", true);
  };
  const items = user?.role === "admin" ? [...NAV, ["admin", () => t("nav.admin")] as [string, () => string]] : NAV;
  return html`<div class="shell">
    <a class="skip" href="#main">${t("nav.skip")}</a>
    <header class="top">
      <${Link} href="/library" class="brand">imgd<//>
      <nav aria-label=${t("nav.label")}>
        <ul>
          ${items.map(([p, label]) => html`<li><${Link} href=${`/${p}`} aria-current=${section === p ? "page" : undefined}>${label()}<//></li>`)}
        </ul>
      </nav>
      <div class="who">
        <a href=${`${BASE}/docs`} class="small">${t("nav.docs")}</a>
        <span class="muted" title=${t("nav.signedInAs")}>${user?.username}</span>
        <button type="button" class="small" onClick=${signOut}>${t("nav.signOut")}</button>
      </div>
    </header>
    <main id="main">${children}</main>
  </div>`;
}

function App() {
  const path = usePath();
  const user = me.use();
  const [, section = "", ...rest] = path.split("/");
  useEffect(() => {
    get("/auth/session").then(signedIn, () => signedOut());
    whenSignedOut(() => {
      signedOut();
      const here = location.pathname + location.search;
      navigate(`/login?next=${encodeURIComponent(here)}`, true);
    });
  }, []);
  useEffect(() => {
    if (user === null && !PUBLIC[section]) navigate(`/login?next=${encodeURIComponent(path)}`, true);
    else if (user && (section === "" || section === "login")) navigate(new URLSearchParams(location.search).get("next")?.replace(/^(?!\/)/, "/") ?? "/library", true);
  }, [user, section]);
  // Focus the new page's title after navigation, for screen readers and keyboard users.
  useEffect(() => {
    (document.getElementById("page-title") as HTMLElement | null)?.focus({ preventScroll: true });
  }, [path, user === undefined]);

  const Public = PUBLIC[section];
  if (Public) return html`<main id="main" class="bare"><${Public} rest=${rest.join("/")} /></main>`;
  if (user === undefined) return html`<main id="main" class="bare"><p class="muted" role="status">${t("common.loading")}</p></main>`;
  if (user === null) return null;
  const Private = PRIVATE[section];
  return html`<${Shell} section=${section === "upload" ? "library" : section === "account" ? "settings" : section}>
    ${Private ? html`<${Private} rest=${rest.join("/")} />` : html`<section class="page"><h1 id="page-title" tabindex="-1">${t("common.notFound")}</h1><p><${Link} href="/library">${t("nav.library")}<//></p></section>`}
  <//>`;
}

try {
  applyTheme(localStorage.getItem("imgd-theme") ?? "system");
} catch {
  applyTheme("system");
}
render(html`<${App} />`, document.getElementById("app")!);
