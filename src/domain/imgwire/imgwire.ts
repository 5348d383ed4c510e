import type { Db } from "../../db/connection.ts";
import type { ArchiveStore, BlobStore } from "../../store/types.ts";
import type { Accounts } from "../accounts/accounts.ts";
import type { Fetcher } from "../fetcher/fetcher.ts";
import type { Images } from "../library/images.ts";
import type { Ingest } from "../ingest/ingest.ts";
import { CorsOrigins } from "./cors.ts";
import { CustomDomains, DomainHosts, DomainProof } from "./domains.ts";
import type { OwnHosts } from "../site/hosts.ts";
import type { Dns } from "../fetcher/dns.ts";
import { Environments } from "./environments.ts";
import { ImgwireKeys } from "./keys.ts";
import { ImgwireDownloads } from "./downloads.ts";
import { ImgwireUploads } from "./uploads.ts";
import type { Keys } from "../accounts/keys.ts";
import type { Tokens } from "../tokens/tokens.ts";
import type { Users } from "../accounts/users.ts";

/** The Imgwire dialect's resources, built once per imgd. */
export interface ImgwireServices {
  keys: ImgwireKeys;
  environments: Environments;
  origins: CorsOrigins;
  domains: CustomDomains;
  uploads: ImgwireUploads;
  downloads: ImgwireDownloads;
  hosts: DomainHosts;
  /** Checks that a tenant published its token for a domain. */
  proof: DomainProof;
  /** For the sweeper: finish left-behind download jobs, drop expired ZIPs. */
  sweep: () => Promise<void>;
}

/** The settings the Imgwire dialect reads (from the server's config). */
export interface ImgwireSettings {
  imgwireUploadUrlTtlMs: number;
  imgwireUploadTokenTtlMs: number;
  imgwireDownloadRetentionMs: number;
  importTimeoutMs: number;
  now: () => number;
}

export function buildImgwire(d: {
  config: ImgwireSettings;
  /** The names imgd answers as itself: never a tenant's custom domain. */
  ownHosts: OwnHosts;
  /** Where TXT proofs are looked up. */
  dns: Dns;
  db: Db;
  keys: Keys;
  users: Users;
  accounts: Accounts;
  images: Images;
  ingest: Ingest;
  blobs: BlobStore;
  archives: ArchiveStore;
  fetcher: Fetcher;
  tokens: Tokens;
  log: (l: string) => void;
}): ImgwireServices {
  const { config } = d;
  const refusal = (host: string) => d.ownHosts.claimRefusal(host);
  const domains = new CustomDomains({ db: d.db, users: d.users, refusal, now: config.now });
  const uploads = new ImgwireUploads({
    db: d.db,
    users: d.users,
    ingest: d.ingest,
    fetcher: d.fetcher,
    tokens: d.tokens,
    urlTtlMs: config.imgwireUploadUrlTtlMs,
    tokenTtlMs: config.imgwireUploadTokenTtlMs,
    now: config.now,
  });
  const downloads = new ImgwireDownloads({
    db: d.db,
    images: d.images,
    blobs: d.blobs,
    archives: d.archives,
    retentionMs: config.imgwireDownloadRetentionMs,
    now: config.now,
    log: d.log,
  });
  return {
    keys: new ImgwireKeys({ db: d.db, keys: d.keys, now: config.now }),
    environments: new Environments({ db: d.db, users: d.users, accounts: d.accounts }),
    origins: new CorsOrigins({ db: d.db, now: config.now }),
    domains,
    uploads,
    downloads,
    hosts: new DomainHosts(domains, config.now),
    proof: new DomainProof({
      tokens: d.tokens,
      fetcher: d.fetcher,
      refusal,
      resolveTxt: d.dns.txt,
      timeoutMs: config.importTimeoutMs,
    }),
    sweep: async () => {
      await downloads.runPending();
      await downloads.sweep();
    },
  };
}
