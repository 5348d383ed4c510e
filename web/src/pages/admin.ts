import { useState } from "preact/hooks";
import { del, get, patch } from "../api.ts";
import { t } from "../i18n.ts";
import { me } from "../session.ts";
import { ErrorNote, html, Loading, Page, useLoad, when } from "../ui.ts";

// The operator's view of users (admin only): plan, verification, delete with confirmation.

const PLANS = ["free", "pro", "unlimited"];

export function AdminPage() {
  const user = me.use()!;
  const users = useLoad(() => (user.role === "admin" ? get("/api/v1/admin/users").then((r) => r.users as any[]) : Promise.resolve([])), [user.role]);
  const [error, setError] = useState<Error | null>(null);
  if (user.role !== "admin") return html`<${Page} title=${t("admin.title")}><p class="notice">${t("admin.only")}</p><//>`;
  const act = async (fn: () => Promise<unknown>) => {
    setError(null);
    try {
      await fn();
      users.reload();
    } catch (err) {
      setError(err as Error);
    }
  };
  const plans = [...new Set([...PLANS, ...(users.data ?? []).map((u) => u.plan)])];
  return html`<${Page} title=${t("admin.title")}>
    <${ErrorNote} error=${error || users.error} />
    ${!users.data
      ? html`<${Loading} />`
      : html`<div class="table-wrap"><table>
          <thead><tr><th scope="col">${t("admin.user")}</th><th scope="col">${t("admin.plan")}</th><th scope="col">${t("admin.verified")}</th><th scope="col">${t("admin.created")}</th><th scope="col"><span class="visually-hidden">${t("common.actions")}</span></th></tr></thead>
          <tbody>${users.data.map(
            (u) => html`<tr>
              <td><strong>${u.username}</strong>${u.role === "admin" ? ` (${t("admin.admin")})` : ""}<br /><span class="muted small">${u.email ?? ""}</span></td>
              <td><label class="visually-hidden" for=${`plan-${u.id}`}>${t("admin.planOf", { name: u.username })}</label>
                <select id=${`plan-${u.id}`} value=${u.plan} onChange=${(e: Event) => act(() => patch(`/api/v1/admin/users/${u.id}`, { plan: (e.target as HTMLSelectElement).value }))}>${plans.map((p) => html`<option value=${p}>${p}</option>`)}</select></td>
              <td><label class="check"><input type="checkbox" checked=${u.verified} onChange=${(e: Event) => act(() => patch(`/api/v1/admin/users/${u.id}`, { verified: (e.target as HTMLInputElement).checked }))} /> <span class="visually-hidden">${t("admin.verifiedOf", { name: u.username })}</span>${u.verified ? t("common.yes") : t("common.no")}</label></td>
              <td>${when(u.created_at)}</td>
              <td>${u.id !== user.id && html`<button type="button" class="small danger" onClick=${() => confirm(t("admin.confirmDelete", { name: u.username })) && act(() => del(`/api/v1/admin/users/${u.id}`))}>${t("common.delete")}</button>`}</td>
            </tr>`,
          )}</tbody></table></div>`}
  <//>`;
}
