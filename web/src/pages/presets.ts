import { useEffect, useState } from "preact/hooks";
import { absolute, del, get, post, put } from "../api.ts";
import { t } from "../i18n.ts";
import { me } from "../session.ts";
import { ErrorNote, html, Loading, Page, useLoad } from "../ui.ts";
import { FITS, nativePath, nativeQuery, Preview } from "./image.ts";

// Presets: named option sets (`?p:name`). The editor previews its unsaved options on an image
// of the user's choice, so what is saved is what was seen.

interface Preset {
  id: string;
  name: string;
  description: string | null;
  params: Record<string, unknown>;
  usage_count: number;
}

interface Draft {
  id: string | null;
  name: string;
  description: string;
  w: string;
  h: string;
  fit: string;
  q: string;
}

const empty: Draft = { id: null, name: "", description: "", w: "", h: "", fit: "", q: "" };
const draftOf = (p: Preset): Draft => ({
  id: p.id,
  name: p.name,
  description: p.description ?? "",
  w: String(p.params.w ?? ""),
  h: String(p.params.h ?? ""),
  fit: String(p.params.fit ?? ""),
  q: String(p.params.q ?? ""),
});

export function PresetsPage() {
  const user = me.use()!;
  const presets = useLoad(() => get("/api/v1/settings/presets").then((r) => r.presets as Preset[]), []);
  const images = useLoad(() => get("/api/v1/images?limit=24").then((r) => (r.images as any[]).filter((i) => i.visibility === "public")), []);
  const [draft, setDraft] = useState<Draft>(empty);
  const [sample, setSample] = useState("");
  const [error, setError] = useState<Error | null>(null);
  const [saved, setSaved] = useState("");
  useEffect(() => {
    if (!sample && images.data?.length) setSample(images.data[0].paths[0]);
  }, [images.data]);

  const set = (k: keyof Draft) => (e: Event) => setDraft({ ...draft, [k]: (e.target as HTMLInputElement).value });
  const params = () => {
    const p: Record<string, unknown> = {};
    if (draft.w) p.w = Number(draft.w);
    if (draft.h) p.h = Number(draft.h);
    if (draft.fit) p.fit = draft.fit;
    if (draft.q) p.q = Number(draft.q);
    return p;
  };
  const save = async (e: SubmitEvent) => {
    e.preventDefault();
    setError(null);
    setSaved("");
    try {
      const body = { name: draft.name, description: draft.description || null, params: params() };
      const p = draft.id ? await put(`/api/v1/settings/presets/${draft.id}`, body) : await post("/api/v1/settings/presets", body);
      setDraft(draftOf(p));
      setSaved(t("presets.saved", { name: p.name }));
      presets.reload();
    } catch (err) {
      setError(err as Error);
    }
  };
  const remove = async (p: Preset) => {
    if (!confirm(t("presets.confirmDelete", { name: p.name }))) return;
    try {
      await del(`/api/v1/settings/presets/${encodeURIComponent(p.id)}`);
      if (draft.id === p.id) setDraft(empty);
      presets.reload();
    } catch (err) {
      setError(err as Error);
    }
  };
  const previewUrl = sample ? absolute(nativePath(user.username, sample, "webp")) + nativeQuery({ w: draft.w, h: draft.h, fit: draft.fit, q: draft.q }) : "";

  return html`<${Page} title=${t("presets.title")}>
    <${ErrorNote} error=${error || presets.error} />
    <div class="split">
      <section aria-labelledby="preset-list">
        <h2 id="preset-list">${t("presets.list")}</h2>
        ${!presets.data
          ? html`<${Loading} />`
          : presets.data.length === 0
            ? html`<p class="empty">${t("presets.empty")}</p>`
            : html`<ul class="plain-list">${presets.data.map(
                (p) => html`<li class=${draft.id === p.id ? "current" : ""}>
                  <div><strong>${p.name}</strong> <span class="mono small">${nativeQuery(p.params as any) || "–"}</span><br /><span class="muted small">${t("presets.used", { n: p.usage_count })}</span></div>
                  <div class="row"><button type="button" class="small" onClick=${() => setDraft(draftOf(p))} aria-label=${t("presets.editNamed", { name: p.name })}>${t("common.edit")}</button>
                  <button type="button" class="small danger" onClick=${() => remove(p)} aria-label=${t("presets.deleteNamed", { name: p.name })}>${t("common.delete")}</button></div>
                </li>`,
              )}</ul>`}
        <button type="button" onClick=${() => setDraft(empty)}>${t("presets.new")}</button>
      </section>
      <section aria-labelledby="preset-editor" class="card">
        <h2 id="preset-editor">${draft.id ? t("presets.editing", { name: draft.name }) : t("presets.new")}</h2>
        <form class="grid-form" onSubmit=${save}>
          <div class="field"><label for="p-name">${t("presets.name")}</label><input id="p-name" required pattern="[A-Za-z0-9_\\-]+" value=${draft.name} onInput=${set("name")} /></div>
          <div class="field"><label for="p-desc">${t("presets.description")}</label><input id="p-desc" value=${draft.description} onInput=${set("description")} /></div>
          <div class="field"><label for="p-w">${t("builder.width")}</label><input id="p-w" type="number" min="1" max="10000" value=${draft.w} onInput=${set("w")} /></div>
          <div class="field"><label for="p-h">${t("builder.height")}</label><input id="p-h" type="number" min="1" max="10000" value=${draft.h} onInput=${set("h")} /></div>
          <div class="field"><label for="p-fit">${t("builder.fit")}</label><select id="p-fit" value=${draft.fit} onChange=${set("fit")}>${FITS.map((f) => html`<option value=${f}>${f || t("builder.default")}</option>`)}</select></div>
          <div class="field"><label for="p-q">${t("builder.quality")}</label><input id="p-q" type="number" min="1" max="100" value=${draft.q} onInput=${set("q")} /></div>
          <div class="field end"><button type="submit" class="primary">${t("common.save")}</button></div>
        </form>
        ${saved && html`<p class="notice success" role="status">${saved}</p>`}
        <div class="field"><label for="p-sample">${t("presets.sample")}</label>
          <select id="p-sample" value=${sample} onChange=${(e: Event) => setSample((e.target as HTMLSelectElement).value)}>
            ${(images.data ?? []).map((i: any) => html`<option value=${i.paths[0]}>${i.paths[0]}</option>`)}
          </select></div>
        ${previewUrl ? html`<${Preview} url=${previewUrl} label=${t("presets.previewLabel")} />` : html`<p class="muted">${t("presets.noSample")}</p>`}
      </section>
    </div>
  <//>`;
}
