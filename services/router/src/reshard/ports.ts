import type { MovedTable, RangeMove, RangeMoveSpec, ShardConnection } from "@dbplane/reshard";
import type { FenceCoordinator } from "../fence/fence-coordinator.ts";

export type { MovedTable, RangeMoveSpec, ShardConnection };

/** What the reshard machine uses of one range's move (`@dbplane/reshard`'s RangeMove). */
export type RangeMover = Pick<
  RangeMove,
  | "start"
  | "progress"
  | "sourceLsn"
  | "waitApplied"
  | "openSnapshots"
  | "syncSequences"
  | "stopApplying"
  | "resumeApplying"
  | "revealOnTarget"
  | "hideOnTarget"
  | "hideOnSource"
  | "revealOnSource"
  | "finish"
  | "deleteFromSource"
  | "cancel"
>;

/** The PostgreSQL side the machine is given: moves, the split point, and which errors are final. */
export interface MovePort {
  newMove(spec: RangeMoveSpec): RangeMover;
  medianSplitPoint(source: ShardConnection, table: MovedTable, from: bigint, to: bigint): Promise<bigint>;
  /** True for an error no retry fixes (no primary key, wal_level, a target not empty). */
  isPermanent(err: unknown): boolean;
}

/** The write fence across every router replica (raise and lift are all the machine uses). */
export type Fences = Pick<FenceCoordinator, "raise" | "lift">;
