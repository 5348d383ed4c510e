import { expect, test } from "bun:test";
import { parseCidrList } from "../../src/domain/fetcher/addresses.ts";
import { AppError } from "../../src/domain/errors.ts";
import { Fetcher } from "../../src/domain/fetcher/fetcher.ts";

// The fetcher's deadline must hold while a connection is still being made. On loopback every
// connect is answered at once, so the runtime's connect is replaced here by one that never
// settles, as a SYN to a silent host does (the kernel gives up only after minutes).

test("the deadline ends a connect that never completes, and closes it if it completes later", async () => {
  let late: (() => void) | undefined;
  let closedWith: Error | undefined;
  const fetcher = new Fetcher({
    allow: parseCidrList("127.0.0.2/32"),
    timeoutMs: 200,
    connect: () =>
      new Promise((resolve) => {
        late = () =>
          resolve({
            remoteAddress: "127.0.0.2",
            readable: { [Symbol.asyncIterator]: () => ({ next: () => new Promise(() => {}) }) },
            write: async () => {},
            close: (reason) => void (closedWith = reason ?? new Error("closed")),
          });
      }),
  });
  const started = Date.now();
  const err = await fetcher.open("http://127.0.0.2:9/slow.png", 1000).then(
    () => null,
    (e) => e,
  );
  expect(Date.now() - started).toBeLessThan(2000);
  expect(err).toBeInstanceOf(AppError);
  expect((err as AppError).status).toBe(400);
  expect((err as AppError).message).toContain("longer than 200 ms");
  late?.();
  await Bun.sleep(10);
  expect(closedWith).toBeDefined();
});
