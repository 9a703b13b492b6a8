import type { AppCredentials } from "../domain/application-role.ts";
import type { DatabaseSpec } from "../domain/database-spec.ts";
import type { ShardEndpoint } from "../store/rows.ts";

/** One shard as it should be. */
export interface ShardTarget {
  readonly spec: DatabaseSpec;
  readonly shard: number;
  readonly replicas: number;
}

/** What a driver sees of a shard after making it as it should be. */
export type ShardObservation =
  | { readonly ready: true; readonly endpoint: ShardEndpoint }
  | { readonly ready: false; readonly waitingFor: string };

/** A backup of one shard: finished (where it is, how big), or still running (asked again next pass). */
export type BackupOutcome =
  | { readonly done: true; readonly location: string; readonly bytes: number }
  | { readonly done: false; readonly waitingFor: string };

/**
 * Where shards become real. Every method is idempotent and safe to repeat after a crash at any
 * point: the reconcile loop calls them again until the observation matches the desired state.
 * Throw PermanentProvisionError when retrying cannot help; anything else is retried.
 */
export interface ShardDriver {
  readonly kind: "local" | "kubernetes" | "cloudnativepg";
  /** Checks what the whole database needs before any shard is touched (binaries, image). */
  preflight(spec: DatabaseSpec): Promise<void>;
  /**
   * The database's application credentials: made once (a random password and its SCRAM
   * verifier, stored for the user with a uri pointing at the router), read back on every later
   * call — a restart or a reconcile never changes the password. Called before `ensureShard`.
   */
  ensureApplication(spec: DatabaseSpec): Promise<AppCredentials>;
  /**
   * Creates or repairs the shard's servers and reports whether they are ready; ready includes
   * the application role on the primary, with the verifier of `application`, owning the database.
   */
  ensureShard(target: ShardTarget, application: AppCredentials): Promise<ShardObservation>;
  /**
   * Stops and removes one shard's servers and volumes (it serves no key: the caller checked).
   * Idempotent: a shard already gone, or never made, is no error.
   */
  removeShard(spec: DatabaseSpec, shard: number): Promise<void>;
  /** Stops and removes everything of the database (only what dbplane made); volumes kept if asked. */
  removeDatabase(database: string, options: { keepVolumes: boolean }): Promise<void>;
  /** Backs one shard up, or reports the running backup; idempotent per backup id. Throws when it failed. */
  backupShard(target: ShardTarget, backupId: string): Promise<BackupOutcome>;
  close(): Promise<void>;
}
