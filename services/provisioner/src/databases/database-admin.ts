import type { Accepted, DesiredState } from "../store/desired-state.ts";

/**
 * The one entry for changes of desired state, shared by the HTTP API and the command handlers:
 * the changes of `DesiredState`, each recorded and then, when accepted, waking the reconcile loop
 * and the outbox relay so work starts at once.
 */
export type DatabaseAdmin = DesiredState;

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
    removeShard: (name, shard, id) => then(desired.removeShard(name, shard, id)),
    scaleReplicas: (name, shard, replicas, id) => then(desired.scaleReplicas(name, shard, replicas, id)),
    backup: (name, shard, backupId, id) => then(desired.backup(name, shard, backupId, id)),
  };
}
