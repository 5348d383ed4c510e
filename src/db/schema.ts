import type { Generated, Insertable, Selectable, Updateable } from "kysely";

// Times are integer milliseconds since the epoch; JSON columns hold text.

export interface UsersTable {
  id: string;
  username: string;
  email: string | null;
  role: "admin" | "user";
  plan: string;
  verified: Generated<number>;
  delivery_formats: Generated<string>;
  default_quality: Generated<number>;
  default_fit_mode: Generated<string>;
  default_max_width: number | null;
  default_max_height: number | null;
  theme: Generated<string>;
  language: Generated<string>;
  /** What unsigned URLs may ask (signed, presets, any); null: IMGD_TRANSFORMS alone. */
  transforms: string | null;
  /** URL prefixes (JSON list) an unsigned URL may make imgd fetch from; null: none. */
  fetch_origins: string | null;
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
  options: string | null;
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
  namespace: string | null;
  metadata: Generated<string>;
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
  params: string;
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
}

export interface RateWindowsTable {
  subject: string;
  window_start: number;
  window_ms: number;
  count: number;
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
}

export type User = Selectable<UsersTable>;
export type NewUser = Insertable<UsersTable>;
export type UserUpdate = Updateable<UsersTable>;
export type ApiKey = Selectable<ApiKeysTable>;
export type Blob = Selectable<BlobsTable>;
export type Image = Selectable<ImagesTable>;
export type Preset = Selectable<PresetsTable>;
export type Variant = Selectable<VariantsTable>;
