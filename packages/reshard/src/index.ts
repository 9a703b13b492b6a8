export type { MoveProgress, TableProgress } from "./copy-progress.ts";
export { medianSplitPoint } from "./median-split-point.ts";
export { DELETE_BATCH_ROWS, deleteRange } from "./range-delete.ts";
export { RangeMove } from "./range-move.ts";
export type { RangeMoveErrorCode } from "./range-move-error.ts";
export { RANGE_MOVE_ERROR_CODES, RangeMoveError } from "./range-move-error.ts";
export type { MovedTable, RangeMoveSpec, ShardConnection } from "./range-move-spec.ts";
export { MOVE_OBJECT_PREFIX, objectName } from "./range-move-spec.ts";
export type { RangeSnapshots, TableDigest, VerifyResult } from "./range-snapshots.ts";
export type { ReshardAccess } from "./reshard-access.ts";
export {
  ensureReshardAccess,
  RESHARD_ROLE,
  RESHARD_SCHEMA,
  reshardAccessPsql,
  reshardAccessStatements,
} from "./reshard-access.ts";
export type { SyncedSequence } from "./sequence-sync.ts";
export { dropPublicationAndRole } from "./source-teardown.ts";
export { disableSubscription, dropSubscriptionLocally } from "./subscription.ts";
export { hiddenTables, revealTable } from "./target-visibility.ts";
