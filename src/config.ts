import * as v from "valibot";
import { AVIF_EFFORT, WEBP_EFFORT } from "../codecs/effort.ts";

// One table of settings: each has an environment variable, a `serve` flag, a schema and a help
// line, so the CLI help, the env parsing and the embedding API cannot drift apart.

const int = (min: number, max: number) =>
  v.pipe(
    v.union([
      v.number(),
      v.pipe(v.string(), v.trim(), v.regex(/^-?\d+$/, "expected a whole number"), v.transform(Number)),
    ]),
    v.integer("expected a whole number"),
    v.minValue(min, `expected at least ${min}`),
    v.maxValue(max, `expected at most ${max}`),
  );

const bool = v.union([
  v.boolean(),
  v.pipe(
    v.string(),
    v.trim(),
    v.toLowerCase(),
    v.picklist(["true", "false", "1", "0", "yes", "no", "on", "off"], "expected true or false"),
    v.transform((s) => ["true", "1", "yes", "on"].includes(s)),
  ),
]);

const nonEmpty = v.pipe(v.string(), v.trim(), v.minLength(1, "must not be empty"));

const hex = v.pipe(v.string(), v.trim(), v.toLowerCase(), v.regex(/^([0-9a-f]{2})+$/, "expected hex bytes"));

const url = v.pipe(
  v.string(),
  v.trim(),
  v.url("expected an absolute http(s) URL"),
  v.regex(/^https?:\/\//i, "expected an absolute http(s) URL"),
  v.transform((s) => s.replace(/\/+$/, "")),
);

const username = v.pipe(
  v.string(),
  v.trim(),
  v.regex(/^[a-z0-9][a-z0-9_-]{1,38}$/, "expected 2–39 lowercase letters, digits, '-' or '_'"),
);

/** A comma-separated list of CIDR ranges ("10.0.0.0/8, 127.0.0.2/32, fd00::/8"); checked in full by the fetcher. */
/** DNS servers: `address`, `address:port` or `[v6]:port`, comma-separated (IMGD_DNS_SERVERS). */
const dnsServerList = v.pipe(
  v.string(),
  v.trim(),
  v.check(
    (s) =>
      s === "" ||
      s
        .split(",")
        .every((p) =>
          /^(\d{1,3}(\.\d{1,3}){3}(:\d{1,5})?|\[[0-9a-fA-F:.]+\](:\d{1,5})?|[0-9a-fA-F:]+)$/.test(p.trim()),
        ),
    "expected DNS server addresses, comma-separated, e.g. 10.0.0.53 or 127.0.0.1:5353 or [::1]:53",
  ),
);

/** `name=address[:port]` entries, comma-separated (IMGD_RESOLVE). */
const resolveList = v.pipe(
  v.string(),
  v.trim(),
  v.check(
    (s) =>
      s === "" ||
      s
        .split(",")
        .every((p) => /^[A-Za-z0-9.-]+=(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:.]+\])(:\d{1,5})?$/.test(p.trim())),
    "expected name=address[:port] entries, comma-separated, e.g. images.example.com=127.0.0.2 or images.example.com=[::1]:8080",
  ),
);

const cidrList = v.pipe(
  v.string(),
  v.trim(),
  v.check(
    (s) => s === "" || s.split(",").every((p) => /^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(p.trim())),
    "expected a comma-separated list of CIDR ranges, e.g. 127.0.0.2/32,10.1.0.0/16",
  ),
);

const basePath = v.pipe(
  v.string(),
  v.trim(),
  v.regex(/^(\/[A-Za-z0-9._~-]+)*\/?$/, "expected a path like /images"),
  v.transform((s) => s.replace(/\/+$/, "")),
);

/** Inline JSON or a JSON file's path; the plans' fields are checked where plans are built. */
const plans = v.pipe(v.string(), v.trim());

/** host:port of a second listener that serves only /metrics, without a key. */
const listenAddr = v.pipe(
  v.string(),
  v.trim(),
  v.regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, "expected host:port, e.g. 127.0.0.1:9464"),
);

/** `120/min` → 120 per minute; also `N/s` and `N/h`; null when it is not a rate. */
function perMinute(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*\/\s*(s|sec|second|m|min|minute|h|hour)$/i.exec(text);
  if (!m) return null;
  const per = m[2].toLowerCase();
  return Number(m[1]) * (per.startsWith("s") ? 60 : per.startsWith("h") ? 1 / 60 : 1);
}

/** A rate as `N/min` (also `N/s`, `N/h`), kept as a number per minute. */
const missRate = v.union([
  v.pipe(v.number(), v.minValue(0, "expected at least 0")),
  v.pipe(
    v.string(),
    v.trim(),
    v.transform(perMinute),
    v.check((n) => n !== null, "expected a rate like 120/min"),
    v.transform((n) => n as number),
  ),
]);

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

export const settings = {
  dataDir: {
    env: "IMGD_DATA_DIR",
    flag: "data-dir",
    schema: nonEmpty,
    default: "./data",
    help: "Where the database, blobs and variant cache live",
  },
  databaseUrl: {
    env: "IMGD_DATABASE_URL",
    flag: "database-url",
    schema: v.pipe(
      v.string(),
      v.trim(),
      v.regex(/^postgres(ql)?:\/\/\S+$/i, "expected postgres://user:password@host:5432/database"),
    ),
    default: undefined as string | undefined,
    help: "PostgreSQL to keep the library in, for several imgd nodes on one database (default: SQLite in the data directory)",
  },
  databasePoolSize: {
    env: "IMGD_DATABASE_POOL_SIZE",
    flag: "database-pool-size",
    schema: int(1, 1000),
    default: 10,
    help: "Connections each node keeps open to PostgreSQL at most (SQLite has one)",
  },
  secret: {
    env: "IMGD_SECRET",
    flag: "secret",
    schema: v.pipe(
      v.string(),
      v.trim(),
      v.minLength(32, "expected at least 32 characters (e.g. openssl rand -hex 32)"),
    ),
    default: undefined as string | undefined,
    help: "The key signed URLs and tokens are made with (default: one generated on first start and kept in the database)",
  },
  variantLeaseMs: {
    env: "IMGD_VARIANT_LEASE_MS",
    flag: "variant-lease-ms",
    schema: int(500, 600_000),
    default: 10_000,
    help: "How long a node's claim on making a new variant lasts without renewal; a node that dies mid-transform loses it after this, in milliseconds",
  },
  host: { env: "IMGD_HOST", flag: "host", schema: nonEmpty, default: "0.0.0.0", help: "Address to listen on" },
  port: {
    env: "IMGD_PORT",
    flag: "port",
    schema: int(0, 65535),
    default: 8080,
    help: "Port to listen on (0 picks a free one)",
  },
  publicUrl: {
    env: "IMGD_PUBLIC_URL",
    flag: "public-url",
    schema: url,
    default: undefined as string | undefined,
    help: "Base URL that clients use to reach imgd (default: the scheme and Host of each request when the Host is one of imgd's own names or addresses, else the listening address, e.g. http://localhost:8080)",
  },
  cdnHost: {
    env: "IMGD_CDN_HOST",
    flag: "cdn-host",
    schema: nonEmpty,
    default: undefined as string | undefined,
    help: "Host name (as in the Host header, e.g. cdn.example.com) on which /{username}/{filepath} serves images without /i/, as img-src's CDN does",
  },
  imgproxy: {
    env: "IMGD_IMGPROXY",
    flag: "imgproxy",
    schema: bool,
    default: true,
    help: "Serve imgproxy URLs under /imgproxy/ (on/off): /{signature}/{options}/plain/{source}[@ext] or the base64 source form; a source is local:///{username}/{filepath} or a URL on imgd's own host, under the image's access rules",
  },
  imgproxyKey: {
    env: "IMGD_IMGPROXY_KEY",
    flag: "imgproxy-key",
    schema: hex,
    default: undefined as string | undefined,
    help: "imgproxy's signing key (hex, as IMGPROXY_KEY); with IMGD_IMGPROXY_SALT, imgproxy URLs need its HMAC-SHA256 signature",
  },
  imgproxySalt: {
    env: "IMGD_IMGPROXY_SALT",
    flag: "imgproxy-salt",
    schema: hex,
    default: undefined as string | undefined,
    help: "imgproxy's signing salt (hex, as IMGPROXY_SALT)",
  },
  imgproxySignatureSize: {
    env: "IMGD_IMGPROXY_SIGNATURE_SIZE",
    flag: "imgproxy-signature-size",
    schema: int(1, 32),
    default: 32,
    help: "Bytes of the HMAC an imgproxy signature keeps (as IMGPROXY_SIGNATURE_SIZE)",
  },
  imgproxyInsecure: {
    env: "IMGD_IMGPROXY_INSECURE",
    flag: "imgproxy-insecure",
    schema: bool,
    default: false,
    help: "Accept unsigned imgproxy URLs (/imgproxy/insecure/…); they reach only what IPX URLs reach",
  },
  thumbor: {
    env: "IMGD_THUMBOR",
    flag: "thumbor",
    schema: bool,
    default: true,
    help: "Serve thumbor URLs under /thumbor/ (on/off): /{hmac|unsafe}/[trim/][AxB:CxD/][fit-in/][-]Ex[-]F/[halign/][valign/][smart/][filters:…/]{source}; a source is i/{username}/{filepath} or a URL on imgd's own host",
  },
  thumborKey: {
    env: "IMGD_THUMBOR_KEY",
    flag: "thumbor-key",
    schema: nonEmpty,
    default: undefined as string | undefined,
    help: "thumbor's security key (as SECURITY_KEY): thumbor URLs need its HMAC-SHA1 signature of the path after it",
  },
  thumborUnsafe: {
    env: "IMGD_THUMBOR_UNSAFE",
    flag: "thumbor-unsafe",
    schema: bool,
    default: false,
    help: "Accept unsigned thumbor URLs (/thumbor/unsafe/…); they reach only what IPX URLs reach",
  },
  imgixToken: {
    env: "IMGD_IMGIX_TOKEN",
    flag: "imgix-token",
    schema: nonEmpty,
    default: undefined as string | undefined,
    help: "imgix's secure URL token: /i/ URLs with imgix parameters need its s= signature (md5 of the token, the path and the query, as imgix's builders make it); unsigned ones are a 403",
  },
  cloudinary: {
    env: "IMGD_CLOUDINARY",
    flag: "cloudinary",
    schema: bool,
    default: false,
    help: "Serve Cloudinary delivery URLs (on/off): /{cloud}/image/upload/{transformations}/[v{version}/]{public_id}[.ext], {cloud} being the tenant's username; public images, and private ones to their owner's key",
  },
  adminUsername: {
    env: "IMGD_ADMIN_USERNAME",
    flag: "admin-username",
    schema: username,
    default: "admin",
    help: "Username of the admin user created on first start",
  },
  maxUploadBytes: {
    env: "IMGD_MAX_UPLOAD_BYTES",
    flag: "max-upload-bytes",
    schema: int(1, 16 * GiB),
    default: 70 * MiB,
    help: "Largest accepted upload, in bytes",
  },
  uploadExpiry: {
    env: "IMGD_UPLOAD_EXPIRY",
    flag: "upload-expiry",
    schema: int(1, 30 * 86_400),
    default: 86_400,
    help: "How long a resumable (tus) upload may take from its creation, in seconds; then its received parts are removed and its URL is gone",
  },
  maxSourcePixels: {
    env: "IMGD_MAX_SOURCE_PIXELS",
    flag: "max-source-pixels",
    schema: int(1, 2 ** 40),
    default: 100_000_000,
    help: "Largest accepted source image, in pixels (width × height), checked from the header",
  },
  maxAnimationFrames: {
    env: "IMGD_MAX_ANIMATION_FRAMES",
    flag: "max-animation-frames",
    schema: int(1, 100_000),
    default: 200,
    help: "Most frames an animated source may have; every frame counts toward the source pixel limit (width × height × frames)",
  },
  workers: {
    env: "IMGD_WORKERS",
    flag: "workers",
    schema: int(1, 256),
    default: undefined as number | undefined,
    help: "Codec worker threads (default: number of cores)",
  },
  queueLimit: {
    env: "IMGD_QUEUE_LIMIT",
    flag: "queue-limit",
    schema: int(0, 100_000),
    default: 64,
    help: "Transform jobs allowed to wait for a worker before new ones get 503",
  },
  jobTimeoutMs: {
    env: "IMGD_JOB_TIMEOUT_MS",
    flag: "job-timeout-ms",
    schema: int(100, 600_000),
    default: 30_000,
    help: "Time limit of one transform job, and of a codec worker's start (at least 30 s), in milliseconds",
  },
  maxTransformCost: {
    env: "IMGD_MAX_TRANSFORM_COST",
    flag: "max-transform-cost",
    schema: int(1, 1_000_000),
    default: 100,
    help: "Most work one transform may cost, in units of about one megapixel resized to JPEG (output pixels × frames, weighted by blur/sharpen radius, effects and the encoder and its effort); dearer requests get 400",
  },
  missRate: {
    env: "IMGD_MISS_RATE",
    flag: "miss-rate",
    schema: missRate,
    default: 120,
    help: "New variants (cache misses) each client address may cause per minute without the owner's key, session or signature, as N/min (per node); beyond it 429 with Retry-After",
  },
  ownerReserve: {
    env: "IMGD_OWNER_RESERVE",
    flag: "owner-reserve",
    schema: int(0, 100),
    default: 20,
    help: "Percent of a plan's monthly transformations kept for the owner's own requests (key, session, signed URLs); anonymous requests may use the rest",
  },
  variantCacheBytes: {
    env: "IMGD_VARIANT_CACHE_BYTES",
    flag: "variant-cache-bytes",
    schema: int(0, 2 ** 50),
    default: 2 * GiB,
    help: "Size cap of the on-disk variant cache, in bytes (least recently used evicted, first from tenants over an equal share)",
  },
  memoryCacheBytes: {
    env: "IMGD_MEMORY_CACHE_BYTES",
    flag: "memory-cache-bytes",
    schema: int(0, 2 ** 40),
    default: 64 * MiB,
    help: "Memory kept for small hot variants (up to 1 MiB each), answered without reading the disk; 0 turns it off",
  },
  storageUrl: {
    env: "IMGD_STORAGE_URL",
    flag: "storage-url",
    schema: v.pipe(
      v.string(),
      v.trim(),
      v.regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/\S*)?$/, "expected s3://bucket/prefix"),
    ),
    default: undefined as string | undefined,
    help: "S3-compatible bucket for originals, variants and downloads, as s3://bucket/prefix, reached with AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (default: files in the data directory)",
  },
  localCacheBytes: {
    env: "IMGD_LOCAL_CACHE_BYTES",
    flag: "local-cache-bytes",
    schema: int(0, 2 ** 50),
    default: 0,
    help: "With S3 storage: variants kept on this node's disk (in the data directory) in front of the bucket, in bytes; 0 serves every one from S3",
  },
  storageTimeoutMs: {
    env: "IMGD_STORAGE_TIMEOUT_MS",
    flag: "storage-timeout-ms",
    schema: int(100, 600_000),
    default: 30_000,
    help: "With S3 storage: how long one call waits for S3's answer, in milliseconds; then the request gets 503, and after 3 such calls in a row S3 is not asked for a second (503 at once)",
  },
  avifEffort: {
    env: "IMGD_AVIF_EFFORT",
    flag: "avif-effort",
    schema: int(0, 9),
    default: AVIF_EFFORT,
    help: "AVIF encoder effort 0–9: higher is slower and a little smaller at the same quality (README: Encoder effort)",
  },
  webpEffort: {
    env: "IMGD_WEBP_EFFORT",
    flag: "webp-effort",
    schema: int(0, 6),
    default: WEBP_EFFORT,
    help: "WebP encoder effort (libwebp method) 0–6: higher is slower and a little smaller at the same quality",
  },
  maxSvgBytes: {
    env: "IMGD_MAX_SVG_BYTES",
    flag: "max-svg-bytes",
    schema: int(1, 16 * GiB),
    default: 10 * MiB,
    help: "Largest accepted SVG upload, in bytes",
  },
  maxAnonymousUploadBytes: {
    env: "IMGD_MAX_ANONYMOUS_UPLOAD_BYTES",
    flag: "max-anonymous-upload-bytes",
    schema: int(1, 16 * GiB),
    default: 20 * MiB,
    help: "Largest accepted anonymous upload, in bytes",
  },
  registration: {
    env: "IMGD_REGISTRATION",
    flag: "registration",
    schema: v.picklist(["open", "closed"], "expected open or closed"),
    default: "closed" as "open" | "closed",
    help: "Whether POST /v1/keys creates accounts for anyone (open) or is refused (closed)",
  },
  transforms: {
    env: "IMGD_TRANSFORMS",
    flag: "transforms",
    schema: v.picklist(["signed", "presets", "any"], "expected signed, presets or any"),
    default: "any" as "signed" | "presets" | "any",
    help: "What unsigned delivery URLs may ask, for every tenant: signed (only originals as they are), presets (originals and named presets) or any; a tenant's own `transforms` setting can only be stricter. Owners (their key or session) and signed URLs are never held",
  },
  anonymousUploads: {
    env: "IMGD_ANONYMOUS_UPLOADS",
    flag: "anonymous-uploads",
    schema: bool,
    default: false,
    help: "Accept img.pro uploads and imports without a key (30-day TTL, per-IP limits)",
  },
  anonymousUploadsPerHour: {
    env: "IMGD_ANONYMOUS_UPLOADS_PER_HOUR",
    flag: "anonymous-uploads-per-hour",
    schema: int(0, 1_000_000),
    default: 20,
    help: "Anonymous uploads allowed per client IP per hour",
  },
  anonymousUploadsPerDay: {
    env: "IMGD_ANONYMOUS_UPLOADS_PER_DAY",
    flag: "anonymous-uploads-per-day",
    schema: int(0, 1_000_000),
    default: 100,
    help: "Anonymous uploads allowed per client IP per day",
  },
  trustProxy: {
    env: "IMGD_TRUST_PROXY",
    flag: "trust-proxy",
    schema: cidrList,
    default: "",
    help: "Proxies (CIDR list) whose X-Forwarded-For names the client IP; empty: the socket address is the client",
  },
  importAllowNetworks: {
    env: "IMGD_IMPORT_ALLOW_NETWORKS",
    flag: "import-allow-networks",
    schema: cidrList,
    default: "",
    help: "Ranges (CIDR list) URL imports may reach although they are private, loopback or reserved",
  },
  webhookAllowNetworks: {
    env: "IMGD_WEBHOOK_ALLOW_NETWORKS",
    flag: "webhook-allow-networks",
    schema: cidrList,
    default: "",
    help: "Ranges (CIDR list) webhook endpoints may be on although they are private, loopback or reserved",
  },
  webhookRetryDelays: {
    env: "IMGD_WEBHOOK_RETRY_DELAYS",
    flag: "webhook-retry-delays",
    schema: v.pipe(
      v.string(),
      v.trim(),
      v.regex(/^(\d{1,7}(\s*,\s*\d{1,7})*)?$/, "expected seconds, comma-separated, e.g. 5,30,120"),
    ),
    default: "",
    help: "Seconds to wait after each failed webhook delivery attempt, comma-separated; past the last the delivery is given up. Default: 5, 30, 120, 600, 3600, then hourly for 24 hours",
  },
  webhookTimeoutMs: {
    env: "IMGD_WEBHOOK_TIMEOUT_MS",
    flag: "webhook-timeout-ms",
    schema: int(100, 300_000),
    default: 15_000,
    help: "Time limit of one webhook delivery attempt (connecting, sending, the answer), in milliseconds",
  },
  purge: {
    env: "IMGD_PURGE",
    flag: "purge",
    schema: v.picklist(
      ["off", "url", "cloudflare", "bunny", "fastly"],
      "expected off, url, cloudflare, bunny or fastly",
    ),
    default: "off" as "off" | "url" | "cloudflare" | "bunny" | "fastly",
    help: "The CDN told to drop an image's public URLs when it is purged or deleted: url (IMGD_PURGE_URL), cloudflare (IMGD_PURGE_ZONE, IMGD_PURGE_TOKEN), bunny or fastly (IMGD_PURGE_TOKEN); off: none (url when IMGD_PURGE_URL is set)",
  },
  purgeUrl: {
    env: "IMGD_PURGE_URL",
    flag: "purge-url",
    schema: nonEmpty,
    default: undefined as string | undefined,
    help: "The purge hook's URL, POSTed the image's URLs as the body template says; with {url} in it, one request per URL (percent-encoded in its place)",
  },
  purgeBody: {
    env: "IMGD_PURGE_BODY",
    flag: "purge-body",
    schema: nonEmpty,
    default: '{"urls":{urls}}',
    help: "The purge hook's body: {urls} becomes a JSON array of the URLs, {url} one URL as a JSON string",
  },
  purgeHeaders: {
    env: "IMGD_PURGE_HEADERS",
    flag: "purge-headers",
    schema: v.pipe(
      v.string(),
      v.trim(),
      v.check((s) => {
        if (s === "") return true;
        try {
          const o = JSON.parse(s);
          return typeof o === "object" && o !== null && Object.values(o).every((x) => typeof x === "string");
        } catch {
          return false;
        }
      }, 'expected a JSON object of header names and values, e.g. {"X-Purge-Key": "…"}'),
    ),
    default: "",
    help: 'Extra headers of every purge request, as a JSON object: {"X-Purge-Key": "…"}',
  },
  purgeToken: {
    env: "IMGD_PURGE_TOKEN",
    flag: "purge-token",
    schema: nonEmpty,
    default: undefined as string | undefined,
    help: "The CDN API's token (Cloudflare API token, Bunny AccessKey, Fastly-Key); for IMGD_PURGE=url, sent as a Bearer token",
  },
  purgeZone: {
    env: "IMGD_PURGE_ZONE",
    flag: "purge-zone",
    schema: nonEmpty,
    default: undefined as string | undefined,
    help: "Cloudflare's zone id, for IMGD_PURGE=cloudflare",
  },
  purgeAllowNetworks: {
    env: "IMGD_PURGE_ALLOW_NETWORKS",
    flag: "purge-allow-networks",
    schema: cidrList,
    default: "",
    help: "Ranges (CIDR list) the purge hook may reach although they are private, loopback or reserved",
  },
  resolve: {
    env: "IMGD_RESOLVE",
    flag: "resolve",
    schema: resolveList,
    default: "",
    help: "Names pinned to addresses for imgd's own fetches (URL imports, custom-domain checks), like curl's --resolve: name=address[:port],…; a pinned name is never looked up in DNS",
  },
  dnsServers: {
    env: "IMGD_DNS_SERVERS",
    flag: "dns-servers",
    schema: dnsServerList,
    default: "",
    help: "DNS servers imgd asks for its own look-ups (URL imports, custom-domain proofs) instead of the system's: address[:port], comma-separated; /etc/hosts is then not read",
  },
  importTimeoutMs: {
    env: "IMGD_IMPORT_TIMEOUT_MS",
    flag: "import-timeout-ms",
    schema: int(100, 600_000),
    default: 30_000,
    help: "Total time limit of one URL import (all redirects and the body), in milliseconds",
  },
  sweepIntervalMs: {
    env: "IMGD_SWEEP_INTERVAL_MS",
    flag: "sweep-interval-ms",
    schema: int(100, 86_400_000),
    default: 60_000,
    help: "How often expired images are removed from disk and database, in milliseconds",
  },
  storageSweepAgeMs: {
    env: "IMGD_STORAGE_SWEEP_AGE_MS",
    flag: "storage-sweep-age-ms",
    schema: int(1000, 30 * 86_400_000),
    default: 3_600_000,
    help: "With S3 storage: a periodic sweep (one node at a time) removes staged uploads and blobs no image uses once they are this old, in milliseconds; no upload may take longer",
  },
  basePath: {
    env: "IMGD_BASE_PATH",
    flag: "base-path",
    schema: basePath,
    default: "",
    help: "Path prefix imgd is served under (e.g. /images behind a proxy, or when embedded)",
  },
  plans: {
    env: "IMGD_PLANS",
    flag: "plans",
    schema: plans,
    default: "",
    help: 'Plans (limit sets) as inline JSON or a JSON file: {"team": {"uploads_per_month": 500, "requests_per_minute": 60}}; merged over the built-in free, pro and unlimited',
  },
  metering: {
    env: "IMGD_METERING",
    flag: "metering",
    schema: bool,
    default: true,
    help: "Count usage and enforce plan limits and rate limits (false: count nothing, limit nothing)",
  },
  accessLog: {
    env: "IMGD_ACCESS_LOG",
    flag: "access-log",
    schema: v.picklist(["off", "json", "common"], "expected off, json or common"),
    default: "off" as "off" | "json" | "common",
    help: "Access log on stdout: JSON lines, common log format, or off",
  },
  metricsAddr: {
    env: "IMGD_METRICS_ADDR",
    flag: "metrics-addr",
    schema: listenAddr,
    default: undefined as string | undefined,
    help: "Also serve Prometheus /metrics without a key on this host:port (GET /metrics on the main port needs the admin key)",
  },
  imgwireMount: {
    env: "IMGD_IMGWIRE_MOUNT",
    flag: "imgwire-mount",
    schema: basePath,
    default: "/imgwire",
    help: "Path the Imgwire-compatible API and CDN are served under (SDK baseUrl: http://HOST:PORT/imgwire)",
  },
  imgwireUploadUrlTtlMs: {
    env: "IMGD_IMGWIRE_UPLOAD_URL_TTL_MS",
    flag: "imgwire-upload-url-ttl-ms",
    schema: int(1000, 7 * 86_400_000),
    default: 3_600_000,
    help: "How long an Imgwire upload_url stays valid, in milliseconds",
  },
  imgwireUploadTokenTtlMs: {
    env: "IMGD_IMGWIRE_UPLOAD_TOKEN_TTL_MS",
    flag: "imgwire-upload-token-ttl-ms",
    schema: int(1000, 86_400_000),
    default: 600_000,
    help: "How long an Imgwire upload token stays valid, in milliseconds",
  },
  imgwireDownloadRetentionMs: {
    env: "IMGD_IMGWIRE_DOWNLOAD_RETENTION_MS",
    flag: "imgwire-download-retention-ms",
    schema: int(1000, 30 * 86_400_000),
    default: 86_400_000,
    help: "How long a bulk-download ZIP is kept, in milliseconds",
  },
  quiet: { env: "IMGD_QUIET", flag: "quiet", schema: bool, default: false, help: "Print nothing but errors" },
} as const;

type Settings = typeof settings;
export type SettingName = keyof Settings;
export type Config = {
  [K in SettingName]:
    | Exclude<v.InferOutput<Settings[K]["schema"]>, undefined>
    | (undefined extends Settings[K]["default"] ? undefined : never);
} & {
  /** Milliseconds since the epoch; tests and embedders may substitute their own clock. */
  now: () => number;
};

/** What a caller may pass: any setting as its typed value or as the string an env var would hold. */
export type ConfigInput = { [K in SettingName]?: unknown } & { now?: () => number };

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Validates every setting; the first bad one throws a one-line message naming it. */
export function resolveConfig(input: ConfigInput = {}): Config {
  const out: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(settings) as [SettingName, Settings[SettingName]][]) {
    const raw = input[name];
    if (raw === undefined || raw === "") {
      out[name] = s.default;
      continue;
    }
    const r = v.safeParse(s.schema as v.GenericSchema, raw);
    if (!r.success) {
      throw new ConfigError(`invalid ${s.env} (--${s.flag}): ${r.issues[0].message}, got ${JSON.stringify(raw)}`);
    }
    out[name] = r.output;
  }
  out.now = input.now ?? Date.now;
  return out as Config;
}

/**
 * Reads the IMGD_* variables of an environment into a ConfigInput. IMGD_TEST_CLOCK_OFFSET_MS
 * shifts the clock, so tests can see keys expire and months roll over in a real server process.
 */
export function configFromEnv(env: Record<string, string | undefined>): ConfigInput {
  const input: ConfigInput = {};
  for (const [name, s] of Object.entries(settings)) {
    if (env[s.env] !== undefined) (input as Record<string, unknown>)[name] = env[s.env];
  }
  const offset = Number(env.IMGD_TEST_CLOCK_OFFSET_MS ?? 0);
  if (Number.isFinite(offset) && offset !== 0) input.now = () => Date.now() + offset;
  return input;
}
