import { afterAll, beforeAll, expect, test } from "bun:test";
import { decode, makeImage } from "../helpers/images.ts";
import { type TestServer, form, startServer } from "../helpers/server.ts";

// An upload that asks for `private` never ends up served publicly: bytes the tenant already has
// as a public image become a private image of their own (sharing the stored blob), not an alias
// of the public one.
let s: TestServer;
let jpeg: Uint8Array;
beforeAll(async () => {
  s = await startServer();
  jpeg = await makeImage(320, 240, "jpg");
});
afterAll(() => s.stop());

const upload = async (fields: Record<string, string>) => {
  const res = await s.api("/api/v1/images", {
    method: "POST",
    body: form({ file: { bytes: jpeg, filename: "photo.jpg", type: "image/jpeg" }, ...fields }),
  });
  return { status: res.status, body: (await res.json()) as any };
};

test("the same bytes uploaded private next to a public copy stay private", async () => {
  const pub = await upload({ path: "pub/photo.jpg" });
  expect(pub.status).toBe(201);
  expect(pub.body.visibility).toBe("public");

  const priv = await upload({ path: "secret/copy.jpg", visibility: "private" });
  expect(priv.status).toBe(201);
  expect(priv.body.visibility).toBe("private");
  expect(priv.body.id).not.toBe(pub.body.id);
  expect(priv.body.paths).toEqual(["secret/copy.jpg"]);

  // The attacker's view: no key, no signature.
  const anon = await fetch(`${s.url}/i/admin/secret/copy.jpg`);
  expect(anon.status).toBe(403);
  expect(anon.headers.get("content-type")).toContain("json");
  const anonVariant = await fetch(`${s.url}/i/admin/secret/copy.webp?w=100`);
  expect(anonVariant.status).toBe(403);
  // The public copy is untouched, and still public.
  const open = await fetch(`${s.url}/i/admin/pub/photo.jpg`);
  expect(open.status).toBe(200);
  expect(await decode(new Uint8Array(await open.arrayBuffer()))).toMatchObject({ format: "jpeg", width: 320 });
  // The owner reaches it through a signed URL, kept out of shared caches.
  const signed = (await (
    await s.api(`/api/v1/images/${priv.body.id}/signed-url`, { method: "POST", body: "{}" })
  ).json()) as any;
  expect(signed.signed_url).toContain("/secret/copy.jpg");
  const own = await fetch(signed.signed_url);
  expect(own.status).toBe(200);
  expect(own.headers.get("cache-control")).toStartWith("private");
  expect(await decode(new Uint8Array(await own.arrayBuffer()))).toMatchObject({ format: "jpeg", width: 320 });
  const meta = (await (await s.api(`/api/v1/images/${priv.body.id}`)).json()) as any;
  expect(meta.visibility).toBe("private");
});

test("an upload with the same visibility still joins the existing image (deduplicated by content)", async () => {
  const first = await upload({ path: "same/a.jpg", visibility: "private" });
  const again = await upload({ path: "same/b.jpg", visibility: "private" });
  expect(again.status).toBe(201);
  expect(again.body.id).toBe(first.body.id);
  expect(again.body.is_new).toBe(false);
  expect(again.body.visibility).toBe("private");
  expect((await fetch(`${s.url}/i/admin/same/b.jpg`)).status).toBe(403);
});

test("an explicit path held by the public copy is a 409 naming the path, not a silent alias", async () => {
  await upload({ path: "clash/photo.jpg" });
  const clash = await upload({ path: "clash/photo.jpg", visibility: "private" });
  expect(clash.status).toBe(409);
  expect(JSON.stringify(clash.body)).toContain("clash/photo.jpg");
  expect((await fetch(`${s.url}/i/admin/clash/photo.jpg`)).status).toBe(200);
});
