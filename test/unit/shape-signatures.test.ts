import { expect, test } from "bun:test";
import { createHash, createHmac } from "node:crypto";
import {
  checkImgixSignature,
  checkImgproxySignature,
  checkThumborSignature,
} from "../../src/domain/delivery/shape-signatures.ts";
import { AppError } from "../../src/domain/errors.ts";

// The signatures of the tools' URL shapes, made here as their docs describe them, without a
// server: truncated imgproxy signatures, thumbor's padding, imgix's md5.

const status = (f: () => void) => {
  try {
    f();
    return 200;
  } catch (e) {
    return e instanceof AppError ? e.status : 500;
  }
};

test("imgproxy: HMAC-SHA256 over salt and path, truncated to IMGD_IMGPROXY_SIGNATURE_SIZE", () => {
  const [key, salt, path] = ["0a0b", "0c0d", "/w:100/plain/local:///admin/a.jpg"];
  const mac = createHmac("sha256", Buffer.from(key, "hex")).update(Buffer.from(salt, "hex")).update(path).digest();
  const s = { key, salt, size: 32, insecure: false };
  expect(status(() => checkImgproxySignature(mac.toString("base64url"), path, s))).toBe(200);
  const short = mac.subarray(0, 8).toString("base64url");
  expect(status(() => checkImgproxySignature(short, path, s))).toBe(403);
  expect(status(() => checkImgproxySignature(short, path, { ...s, size: 8 }))).toBe(200);
  expect(status(() => checkImgproxySignature("insecure", path, s))).toBe(403);
  expect(status(() => checkImgproxySignature("insecure", path, { size: 32, insecure: true }))).toBe(200);
  // No key: nothing verifies.
  expect(status(() => checkImgproxySignature(short, path, { size: 8, insecure: true }))).toBe(403);
});

test("thumbor: HMAC-SHA1 of the path, url-safe base64 with or without padding", () => {
  const path = "100x0/i/admin/a.jpg";
  const mac = createHmac("sha1", "k").update(path).digest("base64").replace(/\+/g, "-").replace(/\//g, "_");
  expect(status(() => checkThumborSignature(mac, path, "k", false))).toBe(200);
  expect(status(() => checkThumborSignature(mac.replace(/=+$/, ""), path, "k", false))).toBe(200);
  expect(status(() => checkThumborSignature(mac, `${path}x`, "k", false))).toBe(403);
  expect(status(() => checkThumborSignature("unsafe", path, "k", false))).toBe(403);
  expect(status(() => checkThumborSignature("unsafe", path, undefined, true))).toBe(200);
});

test("imgix: md5 of token, path and the query before s=", () => {
  const q = "ixlib=js-3.8.0&w=100";
  const s = createHash("md5").update(`t/i/admin/a.jpg?${q}`).digest("hex");
  expect(status(() => checkImgixSignature("t", "/i/admin/a.jpg", `${q}&s=${s}`))).toBe(200);
  expect(status(() => checkImgixSignature("t", "/i/admin/a.jpg", `${q}&s=${s}&s=${s}`))).toBe(403);
  expect(status(() => checkImgixSignature("t", "/i/admin/b.jpg", `${q}&s=${s}`))).toBe(403);
  expect(status(() => checkImgixSignature("t", "/i/admin/a.jpg", q))).toBe(403);
});
