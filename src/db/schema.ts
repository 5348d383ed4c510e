import type { Generated, Insertable, JSONColumnType, Selectable, Updateable } from "kysely";
import type {
  ImgwireCorsOriginsTable,
  ImgwireDomainsTable,
  ImgwireDownloadsTable,
  ImgwireUploadsTable,
  ImgwireUploadTokensTable,
} from "./schema-imgwire.ts";
import type { JsonWithDefault, NullableJson } from "./json-column.ts";

// Every table imgd keeps, in one place. Times are integer milliseconds since the epoch.
// JSON columns are TEXT on both SQLite and PostgreSQL: they are written as JSON text and come
// back parsed (`JsonColumns` in json.ts, installed where the database is opened), so no caller
// parses them. Text that is no JSON reads as null.

export interface UsersTable {
  id: string;
  username: string;
  email: string | null;
  role: "admin" | "user";
  plan: string;
  verified: Generated<number>;
  /** The formats negotiation may answer with, in order. */
  delivery_formats: JsonWithDefault<string[]>;
  default_quality: Generated<number>;
  default_fit_mode: Generated<string>;
  default_max_width: number | null;
  default_max_height: number | null;
  theme: Generated<string>;
  language: Generated<string>;
  /** What unsigned URLs may ask (signed, presets, any); null: IMGD_TRANSFORMS alone. */
  transforms: string | null;
  /** URL prefixes an unsigned URL may make imgd fetch from; null: none. */
  fetch_origins: NullableJson<string[]>;
  /** What uploads' originals lose unless the upload says (none, gps, all; migration 016). */
  strip_metadata: Generated<string>;
  /** Imgwire's `display_name` (migration 004). */
  display_name: string | null;
  created_at: number;
  updated_at: number;
}

export interface ApiKeysTable {
  id: string;
  user_id: string;
  name: string;
  kind: Generated<"server" | "client">;
  key_prefix: string;
  key_hash: string;
  last4: string;
  scopes: string;
  /** What a dialect keeps beside the key (Imgwire: its scopes as sent, client-key options). */
  options: NullableJson<Record<string, unknown>>;
  created_at: number;
  expires_at: number | null;
  last_used_at: number | null;
  total_requests: Generated<number>;
}

export interface BlobsTable {
  hash: string;
  size: number;
  format: string;
  mime: string;
  width: number;
  height: number;
  created_at: number;
}

export interface ImagesTable {
  id: string;
  user_id: string;
  blob_hash: string;
  original_filename: string;
  sanitized_filename: string;
  format: string;
  mime_type: string;
  size: number;
  width: number;
  height: number;
  visibility: "public" | "private";
  dominant_color: string | null;
  /** Base64 ThumbHash; null for images stored before placeholders, until one is made. */
  thumbhash: string | null;
  /** 1 when the image has an alpha channel; null for images stored before 013, until backfilled. */
  has_alpha: number | null;
  /** Frames (animation frames or pages); null for images stored before 013, until backfilled. */
  frames: number | null;
  /** Purges so far (016): part of the original's ETag and of every variant key. */
  generation: Generated<number>;
  namespace: string | null;
  /** Custom fields. */
  metadata: JsonWithDefault<Record<string, unknown>>;
  external_id: string | null;
  source_url: string | null;
  expires_at: number | null;
  signed_url: string | null;
  signed_url_expires_at: number | null;
  /** img.pro's `public`: whether the viewer page is shown; delivery follows `visibility`. */
  page_public: Generated<number>;
  /** img.pro's editorial `date`, as the client sent it. */
  display_date: string | null;
  created_at: number;
  updated_at: number;
}

export interface ImagePathsTable {
  user_id: string;
  stem: string;
  path: string;
  image_id: string;
  created_at: number;
}

export interface ImageTagsTable {
  image_id: string;
  tag: string;
}

export interface PresetsTable {
  id: string;
  user_id: string;
  name: string;
  description: string | null;
  params: JSONColumnType<Record<string, unknown>>;
  created_at: number;
  updated_at: number;
  usage_count: Generated<number>;
}

export interface UsageCountersTable {
  user_id: string;
  /** UTC month, YYYY-MM */
  period: string;
  metric: string;
  value: number;
}

export interface UsageHourlyTable {
  user_id: string;
  /** Start of the UTC hour, ms. */
  hour: number;
  metric: string;
  value: number;
}

export interface VariantsTable {
  key: string;
  blob_hash: string;
  size: number;
  mime: string;
  width: number;
  height: number;
  created_at: number;
  last_access_at: number;
  /** The tenant it was made for (its share of the cache); null for variants cached before 011. */
  user_id: string | null;
  /** The image and the URL (path and query under the base URL) it was first made for (016); null before. */
  image_id: string | null;
  url: string | null;
}

export interface RateWindowsTable {
  subject: string;
  window_start: number;
  window_ms: number;
  count: number;
}

// The Imgwire dialect's tables (migration 004) are in schema-imgwire.ts.

// The dashboard's tables (migration 005).

export interface UserPasswordsTable {
  user_id: string;
  /** argon2id, PHC string format (algorithm, parameters and salt travel with the hash). */
  hash: string;
  updated_at: number;
}

export interface SessionsTable {
  id: string;
  user_id: string;
  token_hash: string;
  csrf_token: string;
  /** How the session was opened: `password`, `key` or `setup`. */
  method: string;
  /** Comma-separated, like api_keys.scopes. */
  scopes: string;
  user_agent: string | null;
  ip: string | null;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
  /** The key a session opened with a key was opened with (migration 008): it ends with the key. */
  key_id: string | null;
}

export interface SetupTokensTable {
  token_hash: string;
  user_id: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

/** Usernames of deleted accounts (migration 008): never given to anyone again. */
export interface RetiredUsernamesTable {
  username: string;
  user_id: string;
  retired_at: number;
}

/** An email address given at open registration, waiting for its link to be opened (migration 008). */
export interface EmailClaimsTable {
  token_hash: string;
  user_id: string;
  email: string;
  created_at: number;
  expires_at: number;
}

export interface SigninFailuresTable {
  subject: string;
  failures: number;
  last_failure_at: number;
}

// The tables several nodes coordinate through (migration 007).

export interface SettingsTable {
  name: string;
  value: string;
  updated_at: number;
}

/** What a resumable upload becomes once whole (checked when it was created). */
export interface UploadFields {
  filename: string;
  path?: string;
  visibility?: "public" | "private";
  tags?: string[];
  /** What metadata the stored original loses (absent: the tenant's setting). */
  strip?: "none" | "gps" | "all";
}

/** One received PATCH of a resumable upload, in the part store under the upload's id. */
export interface UploadPart {
  name: string;
  size: number;
}

export interface UploadsTable {
  id: string;
  user_id: string;
  upload_length: number;
  upload_offset: number;
  raw_metadata: string | null;
  upload_fields: JsonWithDefault<UploadFields>;
  upload_parts: JsonWithDefault<UploadPart[]>;
  /** The image it became; null while bytes are still coming. */
  image_id: string | null;
  expires_at: number;
  created_at: number;
  updated_at: number;
}

export interface LeasesTable {
  name: string;
  /** The node holding it (a random id per process). */
  holder: string;
  expires_at: number;
}

export interface WebhooksTable {
  id: string;
  user_id: string;
  url: string;
  /** A JSON list of event types. */
  events: string;
  secret: string;
  created_at: number;
}

export interface WebhookDeliveriesTable {
  id: string;
  webhook_id: string;
  user_id: string;
  message_id: string;
  type: string;
  order_key: string;
  payload: string;
  status: "pending" | "delivered" | "failed";
  attempts: Generated<number>;
  next_at: number;
  last_status: number | null;
  last_error: string | null;
  created_at: number;
  finished_at: number | null;
}

export interface Database {
  users: UsersTable;
  api_keys: ApiKeysTable;
  blobs: BlobsTable;
  images: ImagesTable;
  image_paths: ImagePathsTable;
  image_tags: ImageTagsTable;
  presets: PresetsTable;
  usage_counters: UsageCountersTable;
  usage_hourly: UsageHourlyTable;
  variants: VariantsTable;
  rate_windows: RateWindowsTable;
  imgwire_uploads: ImgwireUploadsTable;
  imgwire_upload_tokens: ImgwireUploadTokensTable;
  imgwire_cors_origins: ImgwireCorsOriginsTable;
  imgwire_domains: ImgwireDomainsTable;
  imgwire_downloads: ImgwireDownloadsTable;
  user_passwords: UserPasswordsTable;
  sessions: SessionsTable;
  setup_tokens: SetupTokensTable;
  signin_failures: SigninFailuresTable;
  retired_usernames: RetiredUsernamesTable;
  email_claims: EmailClaimsTable;
  settings: SettingsTable;
  leases: LeasesTable;
  uploads: UploadsTable;
  webhooks: WebhooksTable;
  webhook_deliveries: WebhookDeliveriesTable;
}

export type User = Selectable<UsersTable>;
export type NewUser = Insertable<UsersTable>;
export type UserUpdate = Updateable<UsersTable>;
export type ApiKey = Selectable<ApiKeysTable>;
export type Blob = Selectable<BlobsTable>;
export type Image = Selectable<ImagesTable>;
export type ImageUpdate = Updateable<ImagesTable>;
export type Preset = Selectable<PresetsTable>;
export type Variant = Selectable<VariantsTable>;
export type Session = Selectable<SessionsTable>;
export type ImgwireUpload = Selectable<ImgwireUploadsTable>;
export type ResumableUpload = Selectable<UploadsTable>;
export type ImgwireToken = Selectable<ImgwireUploadTokensTable>;
export type ImgwireCorsOrigin = Selectable<ImgwireCorsOriginsTable>;
export type ImgwireDomain = Selectable<ImgwireDomainsTable>;
export type ImgwireDownload = Selectable<ImgwireDownloadsTable>;
