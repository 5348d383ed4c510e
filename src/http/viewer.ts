import { Hono } from "hono";
import type { RouteEnv } from "./env.ts";
import { isPagePublic, viewerUrl } from "./imgpro/shape.ts";
import { cdnUrl } from "./native/shape.ts";
import { baseUrl } from "./urls.ts";

/** The services these routes use. */
type Env = RouteEnv<"config" | "images" | "users" | "ownHosts">;

// GET /p/{id}: the public viewer page of an image (img.pro's `url`), with the image, its name
// and Open Graph / Twitter card tags so a shared link unfurls. 404 unless the page is public.

const esc = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

const page = (title: string, body: string, head = "") => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
${head}
<style>body{margin:0;background:#111;color:#eee;font:16px system-ui,sans-serif;display:flex;flex-direction:column;align-items:center;min-height:100vh;justify-content:center}img{max-width:100vw;max-height:90vh}h1{font-size:1rem;font-weight:400;margin:.75rem}</style>
</head>
<body>
${body}
</body>
</html>
`;

export const viewerRoutes = new Hono<Env>().get("/:id", async (c) => {
  const { images, users } = c.var.services;
  const img = await images.byId(c.req.param("id"));
  const owner = img && isPagePublic(img) ? await users.byId(img.user_id) : undefined;
  c.header("X-Content-Type-Options", "nosniff");
  c.header(
    "Content-Security-Policy",
    "default-src 'none'; img-src * data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; sandbox",
  );
  if (!img || !owner) return c.html(page("Not found", "<h1>Image not found</h1>"), 404);
  const base = baseUrl(c);
  const src = cdnUrl(base, owner.username, img.paths[0] ?? img.sanitized_filename);
  const large = `${src}?size=l`;
  const meta = [
    ["og:type", "website"],
    ["og:title", img.original_filename],
    ["og:url", viewerUrl(base, img.id)],
    ["og:image", large],
    ["og:image:width", String(img.width)],
    ["og:image:height", String(img.height)],
  ]
    .map(([p, v]) => `<meta property="${p}" content="${esc(v)}">`)
    .concat(
      [
        ["twitter:card", "summary_large_image"],
        ["twitter:title", img.original_filename],
        ["twitter:image", large],
      ].map(([n, v]) => `<meta name="${n}" content="${esc(v)}">`),
    )
    .join("\n");
  // Short: a page made private or an image deleted should stop showing soon.
  c.header("Cache-Control", "public, max-age=60");
  return c.html(
    page(
      img.original_filename,
      `<img src="${esc(large)}" alt="${esc(img.original_filename)}" width="${img.width}" height="${img.height}">\n<h1>${esc(img.original_filename)}</h1>`,
      meta,
    ),
  );
});
