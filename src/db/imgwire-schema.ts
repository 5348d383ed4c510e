import type { Selectable } from "kysely";

// The Imgwire dialect's tables (migration 004), merged into the one Database type.

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
  custom_metadata: string;
  exif_data: string;
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
  image_ids: string;
  expires_at: number | null;
  created_at: number;
  updated_at: number;
}

declare module "./schema.ts" {
  interface Database {
    imgwire_uploads: ImgwireUploadsTable;
    imgwire_upload_tokens: ImgwireUploadTokensTable;
    imgwire_cors_origins: ImgwireCorsOriginsTable;
    imgwire_domains: ImgwireDomainsTable;
    imgwire_downloads: ImgwireDownloadsTable;
  }
  interface UsersTable {
    display_name: string | null;
  }
}

export type ImgwireUpload = Selectable<ImgwireUploadsTable>;
export type ImgwireToken = Selectable<ImgwireUploadTokensTable>;
export type ImgwireCorsOrigin = Selectable<ImgwireCorsOriginsTable>;
export type ImgwireDomain = Selectable<ImgwireDomainsTable>;
export type ImgwireDownload = Selectable<ImgwireDownloadsTable>;
