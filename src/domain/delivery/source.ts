import { AppError, invalid } from "../errors.ts";
import { canonicalHost } from "../site/hosts.ts";

// Where a URL shape's source lives. Every shape (IPX, Cloudflare, Next.js, imgproxy, thumbor)
// names its image by a string of its own making; this is the one reader of those strings. A
// source that names no image of this imgd is refused here, from its text alone: nothing is
// looked up or connected to. What it resolves to is then delivered like any other image, so
// the one access check (access.ts) decides who sees it.
//
// Another kind of source (a remote origin the operator lists) is one more member of
// `ResolvedSource` and one more branch in `resolveSource`, tried before the refusal.

/** A stored image, by its tenant and path (percent-decoded). */
export interface StoredSource {
  kind: "stored";
  username: string;
  path: string;
}

export type ResolvedSource = StoredSource;

/** What a source is read against: the names imgd answers as itself, and what the request came on. */
export interface SourceHosts {
  /** IMGD_PUBLIC_URL's host. */
  publicHost?: string;
  /** IMGD_CDN_HOST, whose paths are `/{username}/{filepath}`. */
  cdnHost?: string;
  /** IMGD_BASE_PATH: absolute URLs of imgd carry it before `/i/`. */
  basePath: string;
  /** The request's own host name (its Host header). */
  requestHost?: string;
  /** Whether imgd answers on a name as itself (OwnHosts.isOwn). */
  isOwn: (host: string) => boolean;
}

export interface SourceRules {
  /** The shape's name of the source, for its error messages. */
  option: string;
  /** imgproxy's `local:///{username}/{filepath}`. */
  local?: boolean;
  /** A path without the leading `i/` names the tenant first (IPX, Cloudflare, Next.js); thumbor needs `i/`. */
  bareTenantPath?: boolean;
}

const SCHEME = /^([a-z][a-z0-9+.-]*):/i;
const ENCODED_SCHEME = /^[a-z][a-z0-9+.-]*%3a/i;

/**
 * A shape's source (still percent-encoded, as the URL carries it) → the image it names:
 * `/i/{username}/{filepath}`, `{username}/{filepath}`, an absolute URL on one of imgd's own
 * hosts, or `local:///{username}/{filepath}` where the shape allows it. Anything else is a 400.
 */
export function resolveSource(raw: string, hosts: SourceHosts, rules: SourceRules): ResolvedSource {
  // An absolute URL given percent-encoded whole (`http%3A%2F%2F…`) is decoded once, as the builders encode it.
  const text = ENCODED_SCHEME.test(raw) ? decode(raw, rules.option) : raw;
  const scheme = SCHEME.exec(text)?.[1]?.toLowerCase();
  if (scheme === undefined) return storedPath(text, rules, rules.bareTenantPath ?? true);
  if (scheme === "local" && rules.local) {
    const rest = text.slice("local:".length);
    if (!rest.startsWith("///")) throw invalid(rules.option, "expected local:///{username}/{filepath}");
    return storedPath(rest.slice(3), rules, true);
  }
  if (scheme === "http" || scheme === "https") return ownUrl(text, hosts, rules);
  throw refused(rules.option);
}

function ownUrl(text: string, hosts: SourceHosts, rules: SourceRules): StoredSource {
  // A proxy in front may have folded `http://` to `http:/` in the path it passed on.
  const fixed = text.replace(/^(https?):\/*/i, "$1://");
  let u: URL;
  try {
    u = new URL(fixed);
  } catch {
    throw invalid(rules.option, "is not a valid URL");
  }
  if (u.username || u.password) throw refused(rules.option);
  const host = canonicalHost(u.hostname);
  const own =
    host === hosts.publicHost ||
    host === hosts.cdnHost ||
    (hosts.requestHost !== undefined && host === canonicalHost(hosts.requestHost) && hosts.isOwn(hosts.requestHost));
  if (!own) throw refused(rules.option);
  if (u.search)
    throw invalid(rules.option, "a source URL with a query is not read here; give the options in the URL's own place");
  let path = u.pathname;
  if (hosts.basePath && (path === hosts.basePath || path.startsWith(`${hosts.basePath}/`)))
    path = path.slice(hosts.basePath.length);
  if (path.startsWith("/i/")) return storedPath(path.slice(3), rules, true);
  if (host === hosts.cdnHost) return storedPath(path, rules, true);
  throw invalid(rules.option, "an imgd URL names its image as /i/{username}/{filepath}");
}

/** `[/][i/]{username}/{filepath}`, percent-decoded once. */
function storedPath(encoded: string, rules: SourceRules, bare: boolean): StoredSource {
  const p = decode(encoded, rules.option, true).replace(/^\/+/, "");
  // Usernames are two characters at least, so a leading `i/` is always imgd's delivery prefix.
  const underI = p.startsWith("i/");
  if (!underI && !bare) throw invalid(rules.option, "expected i/{username}/{filepath}, e.g. i/admin/photo.jpg");
  const rest = underI ? p.slice(2) : p;
  const slash = rest.indexOf("/");
  if (slash <= 0 || slash === rest.length - 1)
    throw invalid(rules.option, "expected /i/{username}/{filepath}, e.g. /i/admin/photos/cat.jpg");
  return { kind: "stored", username: rest.slice(0, slash), path: rest.slice(slash + 1) };
}

function decode(s: string, option: string, asNotFound = false): string {
  try {
    return decodeURIComponent(s);
  } catch {
    if (asNotFound) throw new AppError("NOT_FOUND", "Image not found");
    throw invalid(option, "is not valid percent-encoding");
  }
}

const refused = (option: string) =>
  invalid(
    option,
    "names no image this imgd holds: the source must be an imgd path (/i/{username}/{filepath}) or a URL on imgd's own host; other hosts are not fetched",
  );
