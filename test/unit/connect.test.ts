import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bunRuntime } from "../../src/runtime/bun.ts";
import type { ConnectOptions } from "../../src/runtime/types.ts";
import { FIXTURES, ROOT } from "../helpers/server.ts";

// The runtimes' outgoing connections (URL import): a TLS certificate must chain to a trusted
// root and name the host. Bun.connect reports a bad certificate but carries on, so the adapter
// refuses it itself; Deno checks on its own. Both are tried against a loopback TLS server whose
// certificate, for img.example, is signed by a test CA (test/fixtures/tls).

const tlsDir = join(FIXTURES, "tls");
let server: Bun.TCPSocketListener<undefined>;
let ca: string;

beforeAll(async () => {
  ca = await Bun.file(join(tlsDir, "ca.pem")).text();
  server = Bun.listen({
    hostname: "127.0.0.2",
    port: 0,
    tls: { cert: Bun.file(join(tlsDir, "img.example.pem")), key: Bun.file(join(tlsDir, "img.example.key")) },
    socket: {
      data(s) {
        s.end("HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello");
      },
    },
  });
});
afterAll(() => server.stop(true));

const cases: [string, ConnectOptions["tls"], boolean][] = [
  ["the test CA and the right name", { serverName: "img.example" }, true],
  ["an untrusted issuer (no test CA)", { serverName: "img.example", ca: [] }, false],
  ["another host name", { serverName: "other.example" }, false],
  ["the address instead of the name", {}, false],
];

/** Connects, sends a request, returns what came back or the error's message prefixed with "refused". */
async function attemptBun(tls: ConnectOptions["tls"]): Promise<string> {
  try {
    const conn = await bunRuntime.connect({
      address: "127.0.0.2",
      port: server.port,
      tls: { ...tls, ca: tls?.ca ?? [ca] },
    });
    await conn.write(new TextEncoder().encode("GET / HTTP/1.1\r\nhost: img.example\r\n\r\n"));
    let text = "";
    for await (const c of conn.readable) text += new TextDecoder().decode(c);
    return text;
  } catch (err) {
    return `refused: ${(err as Error).message}`;
  }
}

describe("outgoing TLS connections check the certificate", () => {
  for (const [what, tls, ok] of cases) {
    test(`Bun: ${what} → ${ok ? "connects" : "refused"}`, async () => {
      const out = await attemptBun(tls);
      if (ok) expect(out).toEndWith("hello");
      else expect(out).toStartWith("refused");
    });
  }

  test("Deno: the same four cases", async () => {
    const script = `
      import { denoRuntime } from ${JSON.stringify(join(ROOT, "src/runtime/deno.ts"))};
      const [port, ca, cases] = [Number(Deno.args[0]), Deno.readTextFileSync(Deno.args[1]), JSON.parse(Deno.args[2])];
      const out = [];
      for (const tls of cases) {
        try {
          const conn = await denoRuntime.connect({ address: "127.0.0.2", port, tls: { ...tls, ca: tls.ca ?? [ca] } });
          await conn.write(new TextEncoder().encode("GET / HTTP/1.1\\r\\nhost: img.example\\r\\n\\r\\n"));
          let text = "";
          for await (const c of conn.readable) text += new TextDecoder().decode(c);
          out.push(text);
        } catch (err) {
          out.push("refused: " + err.message);
        }
      }
      console.log(JSON.stringify(out));`;
    const dir = await mkdtemp(join(tmpdir(), "imgd-connect-"));
    const file = join(dir, "attempt.ts");
    await Bun.write(file, script);
    const proc = Bun.spawn(
      [
        join(ROOT, "node_modules/.bin/deno"),
        "run",
        "-A",
        "--no-lock",
        file,
        String(server.port),
        join(tlsDir, "ca.pem"),
        JSON.stringify(cases.map((c) => c[1])),
      ],
      { stdout: "pipe", stderr: "pipe" },
    );
    const [stdout, stderr] = [await new Response(proc.stdout).text(), await new Response(proc.stderr).text()];
    await proc.exited;
    await rm(dir, { recursive: true, force: true });
    const results = JSON.parse(stdout.trim().split("\n").pop() || "null") as string[] | null;
    if (!results) throw new Error(`deno printed nothing:\n${stderr}`);
    cases.forEach(([, , ok], i) => {
      if (ok) expect(results[i]).toEndWith("hello");
      else expect(results[i]).toStartWith("refused");
    });
  }, 60_000);
});
