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
}

export interface SetupTokensTable {
  token_hash: string;
  user_id: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
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
  }
}

export type Session = Selectable<SessionsTable>;
