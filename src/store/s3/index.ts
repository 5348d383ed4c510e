import { S3ArchiveStore } from "./archives.ts";
import { S3BlobStore, type S3Layout } from "./blobs.ts";
import { S3Client, type S3Limits, type S3Location } from "./client.ts";
import { S3PartStore } from "./parts.ts";
import { S3VariantStore } from "./variants.ts";

export { S3ArchiveStore } from "./archives.ts";
export { S3BlobStore, type S3Layout } from "./blobs.ts";
export { parseS3Url, S3Client, S3Error, type S3Location } from "./client.ts";
export { S3VariantStore } from "./variants.ts";

/** Blobs, variants, downloads and upload parts in one bucket under one prefix. */
export function openS3Storage(loc: S3Location, options: { sweepGraceMs: number; limits?: Partial<S3Limits> }) {
  const s3 = new S3Client(loc, options.limits);
  const layout: S3Layout = { prefix: loc.prefix, sweepGraceMs: options.sweepGraceMs };
  return {
    s3,
    blobs: new S3BlobStore(s3, layout),
    variants: new S3VariantStore(s3, layout),
    archives: new S3ArchiveStore(s3, layout),
    parts: new S3PartStore(s3, layout),
  };
}
