import { expiredBackups } from "../domain/backup-schedule.ts";
import type { DatabaseSpec } from "../domain/database-spec.ts";
import type { ShardDriver } from "../drivers/driver.ts";
import type { Progress } from "../store/progress.ts";
import type { Queries } from "../store/queries.ts";
import { completeBackupSets } from "./backup-sets.ts";

/**
 * Applies a database's `backup.retain` after a backup completed: the backups it no longer keeps
 * are deleted, with the archived WAL that only they needed (everything before the oldest kept
 * backup's start), and their rows once the driver says the files are gone. Returns the deleted
 * backup ids. Idempotent: a crash half-way leaves rows whose files are (partly) gone, and the
 * next pass deletes them again.
 */
export async function pruneExpiredBackups(
  deps: { queries: Queries; progress: Progress; driver: ShardDriver },
  spec: DatabaseSpec,
  now = new Date(),
): Promise<string[]> {
  const retain = spec.backup?.retain;
  const prune = deps.driver.pruneBackups;
  if (!retain || !prune) return [];
  const rows = await deps.queries.backups(spec.name);
  const sets = completeBackupSets(rows, spec.shards, deps.driver.backupKind ?? "physical");
  const expired = expiredBackups(sets, retain, now);
  const oldestKept = sets[expired.length];
  if (expired.length === 0 || !oldestKept) return [];
  let done = true;
  for (let shard = 0; shard < spec.shards; shard++) {
    const locations = expired.map((set) => set.locations[shard]).filter((l): l is string => l !== undefined);
    const kept = oldestKept.locations[shard];
    if (kept && !(await prune.call(deps.driver, spec, shard, locations, kept))) done = false;
  }
  // A deletion still running (a Kubernetes Job) keeps the rows: the next pass asks again.
  if (!done) return [];
  const ids = expired.map((set) => set.backupId);
  await deps.progress.backupsPruned(spec.name, ids);
  return ids;
}
