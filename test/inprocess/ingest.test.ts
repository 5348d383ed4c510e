import { afterAll, beforeAll, expect, test } from "bun:test";
import { decode, makeImage } from "../helpers/images.ts";
import { type Instance, instance, refusal, upload } from "./instance.ts";

// Ingest's rules, called as the routes call it, without a socket.

let t: Instance;

beforeAll(async () => {
  t = await instance({ plans: JSON.stringify({ tiny: { max_upload_bytes: 3000 } }) });
});

afterAll(() => t?.close());

/** How many live images a tenant has. */
async function count(userId: string) {
  return Number((await t.imgd.services.images.list(userId, { limit: 1, offset: 0, sort: "newest" })).total);
}

test("the same bytes twice are one image: the second upload adds a path, not a copy", async () => {
  const bytes = await makeImage(120, 80, "png");
  const first = await upload(t.imgd, t.admin, bytes, { filename: "one.png" });
  const second = await upload(t.imgd, t.admin, bytes, { filename: "two.png" });
  expect(first.isNew).toBe(true);
  expect(second.isNew).toBe(false);
  expect(second.image.id).toBe(first.image.id);
  expect(second.image.paths.sort()).toEqual(["one.png", "two.png"]);
  const image = await t.imgd.services.images.byId(first.image.id);
  expect(image).toMatchObject({ width: 120, height: 80, format: "png", size: bytes.byteLength });
  // Different bytes are a new image.
  const other = await upload(t.imgd, t.admin, await makeImage(121, 80, "png"), { filename: "one.png" });
  expect(other.isNew).toBe(true);
  expect(other.image.id).not.toBe(first.image.id);
  expect(other.image.paths).toEqual(["one-1.png"]);
});

test("a private upload never joins a public image of the same bytes", async () => {
  const bytes = await makeImage(90, 90, "jpg");
  const pub = await upload(t.imgd, t.admin, bytes, { filename: "shared.jpg" });
  expect(pub.image.visibility).toBe("public");
  const priv = await upload(t.imgd, t.admin, bytes, { filename: "secret.jpg", visibility: "private" });
  expect(priv.isNew).toBe(true);
  expect(priv.image.id).not.toBe(pub.image.id);
  expect(priv.image.visibility).toBe("private");
  expect(priv.image.paths).toEqual(["secret.jpg"]);
  // The public image did not gain the private path; both keep the same blob.
  expect((await t.imgd.services.images.byId(pub.image.id))!.paths).toEqual(["shared.jpg"]);
  expect(priv.image.blob_hash).toBe(pub.image.blob_hash);
  // A second private upload of the bytes joins the private one.
  const again = await upload(t.imgd, t.admin, bytes, { filename: "secret-2.jpg", visibility: "private" });
  expect(again.image.id).toBe(priv.image.id);
});

test("the plan's upload limit refuses a larger file, declared or streamed, and keeps nothing", async () => {
  const { users } = t.imgd.services;
  const small = await users.create({ username: "tiny", plan: "tiny" });
  const before = await count(small.id);
  const big = await makeImage(200, 200, "png");
  expect(big.byteLength).toBeGreaterThan(3000);
  // Declared: refused before a byte is read.
  const declared = await refusal(upload(t.imgd, small, big, { filename: "big.png" }));
  expect(declared).toMatchObject({ code: "PAYLOAD_TOO_LARGE", status: 413 });
  expect(declared.message).toContain("3000 bytes");
  // Not declared (a chunked body): cut off while streaming.
  const streamed = await refusal(upload(t.imgd, small, big, { filename: "big.png" }, null));
  expect(streamed).toMatchObject({ code: "PAYLOAD_TOO_LARGE", status: 413 });
  expect(await count(small.id)).toBe(before);
  // Under the limit, the same account uploads; the server's own limit holds the admin.
  const fits = await makeImage(16, 16, "png");
  expect(fits.byteLength).toBeLessThan(3000);
  const ok = await upload(t.imgd, small, fits, { filename: "small.png" });
  expect(ok.isNew).toBe(true);
  expect((await upload(t.imgd, t.admin, big, { filename: "big.png" })).isNew).toBe(true);
});

test("bytes that are not a whole image are refused and nothing is kept", async () => {
  const good = await makeImage(64, 64, "jpg");
  const cut = good.subarray(0, good.byteLength - 200);
  const before = await count(t.admin.id);
  const r = await refusal(upload(t.imgd, t.admin, cut, { filename: "cut.jpg" }));
  expect(r).toMatchObject({ code: "INVALID_FILE", status: 400 });
  expect(r.message).toContain("truncated");
  expect(await count(t.admin.id)).toBe(before);
  // The whole file still uploads and decodes to what was sent.
  const stored = await upload(t.imgd, t.admin, good, { filename: "whole.jpg" });
  expect(stored.image).toMatchObject({ width: 64, height: 64, format: "jpeg" });
  expect(await decode(good)).toMatchObject({ width: 64, height: 64 });
});
