/**
 * The life of a database and of each of its shards (DESIGN.md, "provisioner"):
 * requested → provisioning → ready | failed → deleting → deleted. A change of the desired state
 * (more shards, more replicas) sends a ready database back to provisioning under a new version.
 */
export const DATABASE_STATES = [
  "requested",
  "provisioning",
  "ready",
  "failed",
  "deleting",
  "deleted",
] as const;
export type DatabaseState = (typeof DATABASE_STATES)[number];

export const SHARD_STATES = ["provisioning", "ready", "failed", "deleting", "deleted"] as const;
export type ShardState = (typeof SHARD_STATES)[number];

export const OPERATION_KINDS = [
  "create",
  "delete",
  "add-shard",
  "remove-shard",
  "scale-replicas",
  "backup",
  "backup-policy",
] as const;
export type OperationKind = (typeof OPERATION_KINDS)[number];

export const OPERATION_STATES = ["pending", "succeeded", "failed"] as const;
export type OperationState = (typeof OPERATION_STATES)[number];

/** States the reconcile loop still has work in. */
export const ACTIVE_STATES: readonly DatabaseState[] = ["requested", "provisioning", "deleting"];

/** Whether a database in this state accepts a change of its spec (shards, replicas, backups). */
export function acceptsChanges(state: DatabaseState): boolean {
  return state === "requested" || state === "provisioning" || state === "ready";
}
