import { useState } from "preact/hooks";
import { del, get, post } from "../api.ts";
import { t } from "../i18n.ts";
import { CopyField, ErrorNote, html, Loading, Page, useLoad, when } from "../ui.ts";

// Webhooks: endpoints (the secret shown once, at creation), and an endpoint's recent
// deliveries with their status, attempts and last error; a delivered or given-up one can be
// sent again.

const EVENTS = ["image.created", "image.updated", "image.deleted", "image.visibility_changed", "variant.purged", "quota.warning"];

interface Hook {
  id: string;
  url: string;
  events: string[];
  created_at: number;
}

interface Delivery {
  id: string;
  type: string;
  status: "pending" | "delivered" | "failed";
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  created_at: number;
  next_attempt_at: number | null;
  event: { data: { id: string; path?: string } };
}

export function WebhooksPage() {
  const hooks = useLoad(() => get("/api/v1/webhooks").then((r) => r.webhooks as Hook[]), []);
  const [shown, setShown] = useState<string | null>(null);
  const [secret, setSecret] = useState<{ url: string; secret: string } | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);

  const create = async (e: SubmitEvent) => {
    e.preventDefault();
    const form = e.target as HTMLFormElement;
    const f = new FormData(form);
    setBusy(true);
    setError(null);
    try {
      const r = await post("/api/v1/webhooks", { url: String(f.get("url")), events: f.getAll("events").map(String) });
      setSecret({ url: r.url, secret: r.secret });
      form.reset();
      hooks.reload();
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  };
  const remove = async (h: Hook) => {
    if (!confirm(t("webhooks.confirmDelete", { url: h.url }))) return;
    try {
      await del(`/api/v1/webhooks/${h.id}`);
      if (shown === h.id) setShown(null);
      hooks.reload();
    } catch (err) {
      setError(err as Error);
    }
  };

  return html`<${Page} title=${t("webhooks.title")}>
    <section class="card" aria-labelledby="new-hook">
      <h2 id="new-hook">${t("webhooks.create")}</h2>
      <form class="stack" onSubmit=${create}>
        <div class="field"><label for="w-url">${t("webhooks.url")}</label><input id="w-url" name="url" type="url" required maxlength="2000" /></div>
        <fieldset><legend>${t("webhooks.events")}</legend>
          ${EVENTS.map((e) => html`<label class="check"><input type="checkbox" name="events" value=${e} checked /> ${e}</label>`)}
        </fieldset>
        <div><button type="submit" class="primary" disabled=${busy}>${t("webhooks.createButton")}</button></div>
      </form>
      ${secret &&
      html`<div class="notice success" role="status">
        <p><strong>${t("webhooks.shownOnce", { url: secret.url })}</strong></p>
        <${CopyField} id="hook-secret" label=${t("webhooks.secret")} value=${secret.secret} />
        <button type="button" class="small" onClick=${() => setSecret(null)}>${t("keys.stored")}</button>
      </div>`}
    </section>
    <${ErrorNote} error=${error || hooks.error} />
    ${!hooks.data
      ? html`<${Loading} />`
      : hooks.data.length === 0
        ? html`<p class="empty">${t("webhooks.empty")}</p>`
        : html`<ul class="plain-list">${hooks.data.map(
            (h) => html`<li class=${shown === h.id ? "current" : ""} data-hook=${h.id}>
              <div><span class="mono">${h.url}</span><br /><span class="muted small">${h.events.join(", ")}</span></div>
              <div class="row"><button type="button" class="small" onClick=${() => setShown(shown === h.id ? null : h.id)} aria-expanded=${shown === h.id} aria-label=${t("webhooks.deliveriesOf", { url: h.url })}>${t("webhooks.deliveries")}</button>
              <button type="button" class="small danger" onClick=${() => remove(h)} aria-label=${t("webhooks.deleteNamed", { url: h.url })}>${t("common.delete")}</button></div>
            </li>`,
          )}</ul>`}
    ${shown && html`<${Deliveries} hookId=${shown} onError=${setError} />`}
  <//>`;
}

function Deliveries({ hookId, onError }: { hookId: string; onError: (e: Error) => void }) {
  const list = useLoad(() => get(`/api/v1/webhooks/${hookId}/deliveries?limit=50`).then((r) => r.deliveries as Delivery[]), [hookId]);
  const redeliver = async (d: Delivery) => {
    try {
      await post(`/api/v1/webhooks/${hookId}/deliveries/${d.id}/redeliver`, {});
      list.reload();
    } catch (err) {
      onError(err as Error);
    }
  };
  return html`<section aria-labelledby="deliveries">
    <div class="row"><h2 id="deliveries">${t("webhooks.recent")}</h2><button type="button" class="small" onClick=${() => list.reload()}>${t("webhooks.refresh")}</button></div>
    ${!list.data
      ? html`<${Loading} />`
      : list.data.length === 0
        ? html`<p class="empty">${t("webhooks.noDeliveries")}</p>`
        : html`<div class="table-wrap"><table>
            <caption class="visually-hidden">${t("webhooks.recent")}</caption>
            <thead><tr><th scope="col">${t("webhooks.event")}</th><th scope="col">${t("webhooks.image")}</th><th scope="col">${t("webhooks.status")}</th><th scope="col">${t("webhooks.attempts")}</th><th scope="col">${t("webhooks.lastError")}</th><th scope="col">${t("webhooks.when")}</th><th scope="col"><span class="visually-hidden">${t("common.actions")}</span></th></tr></thead>
            <tbody>${list.data.map(
              (d) => html`<tr data-delivery=${d.id}>
                <td class="mono">${d.type}</td><td class="mono small">${d.event.data.path ?? d.event.data.id}</td>
                <td><span class="tag">${t(`webhooks.${d.status}`)}</span>${d.last_status !== null ? html` <span class="muted small">HTTP ${d.last_status}</span>` : ""}</td>
                <td>${d.attempts}</td><td class="small">${d.last_error ?? "–"}</td><td>${when(d.created_at)}</td>
                <td>${d.status === "pending" ? html`<span class="muted small">${d.next_attempt_at ? t("webhooks.next", { when: when(d.next_attempt_at) }) : ""}</span>` : html`<button type="button" class="small" onClick=${() => redeliver(d)}>${t("webhooks.redeliver")}</button>`}</td>
              </tr>`,
            )}</tbody>
          </table></div>`}
  </section>`;
}
