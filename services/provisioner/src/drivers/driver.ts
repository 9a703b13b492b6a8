import type { BackupKind } from "../backups/backup-sets.ts";
import type { AppCredentials } from "../domain/application-role.ts";
import type { DatabaseSpec } from "../domain/database-spec.ts";
import type { ShardEndpoint } from "../store/rows.ts";

/** One shard as it should be. */
export interface ShardTarget {
  readonly spec: DatabaseSpec;
  readonly shard: number;
  readonly replicas: number;
  /**
   * How many times the database's name was made (absent or 1: the first database of it). A
   * driver keeps each one's backups and archive apart, so a database made again under a deleted
   * one's name never archives into the old one's WAL.
   */
  readonly incarnation?: number;
}

/** What a driver sees of a shard after making it as it should be. */
export type ShardObservation =
  | { readonly ready: true; readonly endpoint: ShardEndpoint }
  | { readonly ready: false; readonly waitingFor: string };

/** A backup of one shard: finished (where it is, how big), or still running (asked again next pass). */
export type BackupOutcome =
  | {
      readonly done: true;
      readonly location: string;
      readonly bytes: number;
      /** WAL range of a physical backup (pg_lsn text); absent for a logical dump. */
      readonly startLsn?: string;
      readonly stopLsn?: string;
    }
  | { readonly done: false; readonly waitingFor: string };

/** What a failover of one shard did. */
export type FailoverOutcome =
  | { readonly kind: "not-needed" }
  | { readonly kind: "no-replica"; readonly reason: string }
  | {
      readonly kind: "promoted";
      readonly oldPrimary: { readonly host: string; readonly port: number };
      readonly newPrimary: { readonly host: string; readonly port: number };
      /** WAL position the promoted replica had received (pg_lsn text). */
      readonly lsn: string;
      /** The shard as it is now: the new primary, the replicas that follow it. */
      readonly endpoint: ShardEndpoint;
    };

/** What a failover probe saw of a shard's primary. */
export type PrimaryProbe = "up" | "down" | "dead" | "absent";

/**
 * A driver that runs its shards' failover itself (the local one; on Kubernetes it is
 * CloudNativePG's). Both calls are idempotent.
 */
export interface ShardFailover {
  /**
   * Whether the shard's primary answers within `timeoutMs`. `down`: it does not, and may still be
   * alive (cut off, hung) — a failover waits out its grace. `dead`: it does not, and the driver
   * knows its server is gone (the local driver: its postmaster crashed on this host) — nothing to
   * wait for. `absent`: the shard has no server (yet).
   */
  probe(spec: DatabaseSpec, shard: number, timeoutMs: number): Promise<PrimaryProbe>;
  /**
   * Promotes the shard's most advanced replica in place of a primary that does not answer (checked
   * again first), fencing the old one. The caller holds the database's reconcile lock.
   */
  failOver(spec: DatabaseSpec, shard: number, timeoutMs: number): Promise<FailoverOutcome>;
}

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
  /**
   * Deletes the backups at `expired` (locations its backups reported) and, for physical backups,
   * the archived WAL older than what `oldestKept` needs. Set when the driver keeps backups itself
   * (`backupKind` says which). True when they are gone; false while the deletion is still running
   * (asked again, with the same or more locations, on a later pass).
   */
  pruneBackups?(
    spec: DatabaseSpec,
    shard: number,
    expired: readonly string[],
    oldestKept: string,
  ): Promise<boolean>;
  /** What its backups are, for retention: base backups with WAL, or pg_dump files. */
  readonly backupKind?: BackupKind;
  /** Set when the driver fails shards over itself. */
  readonly failover?: ShardFailover;
  close(): Promise<void>;
}
