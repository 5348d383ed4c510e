import { useState } from "preact/hooks";
import { call, del, get, patch, put } from "../api.ts";
import { t } from "../i18n.ts";
import { me } from "../session.ts";
import { bytes, ErrorNote, html, Link, Loading, navigate, Page, useLoad } from "../ui.ts";
import { placeholderStyle } from "../placeholder.ts";
import { Uploader } from "./upload.ts";

const PAGE_SIZE = 24;

interface Item {
  id: string;
  original_filename: string;
  size: number;
  cdn_url: string;
  paths: string[];
  visibility: "public" | "private";
  tags: string[];
  namespace: string | null;
  active_signed_url: { signed_url: string } | null;
  thumbhash?: string | null;
}

/** The library's filters live in the address bar: back, reload and links keep them. */
function useQuery(): [URLSearchParams, (change: Record<string, string>) => void] {
  const q = new URLSearchParams(location.search);
  const set = (change: Record<string, string>) => {
    const next = new URLSearchParams(location.search);
    for (const [k, v] of Object.entries(change)) v ? next.set(k, v) : next.delete(k);
    if (!("page" in change)) next.delete("page");
    const s = next.toString();
    navigate(`/library${s ? `?${s}` : ""}`, true);
  };
  return [q, set];
}

/** A thumbnail from imgd's own variants: one URL per density, lazily loaded. */
export function thumb(item: Item, size: number) {
  if (item.visibility === "private" && !item.active_signed_url) return null;
  const base = item.active_signed_url?.signed_url ?? item.cdn_url;
  const sep = base.includes("?") ? "&" : "?";
  // A signed URL covers its own options only: show it as it is.
  if (item.active_signed_url) return { src: base, srcset: undefined };
  const at = (w: number) => `${base}${sep}w=${w}&h=${w}&fit=cover`;
  return { src: at(size), srcset: `${at(size)} ${size}w, ${at(size * 2)} ${size * 2}w` };
}

export function LibraryPage({ rest: _ }: { rest: string }) {
  const user = me.use()!;
  const [q, setQ] = useQuery();
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [busy, setBusy] = useState(false);
  const [bulkError, setBulkError] = useState<Error | null>(null);
  const page = Math.max(1, Number(q.get("page") ?? 1) || 1);
  const search = q.get("q") ?? "";
  const key = q.toString();
  const list = useLoad(async () => {
    if (search) {
      const r = await get(`/api/v1/images/search?q=${encodeURIComponent(search)}&limit=100`);
      return { images: r.results as Item[], total: r.total as number, folders: [] as { path: string; name?: string; image_count?: number }[] };
    }
    const p = new URLSearchParams({ limit: String(PAGE_SIZE), page: String(page), sort: q.get("sort") ?? "newest" });
    for (const f of ["path", "namespace", "tag"]) if (q.get(f)) p.set(f, q.get(f)!);
    const r = await call(`/api/v1/images?${p}`);
    return { images: r.data.images as Item[], total: Number(r.headers.get("x-total-count") ?? r.data.total), folders: (r.data.folders ?? []) as any[] };
  }, [key]);
  const namespaces = useLoad(() => get("/v1/namespaces").then((r) => (r.data ?? r.namespaces ?? []) as any[]), []);

  const filtered = ["q", "path", "namespace", "tag"].some((f) => q.get(f));
  const images = list.data?.images ?? [];
  const pages = Math.max(1, Math.ceil((list.data?.total ?? 0) / PAGE_SIZE));
  const toggle = (id: string) =>
    setSelected((s) => {
      const n = new Set(s);
      n.has(id) ? n.delete(id) : n.add(id);
      return n;
    });

  const bulk = async (what: () => Promise<unknown>) => {
    setBusy(true);
    setBulkError(null);
    try {
      await what();
      setSelected(new Set());
    } catch (err) {
      setBulkError(err as Error);
    } finally {
      setBusy(false);
      list.reload();
    }
  };
  const ids = [...selected];
  const onDelete = () => confirm(t("library.confirmDelete", { n: ids.length })) && bulk(() => Promise.all(ids.map((id) => del(`/api/v1/images/${id}`))));
  const onVisibility = (v: string) => bulk(() => Promise.all(ids.map((id) => put(`/api/v1/images/${id}/visibility`, { visibility: v }))));
  const onTags = (e: SubmitEvent) => {
    e.preventDefault();
    const form = e.target as HTMLFormElement;
    const tags = String(new FormData(form).get("tags")).split(",").map((s) => s.trim()).filter(Boolean);
    const mode = String(new FormData(form).get("mode"));
    if (tags.length) void bulk(() => patch("/v1/media/batch", { ids, tags, tag_mode: mode }));
  };
  const onNamespace = (e: SubmitEvent) => {
    e.preventDefault();
    const ns = String(new FormData(e.target as HTMLFormElement).get("namespace")).trim();
    void bulk(() => Promise.all(ids.map((id) => patch(`/v1/media/${id}`, { namespace: ns || null }))));
  };

  const onFilter = (e: SubmitEvent) => {
    e.preventDefault();
    const f = new FormData(e.target as HTMLFormElement);
    setQ(Object.fromEntries(["q", "path", "namespace", "tag", "sort"].map((k) => [k, String(f.get(k) ?? "").trim()])));
  };

  return html`<${Page} title=${t("library.title")}>
    <${Uploader} onUploaded=${list.reload} autoFocus=${location.pathname.endsWith("/upload")} />
    <form class="filters" role="search" aria-label=${t("library.filters")} onSubmit=${onFilter} key=${key}>
      <div class="field"><label for="f-q">${t("library.search")}</label><input id="f-q" name="q" type="search" value=${search} /></div>
      <div class="field"><label for="f-path">${t("library.folder")}</label><input id="f-path" name="path" value=${q.get("path") ?? ""} placeholder="/" /></div>
      <div class="field"><label for="f-ns">${t("library.namespace")}</label>
        <select id="f-ns" name="namespace" value=${q.get("namespace") ?? ""}>
          <option value="">${t("library.any")}</option>
          ${(namespaces.data ?? []).map((n: any) => html`<option value=${n.namespace ?? n.name}>${n.namespace ?? n.name}</option>`)}
        </select></div>
      <div class="field"><label for="f-tag">${t("library.tag")}</label><input id="f-tag" name="tag" value=${q.get("tag") ?? ""} /></div>
      <div class="field"><label for="f-sort">${t("library.sort")}</label>
        <select id="f-sort" name="sort" value=${q.get("sort") ?? "newest"}>
          ${["newest", "oldest", "name", "size"].map((s) => html`<option value=${s}>${t(`library.sort.${s}` as any)}</option>`)}
        </select></div>
      <div class="field end"><button type="submit">${t("library.apply")}</button>${filtered && html`<button type="button" class="link" onClick=${() => navigate("/library", true)}>${t("library.clear")}</button>`}</div>
    </form>
    ${(list.data?.folders?.length ?? 0) > 0 &&
    html`<nav class="folders" aria-label=${t("library.folders")}><ul>${list.data!.folders.map((f: any) => {
      const path = typeof f === "string" ? f : (f.path ?? f.name);
      return html`<li><${Link} href=${`/library?path=${encodeURIComponent(path)}`}>📁 ${path}${f.image_count !== undefined ? ` (${f.image_count})` : ""}<//></li>`;
    })}</ul></nav>`}
    ${selected.size > 0 &&
    html`<div class="bulk" role="region" aria-label=${t("library.bulk")}>
      <strong>${t("library.selected", { n: selected.size })}</strong>
      <button type="button" class="danger" disabled=${busy} onClick=${onDelete}>${t("common.delete")}</button>
      <button type="button" disabled=${busy} onClick=${() => onVisibility("public")}>${t("library.makePublic")}</button>
      <button type="button" disabled=${busy} onClick=${() => onVisibility("private")}>${t("library.makePrivate")}</button>
      <form class="row" onSubmit=${onTags}>
        <label class="visually-hidden" for="bulk-mode">${t("library.tagMode")}</label>
        <select id="bulk-mode" name="mode"><option value="add">${t("library.addTags")}</option><option value="remove">${t("library.removeTags")}</option><option value="set">${t("library.setTags")}</option></select>
        <label class="visually-hidden" for="bulk-tags">${t("library.tags")}</label><input id="bulk-tags" name="tags" placeholder=${t("library.tags")} size="12" />
        <button type="submit" disabled=${busy}>${t("common.apply")}</button>
      </form>
      <form class="row" onSubmit=${onNamespace}>
        <label class="visually-hidden" for="bulk-ns">${t("library.namespace")}</label><input id="bulk-ns" name="namespace" placeholder=${t("library.namespace")} size="12" />
        <button type="submit" disabled=${busy}>${t("library.move")}</button>
      </form>
      <button type="button" class="link" onClick=${() => setSelected(new Set())}>${t("library.unselect")}</button>
    </div>`}
    <${ErrorNote} error=${bulkError || list.error} />
    ${list.loading && !list.data
      ? html`<${Loading} />`
      : images.length === 0
        ? html`<div class="empty">${filtered ? html`<p>${t("library.noMatch")}</p><button type="button" onClick=${() => navigate("/library", true)}>${t("library.clear")}</button>` : html`<p>${t("library.empty")}</p>`}</div>`
        : html`<ul class="grid" aria-label=${t("library.images")}>
            ${images.map((img) => {
              const th = thumb(img, 240);
              const name = img.paths[0] ?? img.original_filename;
              return html`<li class=${`tile${selected.has(img.id) ? " selected" : ""}`} data-id=${img.id}>
                <input type="checkbox" class="pick" id=${`pick-${img.id}`} checked=${selected.has(img.id)} onChange=${() => toggle(img.id)} aria-label=${t("library.select", { name })} />
                <${Link} href=${`/image/${img.id}`} class="thumb">
                  ${th ? html`<img src=${th.src} srcset=${th.srcset} sizes="(max-width: 480px) 45vw, 240px" width="240" height="240" loading="lazy" decoding="async" alt=${name} style=${placeholderStyle(img.thumbhash)} />` : html`<span class="private" role="img" aria-label=${`${name} (${t("common.private")})`}>🔒</span>`}
                <//>
                <div class="meta"><span class="name" title=${name}>${name}</span><span class="muted small">${bytes(img.size)}${img.visibility === "private" ? ` · ${t("common.private")}` : ""}</span>
                ${img.tags?.length > 0 && html`<span class="tags">${img.tags.map((tag) => html`<span class="tag">${tag}</span>`)}</span>`}</div>
              </li>`;
            })}
          </ul>`}
    ${!search && pages > 1 &&
    html`<nav class="pager" aria-label=${t("library.pages")}>
      <button type="button" disabled=${page <= 1} onClick=${() => setQ({ page: String(page - 1) })}>${t("library.prev")}</button>
      <span>${t("library.pageOf", { page, pages })}</span>
      <button type="button" disabled=${page >= pages} onClick=${() => setQ({ page: String(page + 1) })}>${t("library.next")}</button>
    </nav>`}
    <p class="muted small">${t("library.deliveredAs", { user: user.username })}</p>
  <//>`;
}
