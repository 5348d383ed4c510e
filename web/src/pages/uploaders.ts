import { useState } from "preact/hooks";
import { absolute, post } from "../api.ts";
import { t } from "../i18n.ts";
import { ErrorNote, html, Page } from "../ui.ts";

// Screenshot tools that upload straight to imgd: a ShareX custom uploader (.sxcu) and a shell
// script for Flameshot (or any tool that writes a PNG), each with a key made for it.

export function sharexConfig(endpoint: string, key: string): string {
  return JSON.stringify(
    {
      Version: "15.0.0",
      Name: `imgd (${new URL(endpoint).host})`,
      DestinationType: "ImageUploader, FileUploader",
      RequestMethod: "POST",
      RequestURL: endpoint,
      Headers: { Authorization: `Bearer ${key}` },
      Body: "MultipartFormData",
      FileFormName: "file",
      URL: "{json:url}",
      ThumbnailURL: "{json:available_formats.webp}?w=320",
      ErrorMessage: "{json:error.message}",
    },
    null,
    2,
  );
}

export function flameshotScript(endpoint: string, key: string): string {
  return `#!/bin/sh
# Upload a screenshot to imgd and copy its link. Bind this script to a keyboard shortcut.
# Needs curl; uses flameshot when installed (else pass a file: imgd-upload.sh shot.png).
set -eu
IMGD_KEY='${key}'
IMGD_URL='${endpoint}'
if [ $# -gt 0 ]; then file=$1; else
  file=$(mktemp /tmp/imgd-XXXXXX.png)
  trap 'rm -f "$file"' EXIT
  flameshot gui -r > "$file"
  [ -s "$file" ] || exit 0   # cancelled
fi
answer=$(curl -fsS -H "Authorization: Bearer $IMGD_KEY" -F "file=@$file" "$IMGD_URL")
link=$(printf '%s' "$answer" | sed -n 's/.*"url":"\\([^"]*\\)".*/\\1/p')
printf '%s' "$link" | { wl-copy 2>/dev/null || xclip -selection clipboard 2>/dev/null || xsel -b 2>/dev/null || true; }
notify-send imgd "$link" 2>/dev/null || true
echo "$link"
`;
}

function download(name: string, text: string, type: string) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function UploadersPage() {
  const [error, setError] = useState<Error | null>(null);
  const endpoint = absolute("/api/v1/images");
  const make = async (tool: "sharex" | "flameshot") => {
    setError(null);
    try {
      const { key } = await post("/api/v1/settings/api-keys", { name: tool === "sharex" ? "ShareX" : "Flameshot", scopes: ["write"] });
      if (tool === "sharex") download(`imgd-${location.hostname}.sxcu`, sharexConfig(endpoint, key), "application/json");
      else download("imgd-upload.sh", flameshotScript(endpoint, key), "text/x-shellscript");
    } catch (err) {
      setError(err as Error);
    }
  };
  return html`<${Page} title=${t("uploaders.title")}>
    <p>${t("uploaders.intro")}</p>
    <${ErrorNote} error=${error} />
    <div class="split">
      <section class="card stack" aria-labelledby="sharex">
        <h2 id="sharex">ShareX</h2>
        <p>${t("uploaders.sharex")}</p>
        <button type="button" class="primary" onClick=${() => make("sharex")}>${t("uploaders.sharexButton")}</button>
      </section>
      <section class="card stack" aria-labelledby="flameshot">
        <h2 id="flameshot">Flameshot / curl</h2>
        <p>${t("uploaders.flameshot")}</p>
        <button type="button" class="primary" onClick=${() => make("flameshot")}>${t("uploaders.flameshotButton")}</button>
      </section>
    </div>
    <p class="muted small">${t("uploaders.keyNote")}</p>
  <//>`;
}
