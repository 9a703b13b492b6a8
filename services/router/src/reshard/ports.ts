import type { ShardKeyType } from "@dbplane/sharding";

/**
 * What the reshard machine needs of the PostgreSQL side (`@dbplane/reshard`'s RangeMove) and of
 * the router replicas' write fence, as interfaces: the machine is tested with doubles of both.
 */

/** An admin login on a shard primary (its own user: publications and subscriptions need it). */
export interface ShardConnection {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly password?: string;
}

export interface MovedTable {
  readonly table: string;
  /** Absent: an unsharded table, copied whole and never deleted from the source. */
  readonly key?: { readonly column: string; readonly type: ShardKeyType };
}

export interface RangeMoveSpec {
  readonly id: string;
  readonly source: ShardConnection;
  readonly target: ShardConnection;
  readonly sourceFromTarget: { readonly host: string; readonly port: number };
  readonly tables: readonly MovedTable[];
  readonly from: bigint;
  readonly to: bigint;
  /** The target already serves other ranges: copied rows stay hidden until revealOnTarget(). */
  readonly targetServes?: boolean;
}

export interface MoveProgress {
  readonly tables: readonly { table: string; state: "copying" | "replicating"; rowsCopied: number }[];
  readonly rowsCopied: number;
  readonly rowsTotal: number;
  readonly lagBytes: number;
}

export interface VerifyResult {
  readonly equal: boolean;
  readonly tables: readonly {
    table: string;
    source: { rows: number; checksum: string };
    target: { rows: number; checksum: string };
    equal: boolean;
  }[];
}

/** One range's move from a source to a target shard; every method idempotent. */
export interface RangeMover {
  start(): Promise<void>;
  progress(): Promise<MoveProgress>;
  sourceLsn(): Promise<string>;
  waitApplied(lsn: string, timeoutMs: number): Promise<void>;
  openSnapshots(): Promise<{ verify(): Promise<VerifyResult>; close(): Promise<void> }>;
  /** Carries the target's serial/identity sequences up to the source's (under the fence). */
  syncSequences(): Promise<unknown>;
  /** Disables the subscription (slot position kept); resumeApplying() picks up from there. */
  stopApplying(): Promise<void>;
  resumeApplying(): Promise<void>;
  /** Shows the copied rows on a serving target (a no-op otherwise); hideOnTarget() undoes it. */
  revealOnTarget(): Promise<void>;
  hideOnTarget(): Promise<void>;
  /** Hides the moved rows on the source until deleteFromSource(); revealOnSource() undoes it. */
  hideOnSource(): Promise<void>;
  revealOnSource(): Promise<void>;
  finish(): Promise<void>;
  deleteFromSource(onProgress?: (deleted: number) => void): Promise<number>;
  cancel(): Promise<void>;
}

/** The PostgreSQL side the machine is given: moves, the split point, and which errors are final. */
export interface MovePort {
  newMove(spec: RangeMoveSpec): RangeMover;
  medianSplitPoint(source: ShardConnection, table: MovedTable, from: bigint, to: bigint): Promise<bigint>;
  /** True for an error no retry fixes (no primary key, wal_level, a target not empty). */
  isPermanent(err: unknown): boolean;
}

/** The write fence across every router replica. */
export interface Fences {
  raise(opts: {
    database: string;
    shard: number;
    id: string;
    timeoutMs: number;
    reads?: boolean;
  }): Promise<unknown>;
  lift(opts: { database: string; id: string; mapVersion?: number }): Promise<void>;
}
