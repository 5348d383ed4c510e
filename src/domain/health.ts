/** One dependency a node needs to answer: the database or the storage. */
export interface Dependency {
  /** What it is: "sqlite", "postgres", "filesystem", "s3". */
  kind: string;
  /** Resolves when it answers; rejects with why not. */
  ping: () => Promise<void>;
}

export interface Readiness {
  ready: boolean;
  database: { kind: string; ok: boolean; error?: string };
  storage: { kind: string; ok: boolean; error?: string };
}

const TIMEOUT_MS = 3000;

/** What a node runs on, and whether both answer now (a load balancer's readiness probe). */
export class Health {
  constructor(
    private readonly database: Dependency,
    private readonly storage: Dependency,
  ) {}

  kinds() {
    return { database: this.database.kind, storage: this.storage.kind };
  }

  async check(): Promise<Readiness> {
    const [database, storage] = await Promise.all([probe(this.database), probe(this.storage)]);
    return { ready: database.ok && storage.ok, database, storage };
  }
}

async function probe(d: Dependency): Promise<{ kind: string; ok: boolean; error?: string }> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      d.ping(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)), TIMEOUT_MS);
      }),
    ]);
    return { kind: d.kind, ok: true };
  } catch (err) {
    return { kind: d.kind, ok: false, error: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
  }
}
