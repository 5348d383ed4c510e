import { describe, expect, test } from "bun:test";
import { checkAddress, parseCidrList, refusalOf, unmapped } from "../../src/domain/fetcher/addresses.ts";
import { Fetcher } from "../../src/domain/fetcher/fetcher.ts";

// The classifier, on literal address strings only: nothing here connects anywhere. (The HTTP
// import tests reach only loopback: 127.0.0.2 allowed, the other loopback forms refused.)

describe("address classifier", () => {
  const refused = [
    "127.0.0.1",
    "127.255.255.254",
    "0.0.0.0",
    "10.1.2.3",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "169.254.169.254",
    "169.254.0.1",
    "100.64.0.1",
    "100.100.100.200",
    "224.0.0.1",
    "239.255.255.250",
    "255.255.255.255",
    "240.0.0.1",
    "192.0.2.1",
    "198.51.100.7",
    "203.0.113.9",
    "198.18.0.1",
    "::",
    "::1",
    "fe80::1",
    "fe80::1%eth0",
    "fc00::1",
    "fd00:ec2::254",
    "ff02::1",
    "fec0::1",
    "::ffff:127.0.0.1",
    "::ffff:7f00:1",
    "::ffff:10.0.0.1",
    "::ffff:8.8.8.8",
    "::127.0.0.1",
    "64:ff9b::7f00:1",
    "2002:7f00:1::",
    "2001:0:4136:e378::1",
    "2001:db8::1",
  ];
  for (const a of refused) test(`refuses ${a}`, () => expect(refusalOf(a)).not.toBeNull());
  for (const a of [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.216.34",
    "172.32.0.1",
    "100.128.0.1",
    "2606:4700:4700::1111",
    "2a00:1450:4001::200e",
  ]) {
    test(`allows ${a}`, () => expect(refusalOf(a)).toBeNull());
  }
  test("not an address", () => expect(refusalOf("localhost")).not.toBeNull());

  test("the refusal names the kind of address", () => {
    expect(refusalOf("10.1.2.3")).toBe("a private address");
    expect(refusalOf("169.254.169.254")).toContain("link-local");
    expect(refusalOf("100.64.0.1")).toContain("CGNAT");
    expect(refusalOf("127.0.0.3")).toBe("a loopback address");
  });

  test("an allow list opens exactly its ranges, never the mapped forms", () => {
    const allow = parseCidrList("127.0.0.2/32, 10.9.0.0/16");
    expect(checkAddress("127.0.0.2", allow)).toBeNull();
    expect(checkAddress("10.9.200.1", allow)).toBeNull();
    expect(checkAddress("127.0.0.1", allow)).not.toBeNull();
    expect(checkAddress("10.10.0.1", allow)).not.toBeNull();
    expect(checkAddress("::ffff:127.0.0.2", allow)).not.toBeNull();
    expect(() => parseCidrList("10.0.0.0/33")).toThrow();
    expect(unmapped("::ffff:10.1.2.3")).toBe("10.1.2.3");
  });

  test("URL form: http(s) only, no credentials", () => {
    for (const u of [
      "file:///etc/passwd",
      "ftp://x/y.png",
      "gopher://x",
      "javascript:alert(1)",
      "http://user:pw@example.com/a.png",
      "not a url",
      "data:image/png;base64,AA",
    ]) {
      expect(() => Fetcher.parseUrl(u)).toThrow();
    }
    expect(Fetcher.parseUrl("https://example.com/a.png").hostname).toBe("example.com");
  });
});
