import type { CreateDatabase } from "@dbplane/contracts";
import { withPostgresVersion } from "../domain/postgres-version.ts";
import type { Accepted, DesiredState } from "../store/desired-state.ts";

/**
 * The one entry for changes of desired state, shared by the HTTP API and the command handlers:
 * the changes of `DesiredState`, each recorded and then, when accepted, waking the reconcile loop
 * and the outbox relay so work starts at once. A create takes the request as sent: the default
 * PostgreSQL version is chosen here, before the spec is stored or compared.
 */
export type DatabaseAdmin = Omit<DesiredState, "create"> & {
  create(request: CreateDatabase, operationId: string): Promise<Accepted>;
};

export interface DatabaseAdminOptions {
  /** The PostgreSQL major of a create that names none (the driver's choice). */
  readonly defaultPostgresVersion: () => Promise<number>;
  /** Called after an accepted change, so work starts now. */
  readonly wake: () => void;
}

export function createDatabaseAdmin(desired: DesiredState, options: DatabaseAdminOptions): DatabaseAdmin {
  const then = async (work: Promise<Accepted>) => {
    const accepted = await work;
    if (accepted.outcome === "accepted") options.wake();
    return accepted;
  };
  return {
    create: async (request, id) =>
      then(desired.create(await withPostgresVersion(request, options.defaultPostgresVersion), id)),
    delete: (name, keepVolumes, id) => then(desired.delete(name, keepVolumes, id)),
    addShards: (name, count, id) => then(desired.addShards(name, count, id)),
    removeShard: (name, shard, id) => then(desired.removeShard(name, shard, id)),
    scaleReplicas: (name, shard, replicas, id) => then(desired.scaleReplicas(name, shard, replicas, id)),
    backup: (name, shard, backupId, id) => then(desired.backup(name, shard, backupId, id)),
  };
}
