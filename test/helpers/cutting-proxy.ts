import { createConnection, createServer, type Server, type Socket } from "node:net";

// A TCP proxy on 127.0.0.1 in front of a test server, for resumable uploads: it counts the tus
// PATCH requests sent through it, and destroys the connection (both sides) when the bytes sent
// upstream, over all connections, pass each of `cutAt`.

const PATCH_LINE = "PATCH /api/v1/uploads/tus/";

export async function cuttingProxy(target: string, cutAt: number[]) {
  const { hostname, port } = new URL(target);
  const left = [...cutAt];
  let sent = 0;
  const stats = { cuts: [] as number[], patches: 0 };
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: hostname, port: Number(port) });
    sockets.add(client).add(upstream);
    let tail = "";
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("data", (d: Buffer) => {
      // Request lines, also when one is split across two reads.
      const text = tail + d.toString("latin1");
      for (let at = text.indexOf(PATCH_LINE); at !== -1; at = text.indexOf(PATCH_LINE, at + 1))
        if (at + PATCH_LINE.length > tail.length) stats.patches++;
      tail = text.slice(-(PATCH_LINE.length - 1));
      sent += d.length;
      if (left.length && sent >= left[0]) {
        left.shift();
        stats.cuts.push(sent);
        end();
        return;
      }
      if (!upstream.write(d)) {
        client.pause();
        upstream.once("drain", () => client.resume());
      }
    });
    upstream.pipe(client);
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    stats,
    close: () => {
      for (const sock of sockets) sock.destroy();
      return new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}
