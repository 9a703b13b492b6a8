import type { NatsConnection } from "@nats-io/transport-node";
import type pg from "pg";
import type { Registry } from "prom-client";
import type { ProjectionDefinition } from "./projection.ts";
import type { UnitKey } from "./rendezvous.ts";
import type { RuntimeLogger as Logger } from "./runtime-logger.ts";

/** A unit changing hands on this replica, for `evt.projection-coordinator.unit.{assigned,released}`. */
export interface UnitChange {
  readonly kind: "assigned" | "released";
  readonly key: UnitKey;
  readonly version: number;
  readonly worker: string;
  readonly token: number;
  readonly checkpoint: number;
  readonly at: Date;
}

export interface ProjectionRuntimeOptions {
  readonly pool: pg.Pool;
  readonly nc: NatsConnection;
  /** Bus namespace (tests): reads `<NS>_DBPLANE_EVT`. */
  readonly namespace?: string | undefined;
  /** Schema of the coordination tables; the host migrates it (`coordinationMigrations`). */
  readonly schema: string;
  /** Schema of the read-model tables; the coordination schema by default. */
  readonly readSchema?: string;
  readonly projections: readonly ProjectionDefinition[];
  /** Unique per process, e.g. `<pod>:<pid>:<random>`. */
  readonly memberId: string;
  readonly logger: Logger;
  /** Where the `dbplane_projection_*` metrics go (the one `/metrics` serves). */
  readonly registry?: Registry;
  /** Heartbeat and rebalance period. Default 1 s. */
  readonly heartbeatMs?: number;
  /** A member silent this long is removed and its units move. Default 10 s. */
  readonly memberTtlMs?: number;
  /** Most events per unit transaction. Default 500. */
  readonly batchSize?: number;
  /** Attempts before an event is parked. Default 5. */
  readonly maxAttempts?: number;
  /** How soon an idle unit checkpoints the reader's position. Default 500 ms. */
  readonly idleFlushMs?: number;
  /** How long a replaced generation's tables stay for reads in flight. Default 60 s. */
  readonly retiredTtlMs?: number;
  /**
   * A unit applying up to a joiner's read-ahead before its release (a hold) is released where it
   * got to once it committed nothing for this long. Default 3 s.
   */
  readonly handOverStallMs?: number;
  /** ... or once it held this long, progressing or not. Default 30 s. */
  readonly handOverMaxMs?: number;
  /** Told about every unit acquired or released (errors are logged, not fatal). */
  readonly onUnitChange?: (change: UnitChange) => void | Promise<void>;
}

export const RUNTIME_DEFAULTS = {
  heartbeatMs: 1_000,
  memberTtlMs: 10_000,
  batchSize: 500,
  maxAttempts: 5,
  idleFlushMs: 500,
  retiredTtlMs: 60_000,
  handOverStallMs: 3_000,
  handOverMaxMs: 30_000,
} as const;
