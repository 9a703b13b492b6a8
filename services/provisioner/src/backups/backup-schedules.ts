import { createHash } from "node:crypto";
import type { Bus } from "@dbplane/bus";
import type { BackupPolicy } from "@dbplane/contracts";
import { cancelJob, runBackup, scheduleJob } from "@dbplane/contracts";
import { backupJobId } from "../domain/backup-schedule.ts";

/** Registers and cancels the scheduler jobs that start a database's backups. */
export interface BackupSchedules {
  register(database: string, policy: BackupPolicy): Promise<void>;
  cancel(database: string): Promise<void>;
}

/**
 * Backups run on dbplane's own scheduler: a cron job (owner `service:dbplane/provisioner`) whose
 * target is the provisioner's `run-backup` for every shard, without a backup id (each occurrence
 * gets its own from the message id). The job id is the database's, so a new policy replaces the
 * old job; the message id is the policy's, so a repeat is absorbed by the bus. Missed occurrences
 * fire once, late: a backup later is better than none.
 */
export function busBackupSchedules(bus: Bus): BackupSchedules {
  return {
    async register(database, policy) {
      const id = backupJobId(database);
      const { cron, timezone } = policy.schedule;
      await bus.publish(
        scheduleJob,
        {
          id,
          schedule: { kind: "cron", expression: cron, timeZone: timezone },
          target: { subject: runBackup.subject, payload: { name: database } },
          misfire: "once",
        },
        {
          subject: id,
          id: `${id}:${createHash("sha256").update(`${cron}\n${timezone}`).digest("hex").slice(0, 16)}`,
        },
      );
    },
    async cancel(database) {
      const id = backupJobId(database);
      await bus.publish(cancelJob, { id }, { subject: id, id: `${id}:cancel:${Date.now()}` });
    },
  };
}
