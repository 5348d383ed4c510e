import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Requester } from "../../src/domain/delivery/access.ts";
import type { Delivered } from "../../src/domain/delivery/deliver.ts";
import { imgwireDelivery } from "../../src/domain/delivery/imgwire.ts";
import { nativeDelivery } from "../../src/domain/delivery/native.ts";
import { sign } from "../../src/domain/delivery/signing.ts";
import { decode, makeImage, pixel } from "../helpers/images.ts";
import { type Instance, instance, refusal, upload } from "./instance.ts";

// Delivery's rules, called as the routes call it, without a socket: the URL as a dialect's
// parser reads it, then the one delivery pipeline.

let t: Instance;
let ownerKey: string;

beforeAll(async () => {
  t = await instance();
  ownerKey = (await t.imgd.services.keys.create(t.admin.id, { name: "owner", scopes: ["read"] })).secret;
});

afterAll(() => t?.close());

const anonymous: Requester = { address: "192.0.2.10" };
const owner = (): Requester => ({ address: "192.0.2.11", authorization: `Bearer ${ownerKey}` });

/** `GET /i/{username}/{path}?{query}` as the native route asks delivery for it. */
function native(path: string, query = "", requester: Requester = anonymous) {
  const request = nativeDelivery(
    { username: "admin", path, search: new URLSearchParams(query), accept: "image/webp,*/*", requester },
    { access: "signed" },
  );
  return t.imgd.services.delivery.deliver(request).then((r) => r.delivered);
}

/** An Imgwire CDN URL (`/cdn/{username}/{path}?{query}`) as its route asks delivery for it. */
function imgwire(path: string, query: string, requester: Requester = anonymous) {
  const request = imgwireDelivery({
    username: "admin",
    path,
    search: new URLSearchParams(query),
    accept: "image/webp",
    requester,
  });
  return t.imgd.services.delivery.deliver(request).then((r) => r.delivered);
}

/** The bytes a delivery answered with. */
async function bytesOf(d: Delivered | "not-modified"): Promise<Uint8Array> {
  if (d === "not-modified") throw new Error("expected bytes, got not-modified");
  return d.bytes ?? new Uint8Array(await new Response(d.object!.body()).arrayBuffer());
}

/** How many transforms the instance made (its Prometheus histogram's count, all formats). */
async function transforms(): Promise<number> {
  const text = await t.imgd.services.telemetry.text();
  return [...text.matchAll(/^imgd_transform_duration_seconds_count\{[^}]*\} (\d+)/gm)].reduce(
    (n, m) => n + Number(m[1]),
    0,
  );
}

test("a private image: refused without a signature, served with one and to its owner, private in caches", async () => {
  await upload(t.imgd, t.admin, await makeImage(100, 50, "png"), { filename: "hidden.png", visibility: "private" });
  const refused = await refusal(native("hidden.png"));
  expect(refused).toMatchObject({ code: "FORBIDDEN", status: 403 });
  expect(refused.message).toContain("signed URL");
  // A signature over another query does not cover this one.
  const expires = Math.floor(Date.now() / 1000) + 600;
  const query = new URLSearchParams({ w: "40" });
  const token = sign(t.imgd.services.tokens, "admin", "hidden.webp", query, expires);
  expect(await refusal(native("hidden.webp", `w=41&token=${token}&expires=${expires}`))).toMatchObject({
    status: 403,
  });
  const signed = await native("hidden.webp", `w=40&token=${token}&expires=${expires}`);
  expect(signed !== "not-modified" && signed.privateUntil).toBe(expires * 1000);
  expect(await decode(await bytesOf(signed))).toMatchObject({ format: "webp", width: 40, height: 20 });
  // The owner (its key or session) sees it unsigned; the answer stays private.
  const own = await native("hidden.png", "", owner());
  expect(own !== "not-modified" && own.cache).toBe("original");
  expect(own !== "not-modified" && own.privateUntil).toBeGreaterThan(Date.now());
  expect(await decode(await bytesOf(own))).toMatchObject({ format: "png", width: 100, height: 50 });
});

test("a new variant asked for twice at once is made once, and both get its bytes", async () => {
  await upload(t.imgd, t.admin, await makeImage(300, 200, "jpg"), { filename: "twice.jpg" });
  const before = await transforms();
  const [a, b] = await Promise.all([native("twice.webp", "w=120"), native("twice.webp", "w=120")]);
  expect(await transforms()).toBe(before + 1);
  const [bytesA, bytesB] = [await bytesOf(a), await bytesOf(b)];
  expect(Buffer.from(bytesA).equals(Buffer.from(bytesB))).toBe(true);
  expect(await decode(bytesA)).toMatchObject({ format: "webp", width: 120, height: 80 });
  // Asked again: from the cache, still no new transform.
  const again = await native("twice.webp", "w=120");
  expect(again !== "not-modified" && again.cache).toBe("hit");
  expect(await transforms()).toBe(before + 1);
});

test("a watermark by id of a private image is refused to an anonymous caller, as if there were none", async () => {
  const base = await upload(t.imgd, t.admin, await makeImage(200, 200, "png"), { filename: "base.png" });
  const mark = await upload(t.imgd, t.admin, await makeImage(40, 40, "png", { alpha: true }), {
    filename: "logo.png",
    visibility: "private",
  });
  const unknown = await refusal(imgwire("base.png", "watermark=img_doesnotexist"));
  const refused = await refusal(imgwire("base.png", `watermark=${mark.image.id}`));
  expect(refused).toMatchObject({ code: "NOT_FOUND", status: 404 });
  // The same answer as an id that names nothing: the id says nothing about private images.
  expect(refused.message).toBe(unknown.message.replace("img_doesnotexist", mark.image.id));
  // The owner may use it; the answer is then private, and the mark is in the pixels.
  const own = await imgwire("base.png", `watermark=${mark.image.id}&format=png`, owner());
  expect(own !== "not-modified" && own.privateUntil).toBeGreaterThan(Date.now());
  const out = await bytesOf(own);
  const plain = await bytesOf(await imgwire("base.png", "format=png"));
  expect(await decode(out)).toMatchObject({ width: 200, height: 200 });
  expect(await pixel(out, 190, 190)).not.toEqual(await pixel(plain, 190, 190));
  expect(base.image.visibility).toBe("public");
});
