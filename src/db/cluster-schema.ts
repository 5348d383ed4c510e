// The tables several nodes coordinate through (migration 007), merged into the one Database type.

export interface SettingsTable {
  name: string;
  value: string;
  updated_at: number;
}

export interface LeasesTable {
  name: string;
  /** The node holding it (a random id per process). */
  holder: string;
  expires_at: number;
}

declare module "./schema.ts" {
  interface Database {
    settings: SettingsTable;
    leases: LeasesTable;
  }
}
