import { useEffect, useState } from "preact/hooks";
import { del, get, post, put } from "../api.ts";
import { LANGUAGES, t } from "../i18n.ts";
import { applyTheme, me } from "../session.ts";
import { ErrorNote, html, Loading, Page, useLoad, when } from "../ui.ts";

const ALL_FORMATS = ["avif", "webp", "jpeg", "png", "jxl"];

export function SettingsPage() {
  const settings = useLoad(() => get("/api/v1/settings").then((r) => r.settings), []);
  const [formats, setFormats] = useState<string[]>([]);
  const [error, setError] = useState<Error | null>(null);
  const [saved, setSaved] = useState(false);
  useEffect(() => {
    if (settings.data) setFormats(settings.data.delivery_formats);
  }, [settings.data]);

  const move = (i: number, by: number) => {
    const next = [...formats];
    const [f] = next.splice(i, 1);
    next.splice(i + by, 0, f);
    setFormats(next);
  };
  const toggle = (f: string) => setFormats(formats.includes(f) ? formats.filter((x) => x !== f) : [...formats, f]);
  const save = async (e: SubmitEvent) => {
    e.preventDefault();
    const f = new FormData(e.target as HTMLFormElement);
    setError(null);
    setSaved(false);
    try {
      const r = await put("/api/v1/settings", {
        default_quality: Number(f.get("quality")),
        default_fit_mode: String(f.get("fit")),
        delivery_formats: formats,
        theme: String(f.get("theme")),
        language: String(f.get("language")),
      });
      applyTheme(r.settings.theme);
      const user = me.get();
      if (user) me.set({ ...user, theme: r.settings.theme, language: r.settings.language });
      setSaved(true);
    } catch (err) {
      setError(err as Error);
    }
  };
  const s = settings.data;
  return html`<${Page} title=${t("settings.title")}>
    <${ErrorNote} error=${error || settings.error} />
    ${!s
      ? html`<${Loading} />`
      : html`<form class="card stack" onSubmit=${save}>
          <h2>${t("settings.delivery")}</h2>
          <div class="grid-form">
            <div class="field"><label for="s-q">${t("settings.quality")}</label><input id="s-q" name="quality" type="number" min="1" max="100" value=${s.default_quality} required /></div>
            <div class="field"><label for="s-fit">${t("settings.fit")}</label><select id="s-fit" name="fit" value=${s.default_fit_mode}>${["contain", "cover", "fill", "scale-down"].map((f) => html`<option value=${f}>${f}</option>`)}</select></div>
          </div>
          <fieldset><legend>${t("settings.formats")}</legend>
            <p class="muted small">${t("settings.formatsHint")}</p>
            <ol class="formats">${formats.map(
              (f, i) => html`<li><span>${f}</span>
                <button type="button" class="small" disabled=${i === 0} onClick=${() => move(i, -1)} aria-label=${t("settings.up", { f })}>↑</button>
                <button type="button" class="small" disabled=${i === formats.length - 1} onClick=${() => move(i, 1)} aria-label=${t("settings.down", { f })}>↓</button>
                <button type="button" class="small" disabled=${formats.length === 1} onClick=${() => toggle(f)} aria-label=${t("settings.remove", { f })}>✕</button></li>`,
            )}</ol>
            ${ALL_FORMATS.filter((f) => !formats.includes(f)).map((f) => html`<button type="button" class="small" onClick=${() => toggle(f)}>+ ${f}</button> `)}
          </fieldset>
          <h2>${t("settings.appearance")}</h2>
          <div class="grid-form">
            <div class="field"><label for="s-theme">${t("settings.theme")}</label><select id="s-theme" name="theme" value=${["light", "dark"].includes(s.theme) ? s.theme : "system"}>
              <option value="system">${t("settings.system")}</option><option value="light">${t("settings.light")}</option><option value="dark">${t("settings.dark")}</option></select></div>
            <div class="field"><label for="s-lang">${t("settings.language")}</label><select id="s-lang" name="language" value=${s.language}>${Object.entries(LANGUAGES).map(([code, name]) => html`<option value=${code}>${name}</option>`)}</select></div>
          </div>
          <div class="row"><button type="submit" class="primary">${t("common.save")}</button>${saved && html`<span role="status" class="success-text">${t("settings.saved")}</span>`}</div>
        </form>`}
    <${Account} />
  <//>`;
}

function Account() {
  const sessions = useLoad(() => get("/auth/sessions").then((r) => r.sessions as any[]), []);
  const [error, setError] = useState<Error | null>(null);
  const [done, setDone] = useState("");
  const change = async (e: SubmitEvent) => {
    e.preventDefault();
    const form = e.target as HTMLFormElement;
    const f = new FormData(form);
    setError(null);
    setDone("");
    if (f.get("new") !== f.get("again")) return setError(new Error(t("setup.mismatch")));
    try {
      await post("/auth/password", { current_password: String(f.get("current") ?? ""), new_password: String(f.get("new")) });
      form.reset();
      setDone(t("account.changed"));
      sessions.reload();
    } catch (err) {
      setError(err as Error);
    }
  };
  const revoke = async (id: string) => {
    try {
      await del(`/auth/sessions/${id}`);
      sessions.reload();
    } catch (err) {
      setError(err as Error);
    }
  };
  return html`<section class="card stack" aria-labelledby="account-title">
    <h2 id="account-title">${t("account.title")}</h2>
    <${ErrorNote} error=${error} />
    <form class="grid-form" onSubmit=${change}>
      <div class="field"><label for="a-cur">${t("account.current")}</label><input id="a-cur" name="current" type="password" autocomplete="current-password" required /></div>
      <div class="field"><label for="a-new">${t("account.new")}</label><input id="a-new" name="new" type="password" autocomplete="new-password" minlength="10" required /></div>
      <div class="field"><label for="a-again">${t("setup.confirm")}</label><input id="a-again" name="again" type="password" autocomplete="new-password" minlength="10" required /></div>
      <div class="field end"><button type="submit">${t("account.change")}</button></div>
    </form>
    ${done && html`<p class="notice success" role="status">${done}</p>`}
    <h3>${t("account.sessions")}</h3>
    ${!sessions.data
      ? html`<${Loading} />`
      : html`<div class="table-wrap"><table><thead><tr><th scope="col">${t("account.device")}</th><th scope="col">${t("account.how")}</th><th scope="col">${t("account.lastSeen")}</th><th scope="col"><span class="visually-hidden">${t("common.actions")}</span></th></tr></thead>
          <tbody>${sessions.data.map(
            (s) => html`<tr><td>${s.user_agent ?? "–"}${s.ip ? html`<br /><span class="muted small">${s.ip}</span>` : ""}</td><td>${s.method}</td><td>${when(s.last_seen_at)}</td>
              <td>${s.current ? html`<span class="muted">${t("account.thisOne")}</span>` : html`<button type="button" class="small danger" onClick=${() => revoke(s.id)}>${t("account.signOutSession")}</button>`}</td></tr>`,
          )}</tbody></table></div>`}
  </section>`;
}
