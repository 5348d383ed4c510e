import type { Selectable } from "kysely";

// The dashboard's tables (migration 005), merged into the one Database type.

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

declare module "./schema.ts" {
  interface Database {
    user_passwords: UserPasswordsTable;
    sessions: SessionsTable;
    setup_tokens: SetupTokensTable;
    signin_failures: SigninFailuresTable;
    retired_usernames: RetiredUsernamesTable;
    email_claims: EmailClaimsTable;
  }
}

export type Session = Selectable<SessionsTable>;
