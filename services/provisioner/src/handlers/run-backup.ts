import type { EventOf, HandlerContext } from "@dbplane/bus";
import type { runBackup } from "@dbplane/contracts";
import type { Logger } from "@dbplane/service-kit";
import type { DatabaseAdmin } from "../databases/database-admin.ts";
import { scheduledBackupId } from "../domain/backup-schedule.ts";

/**
 * `run-backup`: the same change as its HTTP route, with the command's id as the operation id, so
 * a redelivered command finds its operation and changes nothing (`unchanged`). A refusal (unknown
 * database, conflicting spec, impossible change: a DomainError) is dead-lettered by the bus at once;
 * anything else (PostgreSQL down) is retried with backoff. Without a backup id (the scheduler's
 * job fired it) the backup is the occurrence's: its id derives from the message id.
 */
export function runBackupHandler(admin: DatabaseAdmin, logger: Logger) {
  return async (event: EventOf<typeof runBackup>, ctx: HandlerContext): Promise<void> => {
    const backupId = event.data.backupId ?? scheduledBackupId(event.id);
    const result = await admin.backup(event.data.name, event.data.shard, backupId, event.id);
    logger.info({ ...result, msgId: ctx.msgId }, "run-backup handled");
  };
}
