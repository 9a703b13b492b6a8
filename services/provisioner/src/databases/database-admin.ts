import type { BackupPolicy, CreateDatabase } from "@dbplane/contracts";
import type { BackupSchedules } from "../backups/backup-schedules.ts";
import { checkCreateRequest } from "../domain/create-request.ts";
import type { DatabaseSpec } from "../domain/database-spec.ts";
import { UnsupportedByDriverError } from "../domain/errors.ts";
import { withPostgresVersion } from "../domain/postgres-version.ts";
import type { Accepted, DesiredState } from "../store/desired-state.ts";

/**
 * The one entry for changes of desired state, shared by the HTTP API and the command handlers:
 * the changes of `DesiredState`, each recorded and then, when accepted, waking the reconcile loop
 * and the outbox relay so work starts at once. A create takes the request as sent: the default
 * PostgreSQL version is chosen here, before the spec is stored or compared.
 */
export type DatabaseAdmin = Omit<DesiredState, "create"> & {
  /** `restoreFrom`: the database is made by a restore (the restore route's plan). */
  create(request: CreateDatabase & Pick<DatabaseSpec, "restoreFrom">, operationId: string): Promise<Accepted>;
};

export interface DriverSupport {
  /**
   * `synchronous` (local, cloudnativepg). The StatefulSet driver does not apply it: a create asking
   * for it is refused rather than run without the durability it asked for.
   */
  readonly synchronousMode: boolean;
  /**
   * `backup.retain.count` (local). CloudNativePG keeps backups by age only (`retentionPolicy`, days),
   * and deleting its Backup objects leaves the backups in the object store.
   */
  readonly backupRetainCount: boolean;
}

export interface DatabaseAdminOptions {
  /** The PostgreSQL major of a create that names none (the driver's choice). */
  readonly defaultPostgresVersion: () => Promise<number>;
  /** Called after an accepted change, so work starts now. */
  readonly wake: () => void;
  /** What the driver can do of what the contract allows; a request asking for more is refused. */
  readonly supports: DriverSupport;
  /** Where a database's backup schedule is registered (the scheduler); absent: no schedules. */
  readonly backupSchedules?: BackupSchedules;
}

export function createDatabaseAdmin(desired: DesiredState, options: DatabaseAdminOptions): DatabaseAdmin {
  const then = async (work: Promise<Accepted>) => {
    const accepted = await work;
    if (accepted.outcome === "accepted") options.wake();
    return accepted;
  };
  const checkRetention = (policy: BackupPolicy, field: string) => {
    if (policy.retain.count !== undefined && !options.supports.backupRetainCount) {
      throw new UnsupportedByDriverError(
        field,
        "a backup retention by count is not supported by the cloudnativepg driver: CloudNativePG keeps backups by age only (retentionPolicy), so use retain.days",
      );
    }
  };
  return {
    create: async (request, id) => {
      // The HTTP body was checked the same way already; a command was only checked against the contract.
      checkCreateRequest(request);
      if (request.synchronous && !options.supports.synchronousMode) {
        throw new UnsupportedByDriverError(
          "synchronous",
          "synchronous mode is not supported by the kubernetes (StatefulSet) driver, which has no failover to keep acknowledged writes through; use the cloudnativepg or local driver, or create the database without synchronous",
        );
      }
      if (request.backup) checkRetention(request.backup, "backup.retain.count");
      const accepted = await then(
        desired.create(await withPostgresVersion(request, options.defaultPostgresVersion), id),
      );
      // Registered on every accepted or repeated create: a crash after storing the spec is healed
      // by the client's retry, and the scheduler absorbs the repeat (same job id and message id).
      if (request.backup) await options.backupSchedules?.register(request.name, request.backup);
      return accepted;
    },
    delete: async (name, keepVolumes, id) => {
      const accepted = await then(desired.delete(name, keepVolumes, id));
      await options.backupSchedules?.cancel(name);
      return accepted;
    },
    addShards: (name, count, id) => then(desired.addShards(name, count, id)),
    removeShard: (name, shard, id) => then(desired.removeShard(name, shard, id)),
    setBackupPolicy: async (name, policy, id) => {
      if (policy) checkRetention(policy, "retain.count");
      const accepted = await then(desired.setBackupPolicy(name, policy, id));
      if (policy) await options.backupSchedules?.register(name, policy);
      else await options.backupSchedules?.cancel(name);
      return accepted;
    },
    scaleReplicas: (name, shard, replicas, id) => then(desired.scaleReplicas(name, shard, replicas, id)),
    backup: (name, shard, backupId, id) => then(desired.backup(name, shard, backupId, id)),
  };
}
