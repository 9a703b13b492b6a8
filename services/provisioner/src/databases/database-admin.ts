import type { DatabaseSpec } from "../domain/database-spec.ts";
import type { Accepted, DesiredState } from "../store/desired-state.ts";

/**
 * The one entry for changes of desired state, shared by the HTTP API and the command handlers:
 * records the change, then wakes the reconcile loop and the outbox relay so work starts at once.
 */
export interface DatabaseAdmin {
  create(spec: DatabaseSpec, operationId: string): Promise<Accepted>;
  delete(name: string, keepVolumes: boolean, operationId: string): Promise<Accepted>;
  addShards(name: string, count: number, operationId: string): Promise<Accepted>;
  scaleReplicas(
    name: string,
    shard: number | undefined,
    replicas: number,
    operationId: string,
  ): Promise<Accepted>;
  backup(name: string, shard: number | undefined, backupId: string, operationId: string): Promise<Accepted>;
}

export function createDatabaseAdmin(desired: DesiredState, wake: () => void): DatabaseAdmin {
  const then = async (work: Promise<Accepted>) => {
    const accepted = await work;
    if (accepted.outcome === "accepted") wake();
    return accepted;
  };
  return {
    create: (spec, id) => then(desired.create(spec, id)),
    delete: (name, keepVolumes, id) => then(desired.delete(name, keepVolumes, id)),
    addShards: (name, count, id) => then(desired.addShards(name, count, id)),
    scaleReplicas: (name, shard, replicas, id) => then(desired.scaleReplicas(name, shard, replicas, id)),
    backup: (name, shard, backupId, id) => then(desired.backup(name, shard, backupId, id)),
  };
}
