export type { ShardKeyType } from "./key-hash.ts";
export {
  hashInt8Extended,
  hashInt8HalvesOf,
  hashSafeIntegerExtended,
  hashSafeIntegerHalves,
  hashShardKey,
  hashTextExtended,
  hashUuidExtended,
  InvalidShardKeyError,
  POSTGRES_HASH_FUNCTION,
  parseIntegerKey,
  SHARD_KEY_TYPES,
  uuidBytes,
} from "./key-hash.ts";
export type { KeyRange, KeyRangeText } from "./keyspace.ts";
export {
  assertTiling,
  equalRanges,
  InvalidRangesError,
  KEYSPACE_END,
  KEYSPACE_MIN,
  rangeContains,
  rangesFromText,
  rangesToText,
} from "./keyspace.ts";
export type { HashHalves } from "./lookup3.ts";
export { hashBytesExtended, hashUint32Extended, hashUint32Halves } from "./lookup3.ts";
export { RangeLookup } from "./range-lookup.ts";
export type { SplitPlan } from "./split-plan.ts";
export { midpoint, planSplit, reassignRange } from "./split-plan.ts";
