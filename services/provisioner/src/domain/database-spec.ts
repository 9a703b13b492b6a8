import type { CreateDatabase } from "@dbplane/contracts";

/**
 * The desired state of a database as stored: the accepted `create-database` data, defaults
 * applied — the PostgreSQL version among them (`withPostgresVersion`).
 */
export type DatabaseSpec = CreateDatabase & {
  readonly postgresVersion: number;
  /** Synchronous mode: a commit waits until this many of the shard's replicas have it. */
  readonly synchronous?: SynchronousMode | undefined;
  /** Set on a database made by a restore: every shard recovered from the source's backups. */
  readonly restoreFrom?: RestoreSource;
};

/** Per database `synchronous: {replicas: n}` (`synchronous_standby_names = 'ANY n (…)'`). */
export interface SynchronousMode {
  readonly replicas: number;
}

/** Where a restored database comes from: the source, the moment, and per shard its base backup. */
export interface RestoreSource {
  readonly database: string;
  /** RFC 3339; every shard is recovered to this moment. */
  readonly targetTime: string;
  /** Per shard (by index) the base backup's location, as its backup row records it. */
  readonly bases: readonly string[];
  /** The source's shard map ranges at `targetTime` (absent: version 1's equal ranges), for the new map. */
  readonly ranges?: readonly { shard: number; from: string; to: string }[] | undefined;
}

/** Key order does not matter to equality of specs; arrays keep their order. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => [k, canonical(v)]),
    );
  }
  return value;
}

/**
 * Whether a create request asks for the same database as the stored spec. Shards added and
 * replicas scaled since creation are changes of the live database, not of the request: they
 * are compared against what was originally asked for.
 */
export function sameRequest(requested: DatabaseSpec, original: DatabaseSpec): boolean {
  return JSON.stringify(canonical(requested)) === JSON.stringify(canonical(original));
}

/** Dedup ids of the provisioner's events: derived from the fact, so a repeat is absorbed (DESIGN.md, "Messages"). */
export const eventIds = {
  requested: (db: string, version: number) => `${db}:v${version}:requested`,
  ready: (db: string, version: number) => `${db}:v${version}:ready`,
  failed: (db: string, version: number) => `${db}:v${version}:failed`,
  deleted: (db: string, version: number) => `${db}:v${version}:deleted`,
  shardReady: (db: string, shard: number, version: number) => `${db}:${shard}:v${version}:ready`,
  shardFailed: (db: string, shard: number, version: number) => `${db}:${shard}:v${version}:failed`,
  shardRemoved: (db: string, shard: number, version: number) => `${db}:${shard}:v${version}:removed`,
  /** A failover is one fact per promoted server and position: a repeat after a crash is a duplicate. */
  shardFailedOver: (db: string, shard: number, newPrimary: string, lsn: string) =>
    `${db}:${shard}:failover:${newPrimary}:${lsn}`,
  backupCompleted: (db: string, shard: number, backupId: string) =>
    `${db}:${shard}:${backupId}:backup-completed`,
  backupFailed: (db: string, shard: number, backupId: string) => `${db}:${shard}:${backupId}:backup-failed`,
} as const;

/** The CloudEvents subject (aggregate) of a database's or a shard's messages. */
export const aggregateOf = {
  database: (db: string) => `database/${db}`,
  shard: (db: string, shard: number) => `database/${db}/shard/${shard}`,
} as const;
