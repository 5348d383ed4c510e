import type { JSONColumnType } from "kysely";
import type { JsonWithDefault } from "./json-column.ts";

// The tables only the Imgwire dialect keeps (migration 004); part of `Database` (schema.ts).

export interface ImgwireUploadsTable {
  id: string;
  user_id: string;
  key_id: string | null;
  status: "PENDING" | "PROCESSING" | "READY" | "QUARANTINE";
  file_name: string;
  declared_mime: string | null;
  declared_length: number | null;
  declared_hash: string | null;
  idempotency_key: string | null;
  purpose: string | null;
  custom_metadata: JsonWithDefault<Record<string, unknown>>;
  exif_data: JsonWithDefault<Record<string, unknown>>;
  upload_token_id: string | null;
  processed_metadata_at: number | null;
  upload_expires_at: number | null;
  created_at: number;
  updated_at: number;
}

export interface ImgwireUploadTokensTable {
  id: string;
  user_id: string;
  token_hash: string;
  used_at: number | null;
  expires_at: number;
  created_at: number;
  updated_at: number;
}

export interface ImgwireCorsOriginsTable {
  id: string;
  user_id: string;
  pattern: string;
  created_at: number;
  updated_at: number;
}

export interface ImgwireDomainsTable {
  id: string;
  user_id: string;
  hostname: string;
  status: "PENDING" | "CONNECTED" | "FAILED";
  last_verified_at: number | null;
  created_at: number;
  updated_at: number;
}

export interface ImgwireDownloadsTable {
  id: string;
  user_id: string;
  status: "PENDING" | "PROCESSING" | "READY" | "FAILED";
  image_ids: JSONColumnType<string[]>;
  expires_at: number | null;
  created_at: number;
  updated_at: number;
}
