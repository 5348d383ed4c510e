// The access log: one line per request, as JSON or in the common log format. Routes note
// what only they know (the tenant, the matched route) on the request; the line is written
// when the response headers are ready, from the response itself (status, bytes, cache).

export type AccessLogFormat = "off" | "json" | "common";

export interface RequestNote {
  tenant?: string;
  route?: string;
}

export class AccessLog {
  readonly #notes = new WeakMap<Request, RequestNote>();

  constructor(
    readonly format: AccessLogFormat,
    private readonly write: (line: string) => void,
  ) {}

  get enabled() {
    return this.format !== "off";
  }

  note(req: Request, note: RequestNote) {
    if (this.format === "off") return;
    const had = this.#notes.get(req);
    this.#notes.set(req, had ? { ...had, ...note } : note);
  }

  /** `url`: the request's path and query as the front router read them. */
  record(
    req: Request,
    url: { pathname: string; query: string },
    res: Response,
    started: number,
    remoteAddress: string,
  ) {
    if (this.format === "off") return;
    const note = this.#notes.get(req) ?? {};
    const length = res.headers.get("content-length");
    const bytes = length === null ? null : Number(length);
    const cache = res.headers.get("x-cache")?.toLowerCase() ?? null;
    const requestId = res.headers.get("x-request-id") ?? "";
    const ms = Math.round((performance.now() - started) * 100) / 100;
    if (this.format === "json") {
      this.write(
        JSON.stringify({
          time: new Date().toISOString(),
          request_id: requestId,
          remote: remoteAddress || null,
          method: req.method,
          path: url.pathname,
          route: note.route ?? null,
          tenant: note.tenant ?? null,
          status: res.status,
          bytes,
          duration_ms: ms,
          cache,
        }),
      );
      return;
    }
    // Common log format, with the request id, tenant, route, duration and cache appended.
    const stamp = clfTime(new Date());
    const q = (s: string | null | undefined) => (s ? `"${s.replace(/["\\]/g, "\\$&")}"` : "-");
    this.write(
      `${remoteAddress || "-"} - ${note.tenant ?? "-"} [${stamp}] "${req.method} ${url.pathname}${url.query} HTTP/1.1" ${res.status} ${bytes ?? "-"} ${q(requestId)} ${q(note.route)} ${ms}ms ${cache ?? "-"}`,
    );
  }
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const pad = (n: number) => String(n).padStart(2, "0");

function clfTime(d: Date): string {
  return `${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
}
