import { DomainError, ERROR_KINDS, type ErrorKind } from "@dbplane/contracts";
import type { DatabaseSpec } from "./database-spec.ts";
import { quantityValue } from "./postgres-settings.ts";

/**
 * What one provisioner will make, set by its operator (DBPLANE_QUOTA_*): the contract's own
 * limits (64 shards, 5 replicas, any quantity, any StorageClass) are what a message can say,
 * not what a cluster can afford.
 */
export interface Quotas {
  /** Live databases (not deleted) at once. */
  readonly maxDatabases: number;
  /** Shards of one database, counting those added later. */
  readonly maxShards: number;
  /** Streaming replicas of one shard besides its primary. */
  readonly maxReplicas: number;
  /** The largest `storage.size` (the volume of each server), as written (`1Ti`). */
  readonly maxStorage: string;
  /** StorageClasses a spec may name; undefined: any (absent always means the cluster default). */
  readonly storageClasses?: readonly string[] | undefined;
}

/** A request the contract accepts but the configured quotas do not (422, or 409 for a full fleet; dead letter). */
export class QuotaExceededError extends DomainError {
  override readonly name = "QuotaExceededError";
  constructor(field: string, message: string, kind: ErrorKind = ERROR_KINDS.unprocessable) {
    super(kind, "QUOTA_EXCEEDED", message, { field });
  }
}

/** The shards a database may have in all; `field` names the input that asked for them. */
export function checkShardQuota(quotas: Quotas, shards: number, field: string): void {
  if (shards > quotas.maxShards) {
    throw new QuotaExceededError(
      field,
      `a database may have at most ${quotas.maxShards} shards (DBPLANE_QUOTA_MAX_SHARDS); this asks for ${shards}`,
    );
  }
}

/** The replicas a shard may have; `field` names the input that asked for them. */
export function checkReplicaQuota(quotas: Quotas, replicas: number, field: string): void {
  if (replicas > quotas.maxReplicas) {
    throw new QuotaExceededError(
      field,
      `a shard may have at most ${quotas.maxReplicas} replicas (DBPLANE_QUOTA_MAX_REPLICAS); this asks for ${replicas}`,
    );
  }
}

/** Every limit a new database's spec alone can break, each naming its field. */
export function checkSpecQuotas(quotas: Quotas, spec: DatabaseSpec): void {
  checkShardQuota(quotas, spec.shards, "shards");
  checkReplicaQuota(quotas, spec.replicasPerShard, "replicasPerShard");
  if (quantityValue(spec.storage.size) > quantityValue(quotas.maxStorage)) {
    throw new QuotaExceededError(
      "storage.size",
      `a server's volume may be at most ${quotas.maxStorage} (DBPLANE_QUOTA_MAX_STORAGE); this asks for ${spec.storage.size}`,
    );
  }
  const storageClass = spec.storage.storageClass;
  if (storageClass !== undefined && quotas.storageClasses && !quotas.storageClasses.includes(storageClass)) {
    throw new QuotaExceededError(
      "storage.storageClass",
      `StorageClass "${storageClass}" is not allowed (DBPLANE_QUOTA_STORAGE_CLASSES: ${quotas.storageClasses.join(", ")})`,
    );
  }
}

/** Whether one more database fits; `live` counts those not deleted. A full fleet is a conflict with the current state (409). */
export function checkDatabaseQuota(quotas: Quotas, live: number): void {
  if (live >= quotas.maxDatabases) {
    throw new QuotaExceededError(
      "name",
      `at most ${quotas.maxDatabases} databases may exist (DBPLANE_QUOTA_MAX_DATABASES); delete one first`,
      ERROR_KINDS.conflict,
    );
  }
}
