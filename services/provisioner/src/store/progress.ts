import type { ApplicationRole } from "@dbplane/contracts";
import type pg from "pg";
import {
  type BackupResult,
  recordBackupFinished,
  recordBackupStarted,
  recordBackupsPruned,
} from "./backup-progress.ts";
import {
  clearAttempts,
  recordApplicationAnnounced,
  recordAttempt,
  recordDatabaseDeleted,
  recordDatabaseFailed,
  recordDatabaseReady,
  recordEndpointsAnnounced,
  recordReconciled,
  startProvisioning,
} from "./database-progress.ts";
import { recordShardFailedOver, type ShardFailoverFacts } from "./failover-progress.ts";
import type { ProgressContext } from "./progress-context.ts";
import type { ShardEndpoint } from "./rows.ts";
import type { ProvisionerTables } from "./schema-tables.ts";
import { recordShardReady, recordShardRemoved } from "./shard-progress.ts";

/**
 * The reconcile side's writes. Each checks that the database is still at the version the
 * reconcile pass read (a change accepted meanwhile makes the pass's result stale: the next pass
 * redoes it), and writes its events to the outbox in the same transaction.
 */
export interface Progress {
  /** A requested database's first pass began. */
  startProvisioning(name: string, version: number): Promise<void>;
  /**
   * Records a shard ready at `version` and announces it once per version, and again when its
   * endpoint changed at the same version; true in that case (announce the database again).
   */
  shardReady(
    name: string,
    version: number,
    shard: number,
    endpoint: ShardEndpoint,
    correlationId: string,
  ): Promise<boolean>;
  /** A ready database whose shards' endpoints changed: `database.ready` again, once per set of endpoints. */
  endpointsAnnounced(name: string, version: number, correlationId: string): Promise<void>;
  /** A shard the spec no longer has was dropped: its row goes and `shard.removed` is announced. */
  shardRemoved(name: string, version: number, shard: number, correlationId: string): Promise<void>;
  /** Every shard is ready: the database is, its pending create/change operations succeed. False if not (yet). */
  databaseReady(
    name: string,
    version: number,
    correlationId: string,
    application?: ApplicationRole,
  ): Promise<boolean>;
  /** The database (a shard of it, if given) cannot be made real: failed until asked again. */
  databaseFailed(
    name: string,
    version: number,
    reason: string,
    correlationId: string,
    shard?: number,
  ): Promise<void>;
  /** A transient failure: counts it and returns the count (the reconciler gives up at its limit). */
  recordAttempt(name: string, version: number, reason: string): Promise<number>;
  /** A pass went through without error: the backoff of earlier failures ends. */
  clearAttempts(name: string, version: number): Promise<void>;
  /**
   * A ready database's application role, announced again with `database.ready` when the last
   * announcement did not name it (a database made before application roles). True if announced.
   */
  applicationAnnounced(
    name: string,
    version: number,
    application: ApplicationRole,
    correlationId: string,
  ): Promise<boolean>;
  /** A resync of a ready database found nothing (left) to do. */
  reconciled(name: string, version: number): Promise<void>;
  /** Everything of the database is gone (volumes kept if asked). */
  databaseDeleted(name: string, version: number, correlationId: string): Promise<void>;
  /** A failover replaced a shard's primary: its endpoint, `shard.failed-over` and `database.ready` again. */
  shardFailedOver(facts: ShardFailoverFacts): Promise<boolean>;
  /** When a shard's backup started: now on the first attempt, the recorded time after that. */
  backupStarted(database: string, backupId: string, shard: number): Promise<Date>;
  /** One shard's backup finished (or failed); the backup's operation ends when all its shards have. */
  backupFinished(result: BackupResult): Promise<void>;
  /** Backups retention deleted: their rows go (their files are gone). */
  backupsPruned(database: string, backupIds: readonly string[]): Promise<void>;
}

export function createProgress(pool: pg.Pool, t: ProvisionerTables): Progress {
  const ctx: ProgressContext = { pool, t };
  return {
    startProvisioning: (name, version) => startProvisioning(ctx, name, version),
    shardReady: (name, version, shard, endpoint, correlationId) =>
      recordShardReady(ctx, name, version, shard, endpoint, correlationId),
    endpointsAnnounced: (name, version, correlationId) =>
      recordEndpointsAnnounced(ctx, name, version, correlationId),
    shardRemoved: (name, version, shard, correlationId) =>
      recordShardRemoved(ctx, name, version, shard, correlationId),
    databaseReady: (name, version, correlationId, application) =>
      recordDatabaseReady(ctx, name, version, correlationId, application),
    databaseFailed: (name, version, reason, correlationId, shard) =>
      recordDatabaseFailed(ctx, name, version, reason, correlationId, shard),
    recordAttempt: (name, version, reason) => recordAttempt(ctx, name, version, reason),
    clearAttempts: (name, version) => clearAttempts(ctx, name, version),
    applicationAnnounced: (name, version, application, correlationId) =>
      recordApplicationAnnounced(ctx, name, version, application, correlationId),
    reconciled: (name, version) => recordReconciled(ctx, name, version),
    databaseDeleted: (name, version, correlationId) =>
      recordDatabaseDeleted(ctx, name, version, correlationId),
    shardFailedOver: (facts) => recordShardFailedOver(ctx, facts),
    backupStarted: (database, backupId, shard) => recordBackupStarted(ctx, database, backupId, shard),
    backupFinished: (result) => recordBackupFinished(ctx, result),
    backupsPruned: (database, backupIds) => recordBackupsPruned(ctx, database, backupIds),
  };
}
