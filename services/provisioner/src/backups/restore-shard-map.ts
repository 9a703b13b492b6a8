import type { HashRange, ShardMapEntry } from "../store/shard-map-history.ts";

/** The shard map a restore makes its database with: undefined ranges are version 1's equal ones. */
export interface RestoreShardMap {
  readonly version: number;
  readonly ranges: readonly HashRange[] | undefined;
}

/** Why the map in force at a restore's moment cannot be known; the restore is refused (409). */
export class UnknownShardMapError extends Error {
  override readonly name = "UnknownShardMapError";
  readonly code = "SHARD_MAP_UNKNOWN";
}

/**
 * The source's shard map in force at `target`: from the kept history (each version in force from
 * its event's time until the next version's), else from what the base backup recorded when no
 * version was published after it. Version 1 is the create's equal ranges. Throws
 * UnknownShardMapError when neither can tell — a version missing from the history (published
 * before the provisioner kept it) may have been in force at `target`.
 */
export function shardMapAt(input: {
  history: readonly ShardMapEntry[];
  /** The newest version known to exist (the live source's), undefined for a deleted one. */
  current: number | undefined;
  target: Date;
  /** The version the base backup recorded when it completed (null: recorded before this existed). */
  baseVersion: number | null;
}): RestoreShardMap {
  const { history, target, baseVersion } = input;
  const byVersion = new Map(history.map((e) => [e.version, e]));
  const newest = Math.max(1, input.current ?? 1, baseVersion ?? 1, ...history.map((e) => e.version));
  const at = target.toISOString();
  const withRanges = (version: number): RestoreShardMap => {
    const ranges = byVersion.get(version)?.ranges ?? undefined;
    if (version > 1 && !ranges) {
      throw new UnknownShardMapError(
        `the shard map in force at ${at} is version ${version}, whose ranges were not kept (published before the provisioner kept map history)`,
      );
    }
    return { version, ranges };
  };
  if (newest === 1) return withRanges(1);
  const inForce = history.filter((e) => e.inForceFrom.getTime() <= target.getTime()).at(-1);
  if (inForce && (inForce.version === newest || byVersion.has(inForce.version + 1))) {
    return withRanges(inForce.version);
  }
  // Before the first version kept, when that is 2: the create's.
  if (!inForce && (history[0]?.version ?? 0) <= 2) return withRanges(1);
  // Nothing published after the base backup: its recorded map held until now.
  if (baseVersion !== null && baseVersion === newest) return withRanges(baseVersion);
  const missing = inForce ? inForce.version + 1 : (history[0]?.version ?? newest);
  throw new UnknownShardMapError(
    `the shard map in force at ${at} is not known: version ${missing} was published at a time the provisioner did not record (before it kept map history), and the base backup's map was replaced since; restore to a moment after version ${newest} was published, or from a backup taken since`,
  );
}
