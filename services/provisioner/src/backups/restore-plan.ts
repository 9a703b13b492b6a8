import type { CreateDatabase } from "@dbplane/contracts";
import type { DatabaseSpec } from "../domain/database-spec.ts";
import type { BackupRow } from "../store/rows.ts";
import type { ShardMapEntry } from "../store/shard-map-history.ts";
import { completeBackupSets } from "./backup-sets.ts";
import { shardMapAt, UnknownShardMapError } from "./restore-shard-map.ts";

/** A restore request the source's backups cannot serve; `field` is the body field at fault. */
export class RestoreRefusedError extends Error {
  override readonly name = "RestoreRefusedError";
  readonly code = "RESTORE_REFUSED";
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.field = field;
  }
}

/**
 * The moments a database can be restored to: from its oldest complete backup until now — or,
 * for a deleted one, until its delete (its last WAL was archived then).
 */
export function restorableWindow(rows: readonly BackupRow[], shards: number, latest: Date) {
  const oldest = completeBackupSets(rows, shards)[0];
  return oldest ? { earliest: oldest.completedAt, latest } : null;
}

/**
 * The spec of the database a restore makes: the source's (shards as many as the backup has),
 * named `into`, recovered to `pointInTime` — or to the end of `backupId` — from the newest
 * complete backup finished by then. Every shard recovers to the same moment.
 */
export function restoreSpec(
  source: DatabaseSpec,
  rows: readonly BackupRow[],
  request: { backupId?: string | undefined; pointInTime?: string | undefined; into: string },
  now: Date,
  context: {
    /** Set for a deleted source: its moments end there. */
    deletedAt?: Date | undefined;
    /** The source's shard map history and newest version (see shardMapAt); absent: never resharded. */
    maps?: { history: readonly ShardMapEntry[]; current: number | undefined };
  } = {},
): CreateDatabase & Pick<DatabaseSpec, "restoreFrom"> {
  const { deletedAt } = context;
  const sets = completeBackupSets(rows, source.shards);
  let target: Date;
  if (request.backupId !== undefined) {
    const set = sets.find((s) => s.backupId === request.backupId);
    if (!set)
      throw new RestoreRefusedError("backupId", `no completed backup "${request.backupId}" of every shard`);
    target = set.completedAt;
  } else if (request.pointInTime !== undefined) {
    target = new Date(request.pointInTime);
    if (deletedAt && target.getTime() > deletedAt.getTime())
      throw new RestoreRefusedError(
        "pointInTime",
        `is after the database was deleted (${deletedAt.toISOString()}): nothing of it was written since`,
      );
    if (target.getTime() > now.getTime()) throw new RestoreRefusedError("pointInTime", "is in the future");
  } else {
    throw new RestoreRefusedError("backupId", "name a backupId or a pointInTime");
  }
  const base = sets.filter((s) => s.completedAt.getTime() <= target.getTime()).at(-1);
  if (!base) {
    const earliest = sets[0]?.completedAt.toISOString();
    throw new RestoreRefusedError(
      "pointInTime",
      earliest
        ? `is before the restorable window (earliest ${earliest})`
        : "the database has no complete backup",
    );
  }
  const map = shardMapAt({
    history: context.maps?.history ?? [],
    current: context.maps?.current,
    target,
    baseVersion: base.mapVersion,
  });
  const stray = map.ranges?.find((r) => r.shard >= base.locations.length);
  if (stray) {
    throw new UnknownShardMapError(
      `the shard map in force at ${target.toISOString()} (version ${map.version}) gives shard ${stray.shard} a range, but the backup has shards 0–${base.locations.length - 1} only`,
    );
  }
  const { restoreFrom: _previous, ...spec } = source;
  return {
    ...spec,
    // The shards the backup has: those of its day (a split since added some).
    shards: base.locations.length,
    name: request.into,
    restoreFrom: {
      database: source.name,
      targetTime: target.toISOString(),
      bases: base.locations,
      ...(map.ranges && { ranges: map.ranges.map((r) => ({ shard: r.shard, from: r.from, to: r.to })) }),
    },
  };
}
