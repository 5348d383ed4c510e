import { h, type ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import htm from "htm";
import { BASE } from "./api.ts";
import { t } from "./i18n.ts";

// Small shared pieces: the html tag, navigation, async loading, copy buttons, notices.

export const html = htm.bind(h);

type Listener = (path: string) => void;
const listeners = new Set<Listener>();
export const currentPath = () => location.pathname.slice(BASE.length) || "/";
export function navigate(to: string, replace = false) {
  history[replace ? "replaceState" : "pushState"](null, "", BASE + to);
  for (const l of listeners) l(currentPath());
  window.scrollTo(0, 0);
}
addEventListener("popstate", () => {
  for (const l of listeners) l(currentPath());
});
/** The current path; a change of the query string alone re-renders too (filters live there). */
export function usePath(): string {
  const [, setHere] = useState(location.href);
  useEffect(() => {
    const l = () => setHere(location.href);
    listeners.add(l);
    return () => void listeners.delete(l);
  }, []);
  return currentPath();
}

/** An in-app link: a real <a href> (new tab, copy link work), handled without a reload. */
export function Link(props: { href: string; class?: string; children?: ComponentChildren; "aria-current"?: string }) {
  const onClick = (e: MouseEvent) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(props.href);
  };
  return html`<a href=${BASE + props.href} class=${props.class} aria-current=${props["aria-current"]} onClick=${onClick}>${props.children}</a>`;
}

/** Runs a loader whenever `deps` change; gives its data, error and a reload. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): { data: T | undefined; error: Error | null; loading: boolean; reload: () => void } {
  const [state, setState] = useState<{ data: T | undefined; error: Error | null; loading: boolean }>({ data: undefined, error: null, loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => live && setState({ data, error: null, loading: false }),
      (error) => live && setState({ data: undefined, error, loading: false }),
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  return { ...state, reload: () => setTick((n) => n + 1) };
}

export function ErrorNote({ error }: { error: Error | null | undefined }) {
  return error ? html`<p class="notice error" role="alert">${error.message}</p>` : null;
}

export function Loading() {
  return html`<p class="muted" role="status">${t("common.loading")}</p>`;
}

export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // Without clipboard permission: select a hidden field and copy it the old way.
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "offscreen";
    document.body.append(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    return ok;
  }
}

export function CopyButton({ text, label }: { text: string; label?: string }) {
  const [done, setDone] = useState(false);
  const onClick = async () => {
    setDone(await copyText(text));
    setTimeout(() => setDone(false), 1500);
  };
  // The name keeps the visible word first ("Copy Secret key"), as speech input expects.
  return html`<button type="button" class="small" onClick=${onClick}>${done ? t("common.copied") : t("common.copy")}${label ? html`<span class="visually-hidden"> ${label}</span>` : null}</button>`;
}

/** A read-only value with a copy button, labelled. */
export function CopyField({ label, value, id }: { label: string; value: string; id: string }) {
  return html`<div class="copyfield">
    <label for=${id}>${label}</label>
    <div class="row"><input id=${id} readonly value=${value} onFocus=${(e: FocusEvent) => (e.target as HTMLInputElement).select()} /><${CopyButton} text=${value} label=${label} /></div>
  </div>`;
}

export const bytes = (n: number | null | undefined): string => {
  if (n === null || n === undefined) return "–";
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
};

export const when = (unixSeconds: number | null | undefined): string =>
  unixSeconds ? new Date(unixSeconds * 1000).toLocaleString() : t("common.never");

/** The tab's title while a page shows. */
export function useTitle(title: string) {
  useEffect(() => {
    document.title = `${title} · imgd`;
  }, [title]);
}

export function Page({ title, children, actions }: { title: string; children?: ComponentChildren; actions?: ComponentChildren }) {
  useTitle(title);
  return html`<section class="page">
    <header class="page-head"><h1 tabindex="-1" id="page-title">${title}</h1>${actions ? html`<div class="actions">${actions}</div>` : null}</header>
    ${children}
  </section>`;
}
