import { expect, test } from "bun:test";
import { parsePins } from "../../src/domain/fetcher/fetcher.ts";
import { canonicalHost, OwnHosts } from "../../src/domain/site/hosts.ts";

// The names imgd answers as itself, decided from text alone (these addresses are only strings:
// nothing is looked up or contacted).

const hosts = (over: Partial<ConstructorParameters<typeof OwnHosts>[0]> = {}) =>
  new OwnHosts({ publicUrl: undefined, cdnHost: undefined, host: "0.0.0.0", basePath: "", ...over });

test("host names compare without case, trailing dots, brackets or ports", () => {
  expect(canonicalHost("LOCALHOST.")).toBe("localhost");
  expect(canonicalHost("Shop.Example.COM.:8443")).toBe("shop.example.com");
  expect(canonicalHost("[::1]:8080")).toBe("::1");
  expect(canonicalHost("::1")).toBe("::1");
});

test("loopback, unspecified, configured and listening names are imgd's own, in any spelling", () => {
  const h = hosts({ publicUrl: "https://img.example.com/base", cdnHost: "cdn.example.com:8080", host: "192.0.2.7" });
  h.listening("192.0.2.7", 8080);
  for (const name of [
    "localhost",
    "LOCALHOST.",
    "a.b.localhost",
    "127.0.0.1",
    "127.255.0.9",
    "0.0.0.0",
    "::1",
    "[::1]",
    "::",
    "::ffff:127.0.0.1",
    "[::ffff:7f00:1]",
    "img.example.com",
    "IMG.example.com.",
    "cdn.example.com",
    "192.0.2.7",
  ])
    expect({ name, own: h.isOwn(name) }).toEqual({ name, own: true });
  for (const name of ["shop.example.com", "example.com", "1.1.1.1"])
    expect({ name, own: h.isOwn(name) }).toEqual({ name, own: false });
});

test("what a tenant may claim as a custom domain", () => {
  const h = hosts({ publicUrl: "https://img.example.com" });
  for (const name of [
    "localhost",
    "LOCALHOST.",
    "x.localhost",
    "127.0.0.1",
    "8.8.8.8",
    "::1",
    "img.example.com",
    "Img.Example.Com.",
    "intranet",
    "printer.local",
    "db.internal",
    "nas.home.arpa",
    "1.0.0.127.in-addr.arpa",
  ])
    expect({ name, refused: h.claimRefusal(name) !== null }).toEqual({ name, refused: true });
  for (const name of ["images.example.com", "cdn.shop.example", "IMAGES.EXAMPLE.COM."])
    expect({ name, refused: h.claimRefusal(name) }).toEqual({ name, refused: null });
});

test("absolute URLs: the public URL, an own Host on the listening port, else the listening address", () => {
  expect(hosts({ publicUrl: "https://img.example.com/x" }).base("http://evil.example/p/1")).toBe(
    "https://img.example.com/x",
  );
  const h = hosts({ host: "127.0.0.1", basePath: "/media", cdnHost: "cdn.example.com" });
  h.listening("127.0.0.1", 8080);
  expect(h.base("http://evil.example/p/1")).toBe("http://127.0.0.1:8080/media");
  expect(h.base("http://evil.example:8080/p/1")).toBe("http://127.0.0.1:8080/media");
  expect(h.base("http://localhost:8080/p/1")).toBe("http://localhost:8080/media");
  expect(h.base("http://localhost:9999/p/1")).toBe("http://127.0.0.1:8080/media");
  expect(h.base("http://[::1]:8080/p/1")).toBe("http://[::1]:8080/media");
  // A configured name is believed on any port (a proxy in front answers on 443).
  expect(h.base("https://cdn.example.com/p/1")).toBe("https://cdn.example.com/media");
  const any = hosts();
  any.listening("0.0.0.0", 8080);
  expect(any.base("http://evil.example/p/1")).toBe("http://localhost:8080");
});

test("IMGD_RESOLVE pins names to an address and optionally a port", () => {
  const pins = parsePins("Shop.Example.com.=127.0.0.2, v6.example=[::1]:8443,p.example=127.0.0.3:81");
  expect(pins.get("shop.example.com")).toEqual({ address: "127.0.0.2" });
  expect(pins.get("v6.example")).toEqual({ address: "::1", port: 8443 });
  expect(pins.get("p.example")).toEqual({ address: "127.0.0.3", port: 81 });
  expect(() => parsePins("x.example=not-an-address")).toThrow();
});
