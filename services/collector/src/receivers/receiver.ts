import type { ShardTls } from "@dbplane/service-kit";
import type { SeriesValue } from "../domain/metric-catalog.ts";
import type { Observation } from "../domain/observation.ts";
import type { TargetSpec } from "../domain/target-spec.ts";

/** Limits every receiver applies to its target. */
export interface ReceiverLimits {
  /** Connections this replica opens to one target at most (its per-target concurrency cap). */
  readonly maxConnectionsPerTarget: number;
  readonly connectTimeoutMs: number;
  /** Server-side statement timeout where the engine has one, and a client-side timeout on every query. */
  readonly statementTimeoutMs: number;
  /** PostgreSQL: statements reported from pg_stat_statements per target. */
  readonly topStatements: number;
  /** CA file provisioned shards' servers are verified against (DBPLANE_SHARD_TLS_CA); unset: no TLS. */
  readonly shardCa?: string | undefined;
}

/** What one collection returns: the observation plus gauges that need state across collections. */
export interface CollectedSample extends Observation {
  readonly extraGauges?: readonly SeriesValue[];
}

/** An open handle on one target (a pool, a client) that can be asked for a sample again and again. */
export interface TargetConnection {
  collect(): Promise<CollectedSample>;
  /** Closes every connection; a collection still running fails. */
  close(): Promise<void>;
}

/**
 * Opens connections to targets of one engine. `password` is for the driver only; `tls`, for a
 * provisioned shard's server when a shard CA is configured, asks for verify-full.
 */
export type Receiver = (
  spec: TargetSpec,
  password: string | undefined,
  limits: ReceiverLimits,
  tls?: ShardTls,
) => TargetConnection;
