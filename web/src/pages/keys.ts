import { useState } from "preact/hooks";
import { del, get, post } from "../api.ts";
import { t } from "../i18n.ts";
import { CopyField, ErrorNote, html, Loading, Page, useLoad, when } from "../ui.ts";

// API keys: created with name, scopes and expiry; the secret is shown once; revoke, and
// AssetsRepo's "regenerate" (a new secret with the same name, scopes and remaining expiry, the
// old one revoked in the same step).

interface Key {
  id: string;
  name: string;
  key_prefix: string;
  scopes: string;
  created_at: number;
  last_used_at: number | null;
  expires_at: number | null;
  total_requests: number;
}

export function KeysPage() {
  const keys = useLoad(() => get("/api/v1/settings/api-keys").then((r) => r.api_keys as Key[]), []);
  const [secret, setSecret] = useState<{ name: string; key: string } | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);

  const create = async (e: SubmitEvent) => {
    e.preventDefault();
    const form = e.target as HTMLFormElement;
    const f = new FormData(form);
    const scopes = f.getAll("scopes").map(String);
    const days = Number(f.get("expiry"));
    setBusy(true);
    setError(null);
    try {
      // No expiry chosen: left out, so a session opened with an expiring key gets a key that
      // ends with it (asking for "never" would be refused) and a password session one that never does.
      const r = await post("/api/v1/settings/api-keys", {
        name: String(f.get("name")),
        scopes,
        ...(days ? { expires_in_days: days } : {}),
      });
      setSecret({ name: r.name, key: r.key });
      form.reset();
      keys.reload();
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  };
  const revoke = async (k: Key) => {
    if (!confirm(t("keys.confirmRevoke", { name: k.name }))) return;
    try {
      await del(`/api/v1/settings/api-keys/${k.id}`);
      keys.reload();
    } catch (err) {
      setError(err as Error);
    }
  };
  const regenerate = async (k: Key) => {
    if (!confirm(t("keys.confirmRegenerate", { name: k.name }))) return;
    try {
      const days = k.expires_at ? Math.max(1, Math.min(365, Math.ceil((k.expires_at * 1000 - Date.now()) / 86_400_000))) : null;
      const r = await post("/api/v1/settings/api-keys", {
        name: k.name,
        scopes: k.scopes.split(","),
        ...(days ? { expires_in_days: days } : {}),
      });
      await del(`/api/v1/settings/api-keys/${k.id}`);
      setSecret({ name: r.name, key: r.key });
      keys.reload();
    } catch (err) {
      setError(err as Error);
    }
  };

  return html`<${Page} title=${t("keys.title")}>
    <section class="card" aria-labelledby="new-key">
      <h2 id="new-key">${t("keys.create")}</h2>
      <form class="grid-form" onSubmit=${create}>
        <div class="field"><label for="k-name">${t("keys.name")}</label><input id="k-name" name="name" required maxlength="100" /></div>
        <fieldset class="field"><legend>${t("keys.scopes")}</legend>
          <label class="check"><input type="checkbox" name="scopes" value="read" checked /> read</label>
          <label class="check"><input type="checkbox" name="scopes" value="write" checked /> write</label>
        </fieldset>
        <div class="field"><label for="k-exp">${t("keys.expiry")}</label>
          <select id="k-exp" name="expiry"><option value="0">${t("keys.never")}</option><option value="7">7 ${t("keys.days")}</option><option value="30">30 ${t("keys.days")}</option><option value="90">90 ${t("keys.days")}</option><option value="365">365 ${t("keys.days")}</option></select></div>
        <div class="field end"><button type="submit" class="primary" disabled=${busy}>${t("keys.createButton")}</button></div>
      </form>
      ${secret &&
      html`<div class="notice success" role="status">
        <p><strong>${t("keys.shownOnce", { name: secret.name })}</strong></p>
        <${CopyField} id="new-secret" label=${t("keys.secret")} value=${secret.key} />
        <button type="button" class="small" onClick=${() => setSecret(null)}>${t("keys.stored")}</button>
      </div>`}
    </section>
    <${ErrorNote} error=${error || keys.error} />
    ${!keys.data
      ? html`<${Loading} />`
      : keys.data.length === 0
        ? html`<p class="empty">${t("keys.empty")}</p>`
        : html`<div class="table-wrap"><table>
            <caption class="visually-hidden">${t("keys.title")}</caption>
            <thead><tr><th scope="col">${t("keys.name")}</th><th scope="col">${t("keys.prefix")}</th><th scope="col">${t("keys.scopes")}</th><th scope="col">${t("keys.lastUsed")}</th><th scope="col">${t("keys.requests")}</th><th scope="col">${t("keys.expires")}</th><th scope="col"><span class="visually-hidden">${t("common.actions")}</span></th></tr></thead>
            <tbody>${keys.data.map(
              (k) => html`<tr data-key=${k.id}>
                <td>${k.name}</td><td class="mono">${k.key_prefix}…</td><td>${k.scopes}</td><td>${when(k.last_used_at)}</td><td>${k.total_requests}</td><td>${k.expires_at ? when(k.expires_at) : t("keys.never")}</td>
                <td class="row"><button type="button" class="small" onClick=${() => regenerate(k)} aria-label=${t("keys.regenerateNamed", { name: k.name })}>${t("keys.regenerate")}</button>
                <button type="button" class="small danger" onClick=${() => revoke(k)} aria-label=${t("keys.revokeNamed", { name: k.name })}>${t("keys.revoke")}</button></td>
              </tr>`,
            )}</tbody>
          </table></div>`}
  <//>`;
}
