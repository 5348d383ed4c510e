import { useEffect, useState } from "preact/hooks";
import { absolute, del, get, post, put } from "../api.ts";
import { t } from "../i18n.ts";
import { me } from "../session.ts";
import { bytes, CopyButton, CopyField, ErrorNote, html, Link, Loading, navigate, Page, useLoad, when } from "../ui.ts";
import { readExif } from "../exif.ts";
import { placeholderStyle } from "../placeholder.ts";

// One image: its original and facts, visibility and delete, and a transformation builder that
// writes the URL in every dialect imgd speaks, with a live preview of exactly that URL.

export interface Spec {
  w: string;
  h: string;
  fit: string;
  q: string;
  format: string;
  preset: string;
}

export const FORMATS = ["webp", "avif", "jpeg", "png", "jxl", "original"];
export const FITS = ["", "cover", "contain", "fill", "scale-down"];
const EXT: Record<string, string> = { webp: "webp", avif: "avif", jpeg: "jpg", png: "png", jxl: "jxl", auto: "auto" };

const stemOf = (p: string) => p.replace(/\.[^./]+$/, "");
const enc = (p: string) => p.split("/").map(encodeURIComponent).join("/");

/** The native query string: w, h, fit, q and a preset as `p:name` (a flag without value). */
export function nativeQuery(s: Partial<Spec>): string {
  const parts: string[] = [];
  if (s.preset) parts.push(`p:${encodeURIComponent(s.preset)}`);
  if (s.w) parts.push(`w=${s.w}`);
  if (s.h) parts.push(`h=${s.h}`);
  if (s.fit) parts.push(`fit=${s.fit}`);
  if (s.q) parts.push(`q=${s.q}`);
  return parts.length ? `?${parts.join("&")}` : "";
}

/** The native delivery path of an image's first path in a format ("original": its own bytes). */
export function nativePath(username: string, path: string, format: string): string {
  const p = format === "original" || !EXT[format] ? path : `${stemOf(path)}.${EXT[format]}`;
  return `/i/${encodeURIComponent(username)}/${enc(p)}`;
}

function imgwireQuery(s: Spec): string {
  const q = new URLSearchParams();
  if (s.w) q.set("width", s.w);
  if (s.h) q.set("height", s.h);
  if (s.fit === "cover") q.set("resizing_type", "cover");
  else if (s.fit === "fill") q.set("resizing_type", "fill");
  else if (s.fit === "contain" || s.fit === "scale-down") q.set("resizing_type", "inside");
  if (s.fit && s.fit !== "scale-down") q.set("enlarge", "true");
  if (s.q) q.set("quality", s.q);
  if (s.format !== "original") q.set("format", s.format);
  const str = q.toString();
  return str ? `?${str}` : "";
}

export function snippets(username: string, path: string, width: number, height: number, alt: string) {
  const url = (f: string, w: number) => absolute(nativePath(username, path, f)) + `?w=${w}`;
  const widths = [400, 800, 1200, 1600].filter((w) => w <= Math.max(400, width));
  const set = (f: string) => widths.map((w) => `${url(f, w)} ${w}w`).join(",\n          ");
  const ratio = height / width;
  const w0 = Math.min(800, width);
  const h0 = Math.round(w0 * ratio);
  const origin = absolute("/").replace(/\/$/, "");
  const src = `/${encodeURIComponent(username)}/${enc(path)}`;
  // The image's blurred placeholder (its ThumbHash as a tiny PNG), shown until the image loads.
  const placeholder = absolute(nativePath(username, path, "original")) + "?placeholder";
  const bg = `background: center / cover url('${placeholder}')`;
  return {
    img: `<img src="${url("auto", w0)}"
     srcset="${set("auto")}"
     sizes="(max-width: 800px) 100vw, 800px"
     width="${w0}" height="${h0}" alt="${alt}" loading="lazy" decoding="async"
     style="${bg}">`,
    picture: `<picture>
  <source type="image/avif" srcset="${set("avif")}" sizes="(max-width: 800px) 100vw, 800px">
  <source type="image/webp" srcset="${set("webp")}" sizes="(max-width: 800px) 100vw, 800px">
  <img src="${url("jpeg", w0)}" width="${w0}" height="${h0}" alt="${alt}" loading="lazy" decoding="async" style="${bg}">
</picture>`,
    next: `// imgd-loader.js — next.config.js: images: { loader: "custom", loaderFile: "./imgd-loader.js" }
export default function imgdLoader({ src, width, quality }) {
  return \`${origin}/i/\${src.replace(/^\\/+/, "")}?w=\${width}&q=\${quality || 75}&f=auto\`;
}

// in a component
import Image from "next/image";
<Image src="${src}" width={${w0}} height={${h0}} alt="${alt}"
  placeholder="blur" blurDataURL="${placeholder}" />`,
    nuxt: `// nuxt.config.ts: imgd speaks IPX at /_ipx
export default defineNuxtConfig({
  modules: ["@nuxt/image"],
  image: { provider: "ipx", ipx: { baseURL: "${origin}/_ipx" } },
});
// <NuxtImg src="${src}" width="${w0}" format="auto" placeholder="${placeholder}" />

// unpic (@unpic/react, /vue, /svelte …) with the same IPX URLs
import { Image } from "@unpic/react";
<Image src="${src}" cdn="ipx" options={{ ipx: { baseURL: "${origin}/_ipx" } }}
  layout="constrained" width={${w0}} height={${h0}} alt="${alt}" background="${placeholder}" />`,
  };
}

export function Preview({ url, label }: { url: string; label: string }) {
  const [info, setInfo] = useState<{ bytes: number; type: string; width?: number; height?: number } | null>(null);
  const [error, setError] = useState("");
  const [shown, setShown] = useState("");
  useEffect(() => {
    let live = true;
    const timer = setTimeout(async () => {
      try {
        const res = await fetch(url);
        if (!res.ok) {
          const body = await res.json().catch(() => null);
          throw new Error(body?.error?.message ?? `HTTP ${res.status}`);
        }
        const blob = await res.blob();
        const objectUrl = URL.createObjectURL(blob);
        const img = new Image();
        img.src = objectUrl;
        await img.decode().catch(() => {});
        if (!live) return URL.revokeObjectURL(objectUrl);
        setShown((old) => {
          if (old) URL.revokeObjectURL(old);
          return objectUrl;
        });
        setInfo({ bytes: blob.size, type: blob.type, width: img.naturalWidth || undefined, height: img.naturalHeight || undefined });
        setError("");
      } catch (err) {
        if (live) setError((err as Error).message);
      }
    }, 250);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [url]);
  return html`<figure class="preview">
    ${shown ? html`<img src=${shown} alt=${label} data-testid="preview" />` : null}
    <figcaption role="status" aria-live="polite" data-testid="preview-info">
      ${error ? html`<span class="error">${error}</span>` : info ? `${info.width ?? "?"} × ${info.height ?? "?"} px · ${bytes(info.bytes)} · ${info.type}` : t("common.loading")}
    </figcaption>
  </figure>`;
}

export function ImagePage({ rest }: { rest: string }) {
  const id = rest.split("/")[0];
  const user = me.use()!;
  const img = useLoad(() => get(`/api/v1/images/${id}`), [id]);
  const presets = useLoad(() => get("/api/v1/settings/presets").then((r) => (r.presets ?? r.data ?? []) as any[]), []);
  const [spec, setSpec] = useState<Spec>({ w: "", h: "", fit: "", q: "", format: "webp", preset: "" });
  const [error, setError] = useState<Error | null>(null);
  const [signed, setSigned] = useState<{ url: string; expires: number } | null>(null);
  const [exif, setExif] = useState<Record<string, string> | null>(null);

  const d = img.data;
  const path: string = d?.paths?.[0] ?? d?.metadata?.original_filename ?? "";
  useEffect(() => {
    if (!d) return;
    setExif(null);
    // EXIF lives in the original's bytes; the server strips it from every variant.
    if (d.visibility === "public" && d.metadata.size < 20_000_000 && /jpe?g|tiff|webp|heic|avif|png/.test(d.metadata.mime_type)) {
      fetch(d.urls.original).then((r) => r.arrayBuffer()).then((b) => setExif(readExif(new Uint8Array(b))), () => setExif({}));
    }
  }, [d?.id, d?.visibility]);

  if (img.error) return html`<${Page} title=${t("image.title")}><${ErrorNote} error=${img.error} /><p><${Link} href="/library">${t("nav.library")}<//></p><//>`;
  if (!d) return html`<${Page} title=${t("image.title")}><${Loading} /><//>`;
  const m = d.metadata;
  const set = (k: keyof Spec) => (e: Event) => setSpec({ ...spec, [k]: (e.target as HTMLInputElement).value });
  const nativeUrl = absolute(nativePath(user.username, path, spec.format)) + nativeQuery(spec);
  const ext = spec.format === "original" ? m.mime_type.split("/")[1].replace("jpeg", "jpg") : EXT[spec.format];
  // img.pro's clients ask for a named size (short edge 320/640/1080 px) on the same URL.
  const imgproUrl = absolute(nativePath(user.username, path, spec.format)) + "?size=m";
  // Imgwire names a preset as a path suffix (`…/photo.jpg@thumbnail`).
  const imgwireUrl = absolute(`/imgwire/cdn/${encodeURIComponent(user.username)}/${enc(path)}${spec.preset ? `@${encodeURIComponent(spec.preset)}` : ""}`) + imgwireQuery(spec);
  const assetsUrl = absolute(`/api/images/${enc(spec.format === "original" ? path : `${stemOf(path)}.${ext}`)}`) + nativeQuery(spec);
  const privateImage = d.visibility === "private";
  const sn = snippets(user.username, path, m.width, m.height, m.original_filename.replace(/"/g, ""));

  const setVisibility = async (visibility: string) => {
    try {
      await put(`/api/v1/images/${id}/visibility`, { visibility });
      img.reload();
    } catch (err) {
      setError(err as Error);
    }
  };
  const remove = async () => {
    if (!confirm(t("image.confirmDelete", { name: path }))) return;
    try {
      await del(`/api/v1/images/${id}`);
      navigate("/library");
    } catch (err) {
      setError(err as Error);
    }
  };
  const sign = async (e: SubmitEvent) => {
    e.preventDefault();
    const seconds = Number(new FormData(e.target as HTMLFormElement).get("expiry"));
    try {
      // The signature covers the variant built above: its format (the extension) and options.
      const r = await post(`/api/v1/images/${id}/signed-url`, {
        expires_in_seconds: seconds,
        path: spec.format === "original" || !EXT[spec.format] ? path : `${stemOf(path)}.${EXT[spec.format]}`,
        options: nativeQuery(spec).slice(1),
      });
      setSigned({ url: new URL(r.signed_url, location.origin).href, expires: r.expires_at });
    } catch (err) {
      setError(err as Error);
    }
  };

  return html`<${Page} title=${path} actions=${html`<${Link} href="/library" class="button">${t("image.back")}<//>`}>
    <${ErrorNote} error=${error} />
    <div class="split">
      <div>
        ${privateImage
          ? html`<p class="notice">${t("image.privateNote")}</p>`
          : html`<a href=${d.urls.original} target="_blank" rel="noopener" class="original"><img src=${`${d.urls.webp}?w=800`} alt=${m.original_filename} width=${Math.min(800, m.width)} style=${placeholderStyle(m.thumbhash)} /></a>`}
      </div>
      <div class="stack">
        <dl class="facts">
          <dt>${t("image.filename")}</dt><dd>${m.original_filename}</dd>
          <dt>${t("image.dimensions")}</dt><dd>${m.width} × ${m.height} px</dd>
          <dt>${t("image.size")}</dt><dd>${bytes(m.size)}</dd>
          <dt>${t("image.type")}</dt><dd>${m.mime_type}</dd>
          <dt>${t("image.uploaded")}</dt><dd>${new Date(m.uploaded_at).toLocaleString()}</dd>
          <dt>${t("image.colour")}</dt><dd>${m.dominant_color ? html`<span class="swatch" style=${{ background: `#${m.dominant_color.replace(/^#/, "")}` }} aria-hidden="true"></span> #${m.dominant_color.replace(/^#/, "")}` : "–"}</dd>
          <dt>${t("image.paths")}</dt><dd>${d.paths.join(", ")}</dd>
          <dt>${t("image.tags")}</dt><dd>${d.tags?.length ? d.tags.join(", ") : "–"}</dd>
          <dt>${t("image.namespace")}</dt><dd>${d.namespace ?? "–"}</dd>
          <dt>${t("image.hash")}</dt><dd class="mono small">${m.hash}</dd>
        </dl>
        <div class="row wrap">
          <label for="visibility">${t("image.visibility")}</label>
          <select id="visibility" value=${d.visibility} onChange=${(e: Event) => setVisibility((e.target as HTMLSelectElement).value)}>
            <option value="public">${t("common.public")}</option><option value="private">${t("common.private")}</option>
          </select>
          <button type="button" class="danger" onClick=${remove}>${t("common.delete")}</button>
        </div>
        ${exif && Object.keys(exif).length > 0 &&
        html`<details><summary>${t("image.exif")}</summary><dl class="facts small">${Object.entries(exif).map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl></details>`}
      </div>
    </div>

    <section aria-labelledby="builder-title" class="card">
      <h2 id="builder-title">${t("image.builder")}</h2>
      <div class="grid-form">
        <div class="field"><label for="b-w">${t("builder.width")}</label><input id="b-w" type="number" min="1" max="10000" inputmode="numeric" value=${spec.w} onInput=${set("w")} /></div>
        <div class="field"><label for="b-h">${t("builder.height")}</label><input id="b-h" type="number" min="1" max="10000" inputmode="numeric" value=${spec.h} onInput=${set("h")} /></div>
        <div class="field"><label for="b-fit">${t("builder.fit")}</label><select id="b-fit" value=${spec.fit} onChange=${set("fit")}>${FITS.map((f) => html`<option value=${f}>${f || t("builder.default")}</option>`)}</select></div>
        <div class="field"><label for="b-q">${t("builder.quality")}</label><input id="b-q" type="number" min="1" max="100" inputmode="numeric" value=${spec.q} onInput=${set("q")} /></div>
        <div class="field"><label for="b-format">${t("builder.format")}</label><select id="b-format" value=${spec.format} onChange=${set("format")}>${FORMATS.map((f) => html`<option value=${f}>${f}</option>`)}</select></div>
        <div class="field"><label for="b-preset">${t("builder.preset")}</label><select id="b-preset" value=${spec.preset} onChange=${set("preset")}><option value="">${t("builder.none")}</option>${(presets.data ?? []).map((p: any) => html`<option value=${p.name}>${p.name}</option>`)}</select></div>
      </div>
      ${privateImage ? html`<p class="notice">${t("image.privatePreview")}</p>` : html`<${Preview} url=${nativeUrl} label=${t("builder.previewOf", { name: path })} />`}
      <${CopyField} id="url-native" label=${t("builder.urlNative")} value=${nativeUrl} />
      <${CopyField} id="url-imgpro" label=${t("builder.urlImgpro")} value=${imgproUrl} />
      <${CopyField} id="url-imgwire" label=${t("builder.urlImgwire")} value=${imgwireUrl} />
      <${CopyField} id="url-assets" label=${t("builder.urlAssets")} value=${assetsUrl} />
    </section>

    ${privateImage &&
    html`<section aria-labelledby="signed-title" class="card">
      <h2 id="signed-title">${t("image.signed")}</h2>
      <form class="row wrap" onSubmit=${sign}>
        <label for="expiry">${t("image.expiry")}</label>
        <select id="expiry" name="expiry">
          <option value="3600">${t("image.exp.hour")}</option><option value="86400">${t("image.exp.day")}</option><option value="604800">${t("image.exp.week")}</option>
        </select>
        <button type="submit" class="primary">${t("image.sign")}</button>
      </form>
      ${signed && html`<${CopyField} id="signed-url" label=${t("image.signedUrl", { when: when(signed.expires) })} value=${signed.url} />`}
    </section>`}

    <section aria-labelledby="snippets-title" class="card">
      <h2 id="snippets-title">${t("image.snippets")}</h2>
      ${(
        [
          ["img", t("snippet.img")],
          ["picture", t("snippet.picture")],
          ["next", t("snippet.next")],
          ["nuxt", t("snippet.nuxt")],
        ] as const
      ).map(
        ([k, label]) => html`<div class="snippet"><div class="row between"><h3 id=${`sn-${k}`}>${label}</h3><${CopyButton} text=${sn[k]} label=${label} /></div>
          <textarea readonly rows="6" aria-labelledby=${`sn-${k}`} class="mono">${sn[k]}</textarea></div>`,
      )}
    </section>
  <//>`;
}
