import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { decode, makeImage } from "../helpers/images.ts";
import { type TestServer, form, startServer } from "../helpers/server.ts";
import { blobExists, query, refusedImgpro, snapshot } from "../helpers/store.ts";

// /v1/media, its batch routes, /v1/namespaces and /v1/usage.

let s: TestServer;
let small: Uint8Array;
beforeAll(async () => {
  s = await startServer();
  small = await makeImage(64, 48, "png");
});
afterAll(() => s.stop());

const json = (method: string, path: string, body: unknown) =>
  s.api(path, { method, headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
async function upload(fields: Record<string, string> = {}, bytes = small) {
  const res = await s.api("/v1/upload", {
    method: "POST",
    body: form({ file: { bytes, filename: "m.png" }, ...fields }),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as any;
}
const list = async (q: string) => {
  const res = await s.api(`/v1/media?${q}`);
  expect(res.status).toBe(200);
  return (await res.json()) as any;
};

describe("listing", () => {
  test("filters: namespace, tags any/all, ids", async () => {
    const a = await upload({ namespace: "lib-a", tags: "red,big" });
    const b = await upload({ namespace: "lib-a", tags: "red" });
    const c = await upload({ namespace: "lib-b", tags: "big" });
    expect((await list("namespace=lib-a")).data.map((i: any) => i.id)).toEqual([b.id, a.id]);
    expect((await list("namespace=lib-a&tags=red,big&tag_mode=all")).data.map((i: any) => i.id)).toEqual([a.id]);
    expect((await list("tags=big&tag_mode=any")).data.map((i: any) => i.id)).toEqual([c.id, a.id]);
    expect((await list(`ids=${a.id},${c.id}`)).data.map((i: any) => i.id)).toEqual([c.id, a.id]);
    const item = (await list(`ids=${a.id}`)).data[0];
    expect(item).toMatchObject({
      id: a.id,
      width: 64,
      height: 48,
      tags: ["big", "red"],
      namespace: "lib-a",
      editable: true,
    });
    for (const bad of [
      "limit=0",
      "limit=101",
      "limit=x",
      "tag_mode=some",
      "namespace=A_b",
      `ids=${"x,".repeat(101)}`,
    ]) {
      const res = await s.api(`/v1/media?${bad}`);
      expect({ bad, status: res.status }).toEqual({ bad, status: 400 });
      expect(((await res.json()) as any).error.code).toBe("validation_error");
    }
  });

  test("the cursor stays correct while items are added and deleted; a tampered one is refused", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await upload({ namespace: "paged" })).id);
    const newestFirst = [...ids].reverse();
    const p1 = await list("namespace=paged&limit=2");
    expect(p1.data.map((i: any) => i.id)).toEqual(newestFirst.slice(0, 2));
    expect(p1.has_more).toBe(true);
    expect(typeof p1.next_cursor).toBe("string");
    // Added (newer than the cursor) and deleted (the cursor's own item and the next one).
    await upload({ namespace: "paged" });
    expect((await s.api(`/v1/media/${newestFirst[1]}`, { method: "DELETE" })).status).toBe(204);
    expect((await s.api(`/v1/media/${newestFirst[2]}`, { method: "DELETE" })).status).toBe(204);
    const p2 = await list(`namespace=paged&limit=2&cursor=${encodeURIComponent(p1.next_cursor)}`);
    expect(p2.data.map((i: any) => i.id)).toEqual(newestFirst.slice(3, 5));
    expect(p2.has_more).toBe(false);
    expect(p2.next_cursor).toBeNull();

    const [payload, sig] = p1.next_cursor.split(".");
    const forged = Buffer.from(JSON.stringify({ after: "ffffffff-ffff-7fff-bfff-ffffffffffff" })).toString("base64url");
    // The last character changed (to "A", or "B" where it already is "A": a no-op is no tamper).
    const tampered = `${payload}.${sig.slice(0, -1)}${sig.endsWith("A") ? "B" : "A"}`;
    for (const bad of [`${forged}.${sig}`, tampered, "garbage", `${payload}`, "eyJpZCI6MTIzfQ"]) {
      const res = await s.api(`/v1/media?cursor=${encodeURIComponent(bad)}`);
      expect(res.status).toBe(400);
      const body = (await res.json()) as any;
      expect(body.error).toMatchObject({ code: "validation_error", errors: { cursor: expect.any(String) } });
    }
  });
});

describe("one item", () => {
  test("GET: public without auth (not editable), PATCH merges, null removes, tags replace, namespace moves", async () => {
    const a = await upload({ namespace: "edit", tags: "one,two", camera: "X100", description: "old" });
    const anon = (await (await s.api(`/v1/media/${a.id}`, { key: null })).json()) as any;
    expect(anon.editable).toBeUndefined();
    expect(anon.camera).toBe("X100");
    const res = await json("PATCH", `/v1/media/${a.id}`, {
      tags: ["Featured"],
      description: "Updated caption",
      camera: null,
      alt_text: "A vivid sunset",
      namespace: "moved",
      name: "new.png",
      date: "2024-02-01",
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body).toMatchObject({
      id: a.id,
      tags: ["featured"],
      description: "Updated caption",
      alt_text: "A vivid sunset",
      namespace: "moved",
      name: "new.png",
      date: "2024-02-01",
      editable: true,
    });
    expect(body.camera).toBeUndefined();
    expect(JSON.parse(query(s.dataDir, "select metadata from images where id = ?", a.id)[0].metadata)).toEqual({
      description: "Updated caption",
      alt_text: "A vivid sunset",
    });
    expect((await list("namespace=edit")).data.find((i: any) => i.id === a.id)).toBeUndefined();
    expect((await list("namespace=moved")).data.map((i: any) => i.id)).toContain(a.id);
    // public=false: the viewer page and anonymous reads go, the owner still sees it.
    await json("PATCH", `/v1/media/${a.id}`, { public: false });
    expect((await s.api(`/v1/media/${a.id}`, { key: null })).status).toBe(404);
    expect((await fetch(`${s.url}/p/${a.id}`)).status).toBe(404);
  });

  test("PATCH refusals: external_id_duplicate, bad fields, unknown id; nothing changes", async () => {
    const a = await upload({ external_id: "ext-a" });
    const b = await upload({ external_id: "ext-b" });
    const before = snapshot(s.dataDir);
    await refusedImgpro(
      await json("PATCH", `/v1/media/${b.id}`, { external_id: "ext-a", description: "should not stick" }),
      409,
      "external_id_duplicate",
      s.dataDir,
      before,
    );
    await refusedImgpro(
      await json("PATCH", `/v1/media/${b.id}`, { tags: Array.from({ length: 11 }, (_, i) => `t${i}`) }),
      400,
      "validation_error",
      s.dataDir,
      before,
    );
    await refusedImgpro(
      await json("PATCH", `/v1/media/${b.id}`, { namespace: "A_b" }),
      400,
      "validation_error",
      s.dataDir,
      before,
    );
    await refusedImgpro(
      await json("PATCH", `/v1/media/${b.id}`, { width: 5 }),
      400,
      "validation_error",
      s.dataDir,
      before,
    );
    await refusedImgpro(
      await json("PATCH", `/v1/media/${b.id}`, { note: { nested: true } }),
      400,
      "validation_error",
      s.dataDir,
      before,
    );
    await refusedImgpro(
      await json("PATCH", `/v1/media/${b.id}`, { note: "z".repeat(20_000) }),
      400,
      "validation_error",
      s.dataDir,
      before,
    );
    await refusedImgpro(
      await json("PATCH", "/v1/media/01900000-0000-7000-8000-000000000000", { note: "x" }),
      404,
      "not_found",
      s.dataDir,
      before,
    );
    expect((await json("PATCH", `/v1/media/${a.id}`, { external_id: "ext-a" })).status).toBe(200);
  });

  test("DELETE: 204, gone from every route, variants and the unreferenced blob removed", async () => {
    const bytes = await makeImage(50, 40, "jpg");
    const a = await upload({}, bytes);
    // Make a variant.
    const v = await fetch(`${a.src.replace(/\.jpeg$/, ".webp")}?w=20`);
    expect((await decode(new Uint8Array(await v.arrayBuffer()))).width).toBe(20);
    const hash = createHash("sha256").update(bytes).digest("hex");
    expect(blobExists(s.dataDir, hash)).toBe(true);
    expect(query(s.dataDir, "select count(*) n from variants where blob_hash = ?", hash)[0].n).toBe(1);
    const res = await s.api(`/v1/media/${a.id}`, { method: "DELETE" });
    expect(res.status).toBe(204);
    expect(await res.text()).toBe("");
    expect(blobExists(s.dataDir, hash)).toBe(false);
    expect(query(s.dataDir, "select count(*) n from variants where blob_hash = ?", hash)[0].n).toBe(0);
    expect((await fetch(a.src)).status).toBe(404);
    expect((await fetch(`${a.src.replace(/\.jpeg$/, ".webp")}?w=20`)).status).toBe(404);
    expect((await s.api(`/v1/media/${a.id}`)).status).toBe(404);
    expect((await s.api(`/api/v1/images/${a.id}`)).status).toBe(404);
    expect((await s.api(`/v1/media/${a.id}`, { method: "DELETE" })).status).toBe(404);
  });
});

describe("batch", () => {
  test("PATCH tags add/remove/set; DELETE by ids and by namespace", async () => {
    const items = [
      await upload({ namespace: "batch", tags: "keep" }),
      await upload({ namespace: "batch" }),
      await upload({ namespace: "batch" }),
    ];
    const ids = items.map((i) => i.id);
    const tagsOf = async (id: string) => ((await (await s.api(`/v1/media/${id}`)).json()) as any).tags ?? [];
    let r = await json("PATCH", "/v1/media/batch", { ids, tags: ["processed"], tag_mode: "add" });
    expect(await r.json()).toEqual({ updated: 3 });
    expect(await tagsOf(ids[0])).toEqual(["keep", "processed"]);
    r = await json("PATCH", "/v1/media/batch", {
      ids: [ids[0], "01900000-0000-7000-8000-000000000000"],
      tags: ["keep"],
      tag_mode: "remove",
    });
    expect(await r.json()).toEqual({ updated: 1 });
    expect(await tagsOf(ids[0])).toEqual(["processed"]);
    r = await json("PATCH", "/v1/media/batch", { ids, tags: "final", tag_mode: "set" });
    expect(await r.json()).toEqual({ updated: 3 });
    expect(await Promise.all(ids.map(tagsOf))).toEqual([["final"], ["final"], ["final"]]);

    r = await json("DELETE", "/v1/media/batch", { ids: [ids[0]] });
    expect(await r.json()).toEqual({ deleted: 1 });
    r = await json("DELETE", "/v1/media/batch", { namespace: "batch" });
    expect(await r.json()).toEqual({ deleted: 2 });
    expect((await list("namespace=batch")).data).toEqual([]);
  });

  test("101 ids, both ids and namespace, bad tag_mode: refused, nothing changes", async () => {
    const a = await upload({ namespace: "batch-bad" });
    const before = snapshot(s.dataDir);
    const ids = Array.from({ length: 101 }, () => a.id);
    await refusedImgpro(
      await json("PATCH", "/v1/media/batch", { ids, tags: ["x"] }),
      400,
      "validation_error",
      s.dataDir,
      before,
    );
    await refusedImgpro(await json("DELETE", "/v1/media/batch", { ids }), 400, "validation_error", s.dataDir, before);
    await refusedImgpro(
      await json("DELETE", "/v1/media/batch", { ids: [a.id], namespace: "batch-bad" }),
      400,
      "validation_error",
      s.dataDir,
      before,
    );
    await refusedImgpro(await json("DELETE", "/v1/media/batch", {}), 400, "validation_error", s.dataDir, before);
    await refusedImgpro(
      await json("PATCH", "/v1/media/batch", { ids: [a.id], tags: ["x"], tag_mode: "toggle" }),
      400,
      "validation_error",
      s.dataDir,
      before,
    );
    await refusedImgpro(
      await json("PATCH", "/v1/media/batch", {
        ids: [a.id],
        tags: Array.from({ length: 11 }, (_, i) => `n${i}`),
        tag_mode: "add",
      }),
      400,
      "validation_error",
      s.dataDir,
      before,
    );
  });
});

describe("namespaces and usage", () => {
  test("namespaces with counts and bytes; usage in the reference's shape", async () => {
    const s2 = await startServer();
    try {
      const up = (ns: string) =>
        s2.api("/v1/upload", {
          method: "POST",
          body: form({ file: { bytes: small, filename: "n.png" }, namespace: ns }),
        });
      for (const ns of ["beta", "beta", "alpha"]) expect((await up(ns)).status).toBe(201);
      const n = (await (await s2.api("/v1/namespaces")).json()) as any;
      expect(n).toEqual({
        data: [
          { namespace: "beta", count: 2, storage_bytes: 2 * small.length },
          { namespace: "alpha", count: 1, storage_bytes: small.length },
        ],
        next_offset: null,
      });
      const paged = (await (await s2.api("/v1/namespaces?limit=1")).json()) as any;
      expect(paged).toMatchObject({ data: [{ namespace: "beta" }], next_offset: 1 });
      const res = await s2.api("/v1/usage");
      const u = (await res.json()) as any;
      expect(u).toEqual({
        monthly: { uploads: 3, uploads_limit: null, uploads_remaining: null, resets_at: expect.any(Number) },
        totals: {
          media_stored: 3,
          storage_used_bytes: 3 * small.length,
          storage_limit_bytes: null,
          storage_remaining_bytes: null,
        },
        plan: "unlimited",
        verified: true,
      });
      expect(new Date(u.monthly.resets_at * 1000).getUTCDate()).toBe(1);
      expect(res.headers.get("x-monthly-uploads-used")).toBe("3");
      expect(res.headers.get("x-storage-used")).toBe(String(3 * small.length));
      // Errors of authenticated requests carry them too; unauthenticated ones do not.
      const nf = await s2.api("/v1/media/nope");
      expect(nf.status).toBe(404);
      expect(nf.headers.get("x-storage-used")).toBe(String(3 * small.length));
      const unauth = await s2.api("/v1/usage", { key: null });
      expect(unauth.status).toBe(401);
      expect(unauth.headers.get("x-storage-used")).toBeNull();
    } finally {
      await s2.stop();
    }
  });
});
