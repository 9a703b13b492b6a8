import type { BackupRow } from "../store/rows.ts";

/** A backup of every shard of a database, all completed: what a restore can start from. */
export interface BackupSet {
  readonly backupId: string;
  /** When the last of its shards finished: every shard is consistent by then. */
  readonly completedAt: Date;
  /** Per shard (by index) its base backup's location. */
  readonly locations: readonly string[];
  readonly rows: readonly BackupRow[];
  /** The shard map version when its last shard completed (null: none recorded). */
  readonly mapVersion: number | null;
}

/** Physical: base backups with a WAL range (restorable to a point in time); dump: pg_dump files. */
export type BackupKind = "physical" | "dump";

/**
 * The complete backups of one kind among a database's backup rows, oldest first: a backup id
 * whose every shard completed — physical ones with a WAL range, dumps without. Every shard: the
 * shards it was taken of (a backup from before a split has fewer than today), else (a one-shard
 * backup, an older row) 0 … `shards`-1. The other kind and partial ones are left out.
 */
export function completeBackupSets(
  rows: readonly BackupRow[],
  shards: number,
  kind: BackupKind = "physical",
): BackupSet[] {
  const byId = new Map<string, BackupRow[]>();
  for (const row of rows) byId.set(row.backupId, [...(byId.get(row.backupId) ?? []), row]);
  const sets: BackupSet[] = [];
  for (const [backupId, rowsOfId] of byId) {
    const count = rowsOfId.find((r) => r.ofShards !== null)?.ofShards ?? shards;
    const group = rowsOfId.filter((r) => r.shard < count);
    const done = group.filter(
      (r) =>
        r.state === "completed" &&
        (kind === "physical") === Boolean(r.stopLsn) &&
        r.location &&
        r.completedAt,
    );
    if (done.length !== count) continue;
    const locations: string[] = [];
    for (let shard = 0; shard < count; shard++) {
      const row = done.find((r) => r.shard === shard);
      if (!row?.location) break;
      locations.push(row.location);
    }
    if (locations.length !== count) continue;
    const completedAt = new Date(Math.max(...done.map((r) => r.completedAt?.getTime() ?? 0)));
    const last = done.reduce((a, b) =>
      (b.completedAt?.getTime() ?? 0) > (a.completedAt?.getTime() ?? 0) ? b : a,
    );
    sets.push({ backupId, completedAt, locations, rows: done, mapVersion: last.mapVersion ?? null });
  }
  return sets.sort((a, b) => a.completedAt.getTime() - b.completedAt.getTime());
}
