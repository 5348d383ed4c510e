import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, patch, uploadImage } from "../api.ts";
import { t } from "../i18n.ts";
import { RESUMABLE_FROM_BYTES, uploadResumable } from "../resumable.ts";
import { html } from "../ui.ts";

// Several files at once (three in flight), each with its progress, a failure in plain words
// and a retry. Files come from the picker, a folder picker, drag and drop or the clipboard.

interface Item {
  id: number;
  file: File;
  /** Folder inside the library, from a folder pick or drop. */
  folder: string;
  state: "waiting" | "uploading" | "done" | "failed";
  progress: number;
  error?: string;
}

const PARALLEL = 3;

function plainReason(err: unknown): string {
  if (!(err instanceof ApiError)) return String(err);
  if (err.status === 413 || err.code === "PAYLOAD_TOO_LARGE") return t("upload.tooLarge");
  if (err.code === "INVALID_FILE") return t("upload.notImage", { why: err.message });
  if (err.code === "PLAN_LIMIT_EXCEEDED") return t("upload.planLimit");
  if (err.status === 0) return t("upload.network");
  return err.message;
}

let nextId = 1;

export function Uploader({ onUploaded, autoFocus }: { onUploaded: () => void; autoFocus?: boolean }) {
  const [items, setItems] = useState<Item[]>([]);
  const [over, setOver] = useState(false);
  const [folder, setFolder] = useState("");
  const [tags, setTags] = useState("");
  const [visibility, setVisibility] = useState<"public" | "private">("public");
  const running = useRef(0);
  const queue = useRef<Item[]>([]);
  const settings = useRef({ folder, tags, visibility });
  settings.current = { folder, tags, visibility };
  const fileInput = useRef<HTMLInputElement>(null);

  const update = (id: number, change: Partial<Item>) => setItems((list) => list.map((i) => (i.id === id ? { ...i, ...change } : i)));

  const pump = () => {
    while (running.current < PARALLEL && queue.current.length) {
      const item = queue.current.shift()!;
      running.current++;
      void send(item).finally(() => {
        running.current--;
        pump();
      });
    }
  };

  const send = async (item: Item) => {
    const { folder: base, tags: tagText, visibility: vis } = settings.current;
    update(item.id, { state: "uploading", progress: 0, error: undefined });
    const dir = [base.replace(/^\/+|\/+$/g, ""), item.folder].filter(Boolean).join("/");
    const list = tagText.split(",").map((s) => s.trim()).filter(Boolean);
    const onProgress = (p: number) => update(item.id, { progress: p });
    try {
      if (item.file.size > RESUMABLE_FROM_BYTES) {
        // The tags go with the upload: tus answers no image to tag afterwards.
        await uploadResumable(item.file, { folder: dir, visibility: vis, tags: list }, onProgress);
      } else {
        const res = await uploadImage(item.file, { ...(dir ? { target_path: dir } : {}), visibility: vis }, onProgress);
        if (list.length) await patch("/v1/media/batch", { ids: [res.id], tags: list, tag_mode: "add" });
      }
      update(item.id, { state: "done", progress: 1 });
      onUploaded();
    } catch (err) {
      update(item.id, { state: "failed", error: plainReason(err) });
    }
  };

  const add = (files: { file: File; folder: string }[]) => {
    const fresh = files.map(({ file, folder }) => ({ id: nextId++, file, folder, state: "waiting" as const, progress: 0 }));
    setItems((list) => [...fresh, ...list].slice(0, 200));
    queue.current.push(...fresh);
    pump();
  };
  const retry = (item: Item) => {
    update(item.id, { state: "waiting", progress: 0, error: undefined });
    queue.current.push(item);
    pump();
  };

  const fromList = (list: FileList | null) => add([...(list ?? [])].map((file) => ({ file, folder: (file.webkitRelativePath || "").split("/").slice(0, -1).join("/") })));

  // Paste anywhere on the page (not into a text field).
  useEffect(() => {
    const onPaste = (e: ClipboardEvent) => {
      const target = e.target as HTMLElement;
      if (target?.closest?.("input, textarea")) return;
      const files = [...(e.clipboardData?.files ?? [])];
      if (files.length) {
        e.preventDefault();
        add(files.map((file) => ({ file, folder: "" })));
      }
    };
    document.addEventListener("paste", onPaste);
    return () => document.removeEventListener("paste", onPaste);
  }, []);
  useEffect(() => {
    if (autoFocus) fileInput.current?.focus();
  }, []);

  const onDrop = async (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    const dt = e.dataTransfer;
    if (!dt) return;
    const entries = [...dt.items].map((i) => i.webkitGetAsEntry?.()).filter(Boolean) as FileSystemEntry[];
    if (entries.some((en) => en.isDirectory)) add(await walk(entries, ""));
    else fromList(dt.files);
  };

  const active = items.filter((i) => i.state !== "done").length;
  return html`<section class="uploader" aria-labelledby="upload-title">
    <h2 id="upload-title">${t("upload.title")}</h2>
    <div
      class=${`dropzone${over ? " over" : ""}`}
      data-testid="dropzone"
      onDragOver=${(e: DragEvent) => {
        e.preventDefault();
        setOver(true);
      }}
      onDragLeave=${() => setOver(false)}
      onDrop=${onDrop}
    >
      <p>${t("upload.drop")}</p>
      <div class="row wrap">
        <input id="file-input" ref=${fileInput} class="visually-hidden picker" type="file" multiple accept="image/*" onChange=${(e: Event) => { fromList((e.target as HTMLInputElement).files); (e.target as HTMLInputElement).value = ""; }} />
        <label class="button primary" for="file-input">${t("upload.choose")}</label>
        <input id="folder-input" class="visually-hidden picker" type="file" multiple webkitdirectory="" onChange=${(e: Event) => { fromList((e.target as HTMLInputElement).files); (e.target as HTMLInputElement).value = ""; }} />
        <label class="button" for="folder-input">${t("upload.chooseFolder")}</label>
      </div>
      <p class="muted small">${t("upload.pasteHint")}</p>
    </div>
    <details class="upload-options">
      <summary>${t("upload.options")}</summary>
      <div class="grid-form">
        <div class="field"><label for="up-folder">${t("upload.folder")}</label><input id="up-folder" value=${folder} placeholder=${t("upload.folderExample")} onInput=${(e: Event) => setFolder((e.target as HTMLInputElement).value)} /></div>
        <div class="field"><label for="up-tags">${t("upload.tags")}</label><input id="up-tags" value=${tags} placeholder=${t("upload.tagsExample")} onInput=${(e: Event) => setTags((e.target as HTMLInputElement).value)} /></div>
        <div class="field"><label for="up-vis">${t("upload.visibility")}</label>
          <select id="up-vis" value=${visibility} onChange=${(e: Event) => setVisibility((e.target as HTMLSelectElement).value as "public" | "private")}>
            <option value="public">${t("common.public")}</option><option value="private">${t("common.private")}</option>
          </select></div>
      </div>
    </details>
    ${items.length > 0 &&
    html`<div class="row between"><p class="muted" role="status" aria-live="polite">${active ? t("upload.inProgress", { n: active }) : t("upload.allDone")}</p>
        <button type="button" class="small" onClick=${() => setItems((l) => l.filter((i) => i.state !== "done"))}>${t("upload.clearDone")}</button></div>
      <ul class="uploads" aria-label=${t("upload.listLabel")}>
        ${items.map(
          (i) => html`<li class=${`upload ${i.state}`} data-name=${i.file.name}>
            <span class="name">${i.folder ? `${i.folder}/` : ""}${i.file.name}</span>
            <progress max="1" value=${i.progress} aria-label=${t("upload.progressOf", { name: i.file.name })}></progress>
            <span class="state">${i.state === "failed" ? i.error : t(`upload.state.${i.state}`)}</span>
            ${i.state === "failed" && html`<button type="button" class="small" onClick=${() => retry(i)}>${t("upload.retry")}</button>`}
          </li>`,
        )}
      </ul>`}
  </section>`;
}

/** The files under dropped folders, with their folder paths. */
async function walk(entries: FileSystemEntry[], prefix: string): Promise<{ file: File; folder: string }[]> {
  const out: { file: File; folder: string }[] = [];
  for (const entry of entries) {
    if (entry.isFile) {
      const file = await new Promise<File>((ok, fail) => (entry as FileSystemFileEntry).file(ok, fail));
      out.push({ file, folder: prefix });
    } else if (entry.isDirectory) {
      const reader = (entry as FileSystemDirectoryEntry).createReader();
      const children: FileSystemEntry[] = [];
      for (;;) {
        const batch = await new Promise<FileSystemEntry[]>((ok, fail) => reader.readEntries(ok, fail));
        if (!batch.length) break;
        children.push(...batch);
      }
      out.push(...(await walk(children, prefix ? `${prefix}/${entry.name}` : entry.name)));
    }
  }
  return out;
}
