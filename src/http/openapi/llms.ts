import type { Json } from "./json.ts";

// /llms.txt: a short plain-text guide for coding agents, written from the same document.

export function llmsTxt(doc: Json, origin: string): string {
  const lines: string[] = [
    `# ${doc.info.title} ${doc.info.version}`,
    "",
    `> ${doc.info.description}`,
    "",
    "## Essentials",
    "",
    `- Full OpenAPI 3.1 document: ${origin}/openapi.json (native part: ${origin}/api-reference/openapi.json). Interactive: ${origin}/docs`,
    "- Authenticate with `Authorization: Bearer <api key>`; never put a key in the URL (refused with 400).",
    `- Upload: \`curl -H "Authorization: Bearer $KEY" -F file=@photo.jpg -F target_path=blog ${origin}/api/v1/images\` → JSON with \`id\`, \`url\`, \`paths\`.`,
    "- Deliver: `GET /i/{username}/{path}.{webp|avif|jpg|png|jxl}?w=800&h=600&fit=cover&q=80` (or `?p:presetname`); answers are immutable and cached.",
    '- Errors: `{"error": {"code", "message", "status", "path"}}` (native); the message says what to do. 429/503 carry Retry-After.',
    '- TypeScript: `import { createImgdClient } from "imgd/client"` — typed from this document; `upload()` reports progress.',
    "",
  ];
  const byTag = new Map<string, string[]>();
  for (const [path, item] of Object.entries<Json>(doc.paths)) {
    for (const [method, op] of Object.entries<Json>(item)) {
      const tag = op.tags?.[0] ?? "other";
      const auth = op.security?.length ? "" : " (no auth)";
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag)!.push(`- ${method.toUpperCase()} ${path}: ${op.summary}${auth}`);
    }
  }
  for (const t of doc.tags as Json[]) {
    const ops = byTag.get(t.name);
    if (!ops) continue;
    lines.push(`## ${t.name}`, "", t.description, "", ...ops, "");
  }
  return lines.join("\n");
}
