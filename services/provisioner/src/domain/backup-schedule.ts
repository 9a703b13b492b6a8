import type { BackupPolicy } from "@dbplane/contracts";
import { Cron } from "croner";

/**
 * Why a backup schedule cannot fire, or null when it can. The contract checks the shape; the
 * values (minute 61, day 0) need a cron parser — croner, the one the scheduler fires with.
 */
export function cronProblem(cron: string, timezone: string): string | null {
  try {
    new Cron(cron, { timezone, paused: true }).stop();
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** The scheduler job of a database's backups: one per database, replaced when the policy changes. */
export const backupJobId = (database: string) => `dbplane-backup-${database}`;

/**
 * The backup id of a scheduled `run-backup` (it carries none): its message id, which the scheduler
 * makes `<jobId>:<scheduledAt>`, in identifier characters — one backup per occurrence, the same
 * one when the occurrence is delivered again.
 */
export function scheduledBackupId(messageId: string): string {
  return messageId
    .replace(/[^A-Za-z0-9._-]/g, "-")
    .replace(/^[^A-Za-z0-9]+/, "")
    .slice(0, 128);
}

/**
 * Which completed backups `retain` no longer keeps, from `backups` ordered oldest first: all but
 * the newest `count`, or those completed more than `days` days before `now`. The newest backup is
 * always kept, so a database with backups stays restorable whatever the clock says.
 */
export function expiredBackups<B extends { readonly completedAt: Date }>(
  backups: readonly B[],
  retain: BackupPolicy["retain"],
  now: Date,
): B[] {
  const older = backups.slice(0, -1);
  if (retain.count !== undefined) return backups.slice(0, Math.max(0, backups.length - retain.count));
  const limit = now.getTime() - (retain.days ?? 0) * 86_400_000;
  return older.filter((b) => b.completedAt.getTime() < limit);
}
