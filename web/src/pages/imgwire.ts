import { useState } from "preact/hooks";
import { del, get, post } from "../api.ts";
import { t } from "../i18n.ts";
import { CopyField, ErrorNote, html, Loading, Page, useLoad } from "../ui.ts";

// The Imgwire side (mounted at /imgwire): environments, CORS origins, the custom domain with
// its CNAME target and connection test, and client keys for browser uploads.

const API = "/imgwire/api/v1";

export function ImgwirePage() {
  const envs = useLoad(() => get(`${API}/environments/`).catch(() => [] as any[]), []);
  const origins = useLoad(() => get(`${API}/cors_origins/`), []);
  const domain = useLoad(() => get(`${API}/custom_domain/`).catch((e) => (e.status === 404 ? null : Promise.reject(e))), []);
  const keys = useLoad(() => get(`${API}/api_keys/`), []);
  const [error, setError] = useState<Error | null>(null);
  const [note, setNote] = useState("");
  const [clientKey, setClientKey] = useState("");
  const act = async (fn: () => Promise<unknown>, reload: () => void) => {
    setError(null);
    setNote("");
    try {
      await fn();
      reload();
    } catch (err) {
      setError(err as Error);
    }
  };
  const field = (e: SubmitEvent, name: string) => {
    const form = e.target as HTMLFormElement;
    const value = String(new FormData(form).get(name) ?? "").trim();
    form.reset();
    return value;
  };
  const list = (x: any) => (Array.isArray(x) ? x : (x?.items ?? x?.data ?? []));

  return html`<${Page} title=${t("imgwire.title")}>
    <p class="muted">${t("imgwire.intro")}</p>
    <${ErrorNote} error=${error} />
    ${note && html`<p class="notice" role="status">${note}</p>`}
    <section class="card stack" aria-labelledby="iw-env">
      <h2 id="iw-env">${t("imgwire.environments")}</h2>
      ${!envs.data ? html`<${Loading} />` : html`<ul class="plain-list">${list(envs.data).map((e: any) => html`<li><span><strong>${e.name}</strong> <span class="mono small">${e.id}</span></span>${e.default ? html`<span class="tag">${t("imgwire.default")}</span>` : ""}</li>`)}</ul>`}
      <form class="row wrap" onSubmit=${(e: SubmitEvent) => { e.preventDefault(); const name = field(e, "name"); void act(() => post(`${API}/environments/`, { name }), envs.reload); }}>
        <label for="iw-env-name">${t("imgwire.envName")}</label><input id="iw-env-name" name="name" required /><button type="submit">${t("imgwire.addEnv")}</button>
      </form>
    </section>
    <section class="card stack" aria-labelledby="iw-cors">
      <h2 id="iw-cors">${t("imgwire.cors")}</h2>
      <p class="muted small">${t("imgwire.corsHint")}</p>
      ${!origins.data ? html`<${Loading} />` : list(origins.data).length === 0 ? html`<p class="muted">${t("imgwire.noOrigins")}</p>` : html`<ul class="plain-list">${list(origins.data).map((o: any) => html`<li><span class="mono">${o.pattern}</span><button type="button" class="small danger" aria-label=${t("imgwire.removeOrigin", { o: o.pattern })} onClick=${() => act(() => del(`${API}/cors_origins/${o.id}`), origins.reload)}>${t("common.delete")}</button></li>`)}</ul>`}
      <form class="row wrap" onSubmit=${(e: SubmitEvent) => { e.preventDefault(); const pattern = field(e, "pattern"); void act(() => post(`${API}/cors_origins/`, { pattern }), origins.reload); }}>
        <label for="iw-origin">${t("imgwire.origin")}</label><input id="iw-origin" name="pattern" placeholder="https://example.com" required /><button type="submit">${t("imgwire.addOrigin")}</button>
      </form>
    </section>
    <section class="card stack" aria-labelledby="iw-domain">
      <h2 id="iw-domain">${t("imgwire.domain")}</h2>
      ${domain.loading ? html`<${Loading} />` : domain.data
        ? html`<dl class="facts"><dt>${t("imgwire.hostname")}</dt><dd>${domain.data.hostname}</dd><dt>${t("imgwire.status")}</dt><dd>${domain.data.status}</dd></dl>
            <${CopyField} id="cname-record" label=${t("imgwire.cnameRecord")} value=${domain.data.cname_record} />
            <${CopyField} id="cname-value" label=${t("imgwire.cnameValue")} value=${domain.data.cname_value} />
            <${CopyField} id="proof-record" label=${t("imgwire.proofRecord")} value=${domain.data.dcv_cname_record} />
            <${CopyField} id="proof-value" label=${t("imgwire.proofValue")} value=${domain.data.dcv_cname_value} />
            <div class="row"><button type="button" onClick=${() => act(async () => { const r = await post(`${API}/custom_domain/test_connection`); setNote(t("imgwire.tested", { status: r.status ?? "?" })); }, domain.reload)}>${t("imgwire.test")}</button>
            <button type="button" class="danger" onClick=${() => confirm(t("imgwire.confirmDomain")) && act(() => del(`${API}/custom_domain/`), domain.reload)}>${t("common.delete")}</button></div>`
        : html`<form class="row wrap" onSubmit=${(e: SubmitEvent) => { e.preventDefault(); const hostname = field(e, "hostname"); void act(() => post(`${API}/custom_domain/`, { hostname }), domain.reload); }}>
            <label for="iw-host">${t("imgwire.hostname")}</label><input id="iw-host" name="hostname" placeholder="images.example.com" required /><button type="submit">${t("imgwire.connect")}</button></form>`}
    </section>
    <section class="card stack" aria-labelledby="iw-keys">
      <h2 id="iw-keys">${t("imgwire.clientKeys")}</h2>
      <p class="muted small">${t("imgwire.clientHint")}</p>
      ${!keys.data ? html`<${Loading} />` : html`<ul class="plain-list">${list(keys.data).filter((k: any) => k.key_type === "CLIENT").map((k: any) => html`<li><span><strong>${k.name}</strong> <span class="mono small">${k.client_key ?? ""}</span></span><button type="button" class="small danger" onClick=${() => confirm(t("keys.confirmRevoke", { name: k.name })) && act(() => del(`${API}/api_keys/${k.id}`), keys.reload)}>${t("keys.revoke")}</button></li>`)}</ul>`}
      <form class="row wrap" onSubmit=${(e: SubmitEvent) => { e.preventDefault(); const name = field(e, "name"); void act(async () => { const k = await post(`${API}/api_keys/`, { name, key_type: "CLIENT" }); setClientKey(k.client_key ?? ""); }, keys.reload); }}>
        <label for="iw-key-name">${t("keys.name")}</label><input id="iw-key-name" name="name" required /><button type="submit">${t("imgwire.addClientKey")}</button>
      </form>
      ${clientKey && html`<${CopyField} id="client-key" label=${t("imgwire.clientKey")} value=${clientKey} />`}
    </section>
  <//>`;
}
