// imgd inside another Bun server: the host app owns the listener and its own routes, and
// mounts imgd under /photos with a data directory of its own.
//   bun examples/embed-bun.ts            → http://localhost:3000/ and http://localhost:3000/photos/…
import { createImgd } from "../src/index.ts";

const imgd = await createImgd({ dataDir: "./example-data", basePath: "/photos" });
const key = await imgd.createAdminKey("example host");

const server = Bun.serve({
  port: Number(process.env.PORT ?? 3000),
  async fetch(req, srv) {
    const { pathname } = new URL(req.url);
    if (pathname === "/photos" || pathname.startsWith("/photos/")) {
      return imgd.fetch(req, { remoteAddress: srv.requestIP(req)?.address });
    }
    if (pathname === "/") {
      return new Response(
        `Host app. imgd is mounted at /photos.\nTry: curl -H "Authorization: Bearer ${key}" -F file=@photo.jpg ${srv.url}photos/api/v1/images\n`,
      );
    }
    return new Response("not found", { status: 404 });
  },
});
console.log(`host listening on ${server.url} (imgd under /photos); admin key for this run: ${key}`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, async () => {
    await server.stop();
    await imgd.close();
    process.exit(0);
  });
}
