import type { ShardReady } from "@dbplane/contracts";
import type { DatabaseSpec } from "../domain/database-spec.ts";
import type { DatabaseState, OperationKind, OperationState, ShardState } from "../domain/states.ts";

/** How to reach a shard, as stored and announced (never a password, only where it lives). */
export type ShardEndpoint = Omit<ShardReady, "database" | "shard">;

export interface DatabaseRow {
  readonly name: string;
  readonly requestedSpec: DatabaseSpec;
  readonly spec: DatabaseSpec;
  readonly version: number;
  readonly state: DatabaseState;
  readonly reason: string | null;
  readonly keepVolumes: boolean;
  readonly attempts: number;
  readonly operationId: string;
  /** How many times the name was made (1: the first database of it); see ShardTarget. */
  readonly incarnation: number;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface ShardRow {
  readonly database: string;
  readonly shard: number;
  readonly replicas: number;
  readonly state: ShardState;
  readonly endpoint: ShardEndpoint | null;
  readonly reason: string | null;
  readonly readyVersion: number | null;
}

export interface OperationRow {
  readonly id: string;
  readonly kind: OperationKind;
  readonly database: string;
  readonly targetVersion: number | null;
  readonly backupId: string | null;
  readonly state: OperationState;
  readonly error: string | null;
  readonly createdAt: Date;
  readonly finishedAt: Date | null;
}

export interface BackupRow {
  readonly database: string;
  readonly backupId: string;
  readonly shard: number;
  readonly state: "pending" | "completed" | "failed";
  readonly location: string | null;
  readonly bytes: number | null;
  readonly reason: string | null;
  readonly operationId: string | null;
  readonly startedAt: Date | null;
  readonly completedAt: Date | null;
  readonly startLsn: string | null;
  readonly stopLsn: string | null;
  /** The shard map version in force when it completed (null: none seen). */
  readonly mapVersion: number | null;
  /** Shards a backup of every shard covered (null: a one-shard backup, or an older row). */
  readonly ofShards: number | null;
}

// biome-ignore lint/suspicious/noExplicitAny: pg rows are untyped records
type Raw = Record<string, any>;

export const toDatabase = (r: Raw): DatabaseRow => ({
  name: r.name,
  requestedSpec: r.requested_spec,
  spec: r.spec,
  version: r.version,
  state: r.state,
  reason: r.reason,
  keepVolumes: r.keep_volumes,
  attempts: r.attempts,
  operationId: r.operation_id,
  incarnation: r.incarnation ?? 1,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export const toShard = (r: Raw): ShardRow => ({
  database: r.database,
  shard: r.shard,
  replicas: r.replicas,
  state: r.state,
  endpoint: r.endpoint,
  reason: r.reason,
  readyVersion: r.ready_version,
});

export const toOperation = (r: Raw): OperationRow => ({
  id: r.id,
  kind: r.kind,
  database: r.database,
  targetVersion: r.target_version,
  backupId: r.backup_id,
  state: r.state,
  error: r.error,
  createdAt: r.created_at,
  finishedAt: r.finished_at,
});

export const toBackup = (r: Raw): BackupRow => ({
  database: r.database,
  backupId: r.backup_id,
  shard: r.shard,
  state: r.state,
  location: r.location,
  bytes: r.bytes === null ? null : Number(r.bytes),
  reason: r.reason,
  operationId: r.operation_id,
  startedAt: r.started_at,
  completedAt: r.completed_at,
  startLsn: r.start_lsn ?? null,
  stopLsn: r.stop_lsn ?? null,
  mapVersion: r.map_version ?? null,
  ofShards: r.of_shards ?? null,
});
