import type { OutputFormat, TransformInput, TransformSpec } from "../../../codecs/types.ts";
import type { Image, Preset, User } from "../../db/schema.ts";
import type { StoredObject } from "../../store/types.ts";
import type { AccessRequest, Asks, Requester } from "./access.ts";

// What goes into a delivery and what comes out: the HTTP layer reads a URL once into a
// `DeliveryAsk`, a dialect's parser fills it into a `DeliveryRequest`, and `Delivery.deliver`
// answers with a `DeliveryResult`.

/** What to send: stored bytes (original or cached variant) or freshly made bytes. */
export interface Delivered {
  etag: string;
  mime: string;
  size: number;
  /** Set for private images: a shared cache must not keep them. */
  privateUntil?: number;
  object?: StoredObject;
  bytes?: Uint8Array;
  cache: "original" | "hit" | "miss";
  userId: string;
}

/** The answer of a delivery, and whether it depended on Accept (the response must say `Vary: Accept`). */
export interface DeliveryResult {
  delivered: Delivered | "not-modified";
  /** The ETag the answer settled on (a 304 carries it too). */
  etag: string;
  varyAccept: boolean;
}

/** One delivery URL as the HTTP layer read it (once): what every dialect's parser starts from. */
export interface DeliveryAsk {
  /** The tenant (by username) and the image's path, percent-decoded. */
  username: string;
  path: string;
  /** The URL's query: the options, and what a signature covers. */
  search: URLSearchParams;
  /** The client's Accept header: what a negotiated format (`format=auto` and kin) chooses from. */
  accept?: string | null;
  /** The If-None-Match header: a 304 when it names the answer's ETag. */
  ifNoneMatch?: string | null;
  /** Who asks (the owner by key or session, or an anonymous address with its miss budget). */
  requester?: Requester;
  /** The URL's key among remembered answers, where the reader already built it (the native hot path). */
  hotKey?: string;
  /** The hot path already looked `hotKey` up and had no answer: the delivery does not look again. */
  hotLooked?: boolean;
  /** Whether the URL itself asks for a negotiated format, where the reader already knows. */
  varies?: boolean;
  /** The URL's path and query under the base URL (see DeliveryRequest.url). */
  url?: string;
}

/** Watermark bytes and their identity (sha256), which goes into the spec and so the variant key. */
export interface WatermarkBytes {
  hash: string;
  bytes: Uint8Array;
}

/** What a dialect's URL parser makes of the options, once the image is known. */
export interface DeliverySpec {
  /** null: the stored bytes answer the request as they are. */
  spec: TransformSpec | null;
  /** The tenant preset the URL used, counted as used. */
  presetId?: string;
  /** Bytes the transform needs besides the source (a watermark image). */
  input?: TransformInput;
  /** The output format was negotiated from Accept (a preset's `format: auto`, Imgwire without `format`). */
  varyAccept?: boolean;
}

/** One delivery, as a dialect's parser filled it in; `O` is what its URL parser reads first. */
export interface DeliveryRequest<O = unknown> extends AccessRequest {
  username: string;
  /** What the URL asks beyond the stored image, for IMGD_TRANSFORMS (default: `options`). */
  asks?: Asks;
  /** Counts a view against the plan (AssetsRepo), given back if the delivery fails. */
  countView?: boolean;
  /** Reads the URL's options once the image is found, before access is checked (a bad option is a 400 either way). */
  options?: () => O;
  /** The dialect's options into the canonical spec (not yet clamped to the source). */
  spec: (ctx: SpecContext, options: O) => DeliverySpec | Promise<DeliverySpec>;
  /** The 404's message when the path names no image. */
  notFound?: string;
  /** The If-None-Match header: a 304 when it names the answer's ETag. */
  ifNoneMatch?: string | null;
  /** The client's Accept header, for a negotiated format. */
  accept?: string | null;
  /** Remember a public answer under this key (the URL) for the hot path. */
  hotKey?: string;
  /** The hot path looked `hotKey` up already, and had no answer. */
  hotLooked?: boolean;
  /** The URL's path and query under the base URL: what a CDN purge names for a variant made for it. */
  url?: string;
  /**
   * The URL itself asks for a negotiated format, so `hotKey` already holds the Accept class.
   * An answer negotiated without it (a preset's `format: auto`) is not remembered.
   */
  varies?: boolean;
}

export interface SpecContext {
  user: User;
  image: Image;
  /** A tenant preset by name: `preset p:name not found` is the dialect's to say. */
  preset: (name: string) => Promise<Preset | undefined>;
  /** The output format for a negotiated request: Accept within the tenant's `delivery_formats`. */
  negotiate: () => OutputFormat;
  /** Another live image of the same tenant, by id, as a watermark (404 when there is none). */
  watermarkImage: (id: string) => Promise<WatermarkBytes>;
  /** An image from a URL, as a watermark. */
  watermarkUrl: (url: string) => Promise<WatermarkBytes>;
}
