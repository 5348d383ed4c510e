import { AwsClient } from "aws4fetch";

// A small S3 client on aws4fetch (fetch + SigV4 over WebCrypto, so it runs on Bun and Deno):
// only the calls the drivers use. Every error names the operation and S3's error code but
// never the credentials.

/** Where a storage URL points and how to reach it. */
export interface S3Location {
  bucket: string;
  /** Key prefix, "" or ending in "/". */
  prefix: string;
  endpoint: string;
  region: string;
  pathStyle: boolean;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/**
 * Reads `s3://bucket/prefix` with the usual AWS variables: AWS_ENDPOINT_URL (or
 * AWS_ENDPOINT_URL_S3), AWS_REGION (or AWS_DEFAULT_REGION), AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and AWS_S3_FORCE_PATH_STYLE. Query parameters
 * `endpoint`, `region` and `path_style` override them for this URL (two stores in one
 * `imgd migrate`).
 */
export function parseS3Url(url: string, env: Record<string, string | undefined>): S3Location {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`storage URL ${url} is not a URL: use s3://bucket/prefix`);
  }
  if (u.protocol !== "s3:" || !u.hostname)
    throw new Error(`storage URL ${url} is not s3://bucket/prefix (a bucket name is needed)`);
  if (u.username || u.password)
    throw new Error("put S3 credentials in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, not in the storage URL");
  const prefix = decodeURIComponent(u.pathname).replace(/^\/+/, "").replace(/\/*$/, "");
  const region = u.searchParams.get("region") ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? "us-east-1";
  const customEndpoint = u.searchParams.get("endpoint") ?? env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL;
  const endpoint = (customEndpoint ?? `https://s3.${region}.amazonaws.com`).replace(/\/+$/, "");
  const pathStyleSetting = u.searchParams.get("path_style") ?? env.AWS_S3_FORCE_PATH_STYLE;
  // Servers on their own endpoint (MinIO, Ceph, R2, a test server) take path-style requests;
  // AWS itself wants the bucket in the host name.
  const pathStyle = pathStyleSetting ? /^(1|true|yes)$/i.test(pathStyleSetting) : customEndpoint !== undefined;
  const accessKeyId = env.AWS_ACCESS_KEY_ID ?? "";
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY ?? "";
  if (!accessKeyId || !secretAccessKey)
    throw new Error(`storage URL ${url} needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment`);
  return {
    bucket: u.hostname,
    prefix: prefix ? `${prefix}/` : "",
    endpoint,
    region,
    pathStyle,
    accessKeyId,
    secretAccessKey,
    sessionToken: env.AWS_SESSION_TOKEN || undefined,
  };
}

export class S3Error extends Error {
  override name = "S3Error";
  constructor(
    message: string,
    readonly status: number,
    /** S3's error code (NoSuchKey, …); "ENOENT" for a missing object, as the filesystem says it. */
    readonly code: string,
  ) {
    super(message);
  }
}

export interface ListedObject {
  key: string;
  size: number;
  lastModified: number;
}

/** How long a call may wait for S3's answer, and when to stop trying for a moment. */
export interface S3Limits {
  /** Until the answer's headers (a PUT's body goes before them), in milliseconds. */
  timeoutMs: number;
  /** Calls failing in a row (no answer, or a 5xx) that open the circuit. */
  failuresToOpen: number;
  /** How long an open circuit refuses calls at once, before the next call tries again. */
  openMs: number;
}

export const DEFAULT_S3_LIMITS: S3Limits = { timeoutMs: 30_000, failuresToOpen: 3, openMs: 1000 };

/**
 * Fails fast while S3 is known to be down: after `failuresToOpen` calls in a row got no answer,
 * calls are refused at once for `openMs`; then calls go through again, and the first answer
 * closes the circuit. A request then waits for nothing that cannot come, and a node answers
 * 503 at once instead of piling up requests behind timeouts.
 */
class Circuit {
  #failures = 0;
  #openUntil = 0;
  constructor(private readonly limits: S3Limits) {}
  check(op: string) {
    if (Date.now() < this.#openUntil)
      throw new S3Error(
        `S3 ${op}: not tried, S3 did not answer the last ${this.#failures} calls (retrying within ${this.limits.openMs} ms)`,
        0,
        "CircuitOpen",
      );
  }
  ok() {
    this.#failures = 0;
    this.#openUntil = 0;
  }
  failed() {
    if (++this.#failures >= this.limits.failuresToOpen) this.#openUntil = Date.now() + this.limits.openMs;
  }
}

export class S3Client {
  readonly #aws: AwsClient;
  readonly #base: string;
  readonly #bucket: string;
  readonly #limits: S3Limits;
  readonly #circuit: Circuit;

  constructor(loc: S3Location, limits: Partial<S3Limits> = {}) {
    this.#limits = { ...DEFAULT_S3_LIMITS, ...limits };
    this.#circuit = new Circuit(this.#limits);
    this.#aws = new AwsClient({
      accessKeyId: loc.accessKeyId,
      secretAccessKey: loc.secretAccessKey,
      sessionToken: loc.sessionToken,
      region: loc.region,
      service: "s3",
      retries: 3,
    });
    this.#bucket = loc.bucket;
    const e = new URL(loc.endpoint);
    this.#base = loc.pathStyle ? `${e.origin}/${loc.bucket}` : `${e.protocol}//${loc.bucket}.${e.host}`;
  }

  #url(key: string, query = "") {
    const path = key
      .split("/")
      .map((p) => encodeURIComponent(p))
      .join("/");
    return `${this.#base}/${path}${query ? `?${query}` : ""}`;
  }

  async #send(op: string, key: string, url: string, init: RequestInit, ok: (status: number) => boolean) {
    this.#circuit.check(`${op} ${this.#bucket}/${key}`);
    let res: Response;
    // The timeout covers the wait for the answer's headers; a body read later is the caller's.
    const abort = new AbortController();
    const timer = setTimeout(
      () => abort.abort(new Error(`no answer within ${this.#limits.timeoutMs} ms`)),
      this.#limits.timeoutMs,
    );
    try {
      res = await this.#aws.fetch(url, { ...init, signal: abort.signal });
    } catch (err) {
      this.#circuit.failed();
      const why = abort.signal.aborted ? (abort.signal.reason as Error).message : (err as Error)?.message;
      throw new S3Error(
        `S3 ${op} ${this.#bucket}/${key}: ${why ?? String(err)} (is the endpoint reachable?)`,
        0,
        "ECONNREFUSED",
      );
    } finally {
      clearTimeout(timer);
    }
    if (res.status >= 500) this.#circuit.failed();
    else this.#circuit.ok();
    if (ok(res.status)) return res;
    const text = init.method === "HEAD" ? "" : await res.text().catch(() => "");
    const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1] ?? `HTTP${res.status}`;
    const missing = res.status === 404 && code !== "NoSuchBucket" && code !== "NoSuchUpload";
    const hint =
      code === "NoSuchBucket"
        ? ": create the bucket first"
        : res.status === 403
          ? ": check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and the bucket's policy"
          : "";
    throw new S3Error(
      `S3 ${op} ${this.#bucket}/${key}: ${res.status} ${code}${hint}`,
      res.status,
      missing ? "ENOENT" : code,
    );
  }

  /** The object's body as a response, or null when there is none. */
  async get(key: string, headers?: HeadersInit): Promise<Response | null> {
    const res = await this.#send("GET", key, this.#url(key), { headers }, (s) => s === 200 || s === 206 || s === 404);
    if (res.status !== 404) return res;
    await res.body?.cancel();
    return null;
  }

  /** The object's size, or null when there is none. */
  async head(key: string): Promise<number | null> {
    const res = await this.#send("HEAD", key, this.#url(key), { method: "HEAD" }, (s) => s === 200 || s === 404);
    if (res.status === 404) return null;
    return Number(res.headers.get("content-length") ?? 0);
  }

  async put(key: string, body: Uint8Array): Promise<void> {
    const res = await this.#send(
      "PUT",
      key,
      this.#url(key),
      { method: "PUT", body: body as BodyInit },
      (s) => s === 200,
    );
    await res.body?.cancel();
  }

  /** Deletes; a missing object is no error (S3 answers 204 either way). */
  async delete(key: string): Promise<void> {
    const res = await this.#send(
      "DELETE",
      key,
      this.#url(key),
      { method: "DELETE" },
      (s) => s === 204 || s === 200 || s === 404 || s === 405 || s === 501,
    );
    await res.body?.cancel();
  }

  /** Server-side copy within the bucket; false when the source is missing. */
  async copy(from: string, to: string): Promise<boolean> {
    const source = `/${this.#bucket}/${from.split("/").map(encodeURIComponent).join("/")}`;
    const res = await this.#send(
      "COPY",
      `${from} -> ${to}`,
      this.#url(to),
      { method: "PUT", headers: { "x-amz-copy-source": source } },
      (s) => s === 200 || s === 404,
    );
    const text = await res.text();
    if (res.status === 404) return false;
    // S3 may answer 200 and report the failure in the body.
    if (text.includes("<Error>"))
      throw new S3Error(`S3 COPY ${from} -> ${to}: ${text.slice(0, 200)}`, 500, "CopyFailed");
    return true;
  }

  /** Every object under a prefix, page by page. */
  async *list(prefix: string): AsyncIterable<ListedObject> {
    let token: string | undefined;
    do {
      const q = new URLSearchParams({ "list-type": "2", prefix });
      if (token) q.set("continuation-token", token);
      const res = await this.#send("LIST", prefix, `${this.#base}/?${q}`, {}, (s) => s === 200);
      const xml = await res.text();
      for (const m of xml.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)) {
        const key = unescapeXml(tag(m[1], "Key") ?? "");
        yield {
          key,
          size: Number(tag(m[1], "Size") ?? 0),
          lastModified: Date.parse(tag(m[1], "LastModified") ?? "") || 0,
        };
      }
      token = tag(xml, "IsTruncated") === "true" ? unescapeXml(tag(xml, "NextContinuationToken") ?? "") : undefined;
    } while (token);
  }

  async createMultipart(key: string): Promise<string> {
    const res = await this.#send(
      "CreateMultipartUpload",
      key,
      this.#url(key, "uploads"),
      { method: "POST" },
      (s) => s === 200,
    );
    const id = tag(await res.text(), "UploadId");
    if (!id) throw new S3Error(`S3 CreateMultipartUpload ${key}: no UploadId in the answer`, 500, "BadAnswer");
    return unescapeXml(id);
  }

  async uploadPart(key: string, uploadId: string, n: number, body: Uint8Array): Promise<string> {
    const q = `partNumber=${n}&uploadId=${encodeURIComponent(uploadId)}`;
    const res = await this.#send(
      "UploadPart",
      key,
      this.#url(key, q),
      { method: "PUT", body: body as BodyInit },
      (s) => s === 200,
    );
    await res.body?.cancel();
    const etag = res.headers.get("etag");
    if (!etag) throw new S3Error(`S3 UploadPart ${key}: no ETag in the answer`, 500, "BadAnswer");
    return etag;
  }

  async completeMultipart(key: string, uploadId: string, etags: string[]): Promise<void> {
    const parts = etags
      .map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${escapeXml(e)}</ETag></Part>`)
      .join("");
    const res = await this.#send(
      "CompleteMultipartUpload",
      key,
      this.#url(key, `uploadId=${encodeURIComponent(uploadId)}`),
      { method: "POST", body: `<CompleteMultipartUpload>${parts}</CompleteMultipartUpload>` },
      (s) => s === 200,
    );
    const text = await res.text();
    if (text.includes("<Error>"))
      throw new S3Error(
        `S3 CompleteMultipartUpload ${key}: ${tag(text, "Code") ?? "failed"}`,
        500,
        tag(text, "Code") ?? "",
      );
  }

  /**
   * Drops an unfinished multipart upload; one that is gone already is no error. Some
   * S3-compatible servers lack the call (405/501): their parts stay until the bucket's
   * lifecycle rule (AbortIncompleteMultipartUpload) removes them, and the swept marker alone
   * stops the upload from completing (see uploadStream).
   */
  async abortMultipart(key: string, uploadId: string): Promise<void> {
    const res = await this.#send(
      "AbortMultipartUpload",
      key,
      this.#url(key, `uploadId=${encodeURIComponent(uploadId)}`),
      { method: "DELETE" },
      (s) => s === 204 || s === 200 || s === 404 || s === 405 || s === 501,
    );
    await res.body?.cancel();
  }

  /** Creates the bucket (tests, `imgd migrate` into a new store); one that exists is fine. */
  async createBucket(): Promise<void> {
    const res = await this.#send(
      "CreateBucket",
      "",
      `${this.#base}/`,
      { method: "PUT" },
      (s) => s === 200 || s === 409,
    );
    await res.body?.cancel();
  }
}

function tag(xml: string, name: string): string | undefined {
  return new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(xml)?.[1];
}

function unescapeXml(s: string) {
  return s
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}

function escapeXml(s: string) {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}
