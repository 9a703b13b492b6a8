import { mkdir, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { RESHARD_ROLE } from "@dbplane/reshard";
import type { Logger } from "@dbplane/service-kit";
import { equalRanges, rangesFromText } from "@dbplane/sharding";
import type { RouterWireEndpoint } from "../../domain/application-role.ts";
import type { DatabaseSpec } from "../../domain/database-spec.ts";
import { PermanentProvisionError } from "../../domain/errors.ts";
import { MONITOR_KEYS, MONITOR_USER } from "../../domain/monitoring-role.ts";
import { assertSupportedVersion } from "../../domain/postgres-version.ts";
import { RESHARD_KEYS } from "../../domain/reshard-role.ts";
import type { ShardEndpoint } from "../../store/rows.ts";
import type { BackupOutcome, FailoverOutcome, ShardDriver, ShardObservation } from "../driver.ts";
import { ensureAppCredentialFiles } from "./app-credential-files.ts";
import { ensureAppRole } from "./app-role.ts";
import { deleteBaseBackup, firstSegmentOf, takeBaseBackup } from "./base-backup.ts";
import { ensurePassword, exists, ownedDir, SUPERUSER } from "./cluster-files.ts";
import { postmasterDead } from "./dead-postmaster.ts";
import { keepPassword, keptPassword } from "./kept-password.ts";
import { answers, failOverShard } from "./local-failover.ts";
import {
  ensurePrimary,
  ensureReplica,
  isRunning,
  portOf,
  type ServerContext,
  stopServer,
} from "./local-server.ts";
import { ensureLocalCa } from "./local-tls.ts";
import { ensureMonitorRole } from "./monitor-role.ts";
import { PgBinaryFinder } from "./pg-binaries.ts";
import { PrimaryDownError } from "./primary-guard.ts";
import { rejoinFenced } from "./rejoin.ts";
import { dropSlot, slotNameOf } from "./replication-slots.ts";
import { ensureReshardRole } from "./reshard-role.ts";
import { restorePrimary } from "./restore-shard.ts";
import { runProgram } from "./run-program.ts";
import { resolveServerUser, type ServerUser } from "./server-user.ts";
import { fencedServers, isFenced, leaderOf } from "./shard-leader.ts";
import { applySlotRetention, discardIfSlotLost, maxSlotWalKeepSize } from "./slot-retention.ts";
import { applySynchronousStandbys, synchronousStandbyNames } from "./synchronous-standbys.ts";
import {
  archivesInto,
  claimBackupDirs,
  ensureArchiving,
  ensureBackupDirs,
  flushArchive,
  removeSegmentsBefore,
  shardBackupDirs,
} from "./wal-archive.ts";

export interface LocalDriverOptions {
  /**
   * Clusters under `<dataDir>/clusters/<db>/shard-<n>/{primary,replica-<k>}`, the application's
   * credentials under `<dataDir>/clusters/<db>/app`, backups under `<dataDir>/backups`.
   */
  readonly dataDir: string;
  readonly binDir?: string | undefined;
  /** OS user the servers run as when the provisioner runs as root. */
  readonly osUser: string;
  /** The router's wire endpoint, for the `uri` and `jdbc-uri` the application reads. */
  readonly router: RouterWireEndpoint;
  readonly logger: Logger;
  /**
   * DBPLANE_SLOT_MAX_LAG_BYTES: the WAL a replica's slot may hold back on its primary
   * (`max_slot_wal_keep_size`); past it the slot is lost and the replica copied anew. 0: no bound.
   * Default: 1 GiB.
   */
  readonly slotMaxLagBytes?: number | undefined;
}

const replicaDir = /^replica-(\d+)$/;
/** DBPLANE_SLOT_MAX_LAG_BYTES's default: 1 GiB of WAL held back for a replica that is away. */
export const DEFAULT_SLOT_MAX_LAG_BYTES = 1024 ** 3;

/**
 * The `count` replica servers of a shard: the former primary `primary` when it exists (re-joined
 * as a replica after a failover), then `replica-1`, `replica-2`, … skipping the one that is the
 * primary since a failover and any fenced one, so a failover leaves the shard with as many
 * replicas as asked (the next pass re-joins the old primary or makes a new one).
 */
export function replicaServers(
  leader: string,
  fenced: ReadonlySet<string>,
  count: number,
  existing: readonly string[] = [],
): string[] {
  const servers: string[] = [];
  if (count > 0 && existing.includes("primary") && leader !== "primary" && !fenced.has("primary"))
    servers.push("primary");
  for (let k = 1; servers.length < count; k++) {
    const server = `replica-${k}`;
    if (server !== leader && !fenced.has(server)) servers.push(server);
  }
  return servers;
}

/** What every consumer of a local shard needs to reach it (passwords by their files only). */
export function shardEndpoint(
  dir: string,
  dbname: string,
  primaryPort: number,
  replicaPorts: readonly number[],
): ShardEndpoint {
  return {
    primary: { host: "127.0.0.1", port: primaryPort },
    replicas: replicaPorts.map((port) => ({ host: "127.0.0.1", port })),
    dbname,
    user: SUPERUSER,
    passwordRef: { kind: "file", path: join(dir, "password") },
    monitoring: { user: MONITOR_USER, passwordRef: { kind: "file", path: join(dir, MONITOR_KEYS.password) } },
    reshard: { user: RESHARD_ROLE, passwordRef: { kind: "file", path: join(dir, RESHARD_KEYS.password) } },
  };
}
/** Files that only the provisioner and the services beside it read. */
const PROCESS_USER: ServerUser = { name: "(current user)", uid: undefined, gid: undefined };

/**
 * Shards as real PostgreSQL clusters on this machine (DESIGN.md, "Local mode"); the database's
 * application credentials in `<dataDir>/clusters/<db>/app/`. Everything is
 * derived from paths, so a restarted provisioner finds its clusters where it left them: running
 * ones are adopted (postmaster.pid), stopped ones started, half-made ones (`*.tmp`) redone.
 */
export async function createLocalDriver(options: LocalDriverOptions): Promise<ShardDriver> {
  const root = resolve(options.dataDir);
  const clusters = join(root, "clusters");
  const finder = new PgBinaryFinder(options.binDir);
  const slotRetention = maxSlotWalKeepSize(options.slotMaxLagBytes ?? DEFAULT_SLOT_MAX_LAG_BYTES);
  const user: ServerUser = await resolveServerUser(options.osUser);
  // The server user must be able to reach its directories: traversable, not listable by others.
  await mkdir(clusters, { recursive: true, mode: 0o711 });
  // Shard servers serve TLS with certificates from this CA; clients verify them with
  // DBPLANE_SHARD_TLS_CA=<dataDir>/tls/ca.crt.
  const ca = await ensureLocalCa(join(root, "tls"));
  if (!ca) options.logger.warn("openssl not found: local shard servers run without TLS");
  const databaseDir = (db: string) => join(clusters, db);
  const shardDir = (db: string, shard: number) => join(databaseDir(db), `shard-${shard}`);
  const serverContext = async (spec: DatabaseSpec, shard: number): Promise<ServerContext> => {
    const dir = shardDir(spec.name, shard);
    await mkdir(databaseDir(spec.name), { recursive: true, mode: 0o711 });
    await ownedDir(dir, user);
    // A database with a backup policy archives its WAL (every server: a promoted replica goes on).
    const archive = spec.backup ? await ensureBackupDirs(root, spec.name, shard, user) : undefined;
    return {
      bins: await finder.forMajor(spec.postgresVersion),
      user,
      password: await ensurePassword(join(dir, "password"), user),
      memory: spec.resources?.memory,
      ca,
      archiveDir: archive?.wal,
    };
  };

  /**
   * A restored database's shard: its primary recovered from the source shard's base backup and
   * WAL to the restore's moment. The source's WAL up to now is archived first (when it runs), so
   * every moment until the restore was asked is within reach.
   */
  const restoreShard = async (spec: DatabaseSpec, shard: number, ctx: ServerContext) => {
    const from = spec.restoreFrom;
    const base = from?.bases[shard];
    if (!from || !base) return;
    const dir = shardDir(spec.name, shard);
    if (await exists(join(dir, "restored.json"))) return;
    const sourceDir = shardDir(from.database, shard);
    // Kept beside the backups since they exist; a live source's own file for older backups.
    const sourcePassword =
      (await keptPassword(root, from.database, shard)) ??
      ((await exists(join(sourceDir, "password")))
        ? (await readFile(join(sourceDir, "password"), "utf8")).trim()
        : undefined);
    if (!sourcePassword) {
      throw new PermanentProvisionError(
        `shard ${shard} of "${from.database}" cannot be restored: its superuser password was not kept (the database was deleted before dbplane kept it beside its backups), and its base backup opens only with it`,
      );
    }
    const sourceServer = join(sourceDir, await leaderOf(sourceDir));
    if ((await exists(sourceServer)) && (await isRunning(sourceServer, ctx))) {
      await flushArchive({ port: await portOf(sourceServer), ca }, sourcePassword);
    }
    const walDir = join(dirname(dirname(base)), "wal");
    // The map the restore makes (absent ranges: version 1's equal ones), as the router will route.
    const ranges = from.ranges ? rangesFromText(from.ranges) : equalRanges(spec.shards);
    const removed = await restorePrimary(
      dir,
      spec.name,
      { sourceDatabase: from.database, base, walDir, targetTime: from.targetTime, sourcePassword },
      ctx,
      { owned: ranges.filter((r) => r.shard === shard), tables: spec.shardedTables },
    );
    if (removed && Object.values(removed).some((n) => n > 0)) {
      options.logger.warn(
        { database: spec.name, shard, source: from.database, ...removed },
        "restored shard carried a reshard's leftovers (taken mid-reshard): removed",
      );
    }
  };

  /**
   * What a restore of a deleted database needs besides its backups: the superuser password, and
   * its last WAL archived (else the moments since the last full segment would be out of reach).
   * Only for a shard with backups; the archive is flushed when its primary still runs.
   */
  const keepForRestore = async (database: string, shard: number): Promise<void> => {
    if (!Number.isInteger(shard) || !(await exists(shardBackupDirs(root, database, shard).dir))) return;
    const dir = shardDir(database, shard);
    if (!(await exists(join(dir, "password")))) return;
    const password = (await readFile(join(dir, "password"), "utf8")).trim();
    await keepPassword(root, database, shard, password, user);
    const server = join(dir, await leaderOf(dir));
    const bins = (await finder.all())[0];
    if (!bins || !(await exists(server))) return;
    // A server that no longer archives (the policy was removed) would never confirm a flush.
    if (!(await archivesInto(server, shardBackupDirs(root, database, shard).wal))) return;
    if (!(await isRunning(server, { bins, user }))) return;
    await flushArchive({ port: await portOf(server), ca }, password).catch((err: unknown) =>
      options.logger.warn({ err, database, shard }, "last WAL not archived before delete"),
    );
  };

  /** Stops every server of a shard directory, half-made ones included. */
  const stopShard = async (dir: string): Promise<void> => {
    const bins = (await finder.all())[0];
    const entries = await readdir(dir);
    const servers = entries.filter((e) => replicaDir.test(e) || e === "primary");
    // Replicas first, so none of them logs a lost primary on the way down.
    for (const server of servers.sort().reverse()) {
      if (bins) await stopServer(join(dir, server), { bins, user });
    }
    for (const entry of entries) {
      if (entry.endsWith(".tmp") && bins) await stopServer(join(dir, entry.slice(0, -4)), { bins, user });
    }
  };

  return {
    kind: "local",
    backupKind: "physical",
    async preflight(spec) {
      assertSupportedVersion(spec);
      await finder.forMajor(spec.postgresVersion);
    },

    async ensureApplication(spec) {
      await mkdir(databaseDir(spec.name), { recursive: true, mode: 0o711 });
      return ensureAppCredentialFiles(join(databaseDir(spec.name), "app"), spec.name, options.router);
    },

    async ensureShard(target, application): Promise<ShardObservation> {
      const { spec, shard } = target;
      const dir = shardDir(spec.name, shard);
      const leader = await leaderOf(dir);
      // No server of this shard was ever made: whatever its backup directory holds is an earlier one's.
      if (leader === "primary" && !(await exists(join(dir, "primary")))) {
        const claim = await claimBackupDirs(root, spec.name, shard);
        if (claim && "movedTo" in claim) {
          options.logger.warn(
            { database: spec.name, shard, movedTo: claim.movedTo },
            "WAL archive of an earlier database or shard of this name (no base backup in it) moved aside",
          );
        } else if (claim) {
          options.logger.error(
            { database: spec.name, shard, baseBackups: claim.baseBackups },
            "WAL archive of an earlier shard of this name holds its base backups: left in place, and this shard's archiving fails until its WAL segment names pass the old server's",
          );
        }
      }
      const ctx = await serverContext(spec, shard);
      if (leader === "primary") await restoreShard(spec, shard, ctx);
      await ensureArchiving(join(dir, leader), ctx);
      // A fenced leader (a failover stopped half-way; the watcher finishes it) is refused there.
      let primaryPort: number;
      try {
        primaryPort = await ensurePrimary(dir, join(dir, "password"), spec.name, ctx, leader);
      } catch (err) {
        // Crashed under running replicas: not restarted here; the failover watcher takes it over.
        if (err instanceof PrimaryDownError) return { ready: false, waitingFor: err.message };
        throw err;
      }
      await ensureAppRole({ port: primaryPort, ca }, ctx.password, spec.name, application.verifier);
      // The collector reads this file as the provisioner's own user, not the server's.
      const monitorFile = join(dir, MONITOR_KEYS.password);
      const monitorPassword = await ensurePassword(monitorFile, PROCESS_USER);
      await ensureMonitorRole({ port: primaryPort, ca }, ctx.password, monitorPassword);
      // The router reads this one (it resolves refs inside DBPLANE_DATA_DIR), as it does the app's.
      const reshardFile = join(dir, RESHARD_KEYS.password);
      const reshardPassword = await ensurePassword(reshardFile, PROCESS_USER);
      await ensureReshardRole({ port: primaryPort, ca }, ctx.password, spec.name, reshardPassword);
      // A former primary a failover fenced comes back as a replica of the new one (pg_rewind).
      for (const server of await fencedServers(dir)) {
        const rejoined = await rejoinFenced(dir, server, primaryPort, ctx);
        options.logger.warn(
          { database: spec.name, shard, server, ...rejoined },
          rejoined.how === "rewound"
            ? "fenced former primary re-joined as a replica (pg_rewind)"
            : "fenced former primary could not be rewound; it is copied anew as a replica",
        );
      }
      const entries = await readdir(dir);
      const fenced = new Set(entries.filter((e) => e.endsWith(".fenced")).map((e) => e.slice(0, -7)));
      const replicas = replicaServers(leader, fenced, target.replicas, entries);
      const replicaPorts: number[] = [];
      await applySlotRetention({ port: primaryPort, ca }, ctx.password, slotRetention);
      for (const server of replicas) {
        if (await discardIfSlotLost(dir, server, slotNameOf(server), { port: primaryPort, ca }, ctx)) {
          options.logger.warn(
            { database: spec.name, shard, replica: server },
            "replica fell further behind than DBPLANE_SLOT_MAX_LAG_BYTES (its slot was invalidated); copying it anew",
          );
        }
        // A replica promoted by a failover archives as its primary did.
        await ensureArchiving(join(dir, server), ctx);
        replicaPorts.push(await ensureReplica(dir, server, primaryPort, ctx));
      }
      // Synchronous mode (or not): the primary waits for n of exactly these replicas.
      await applySynchronousStandbys(
        { port: primaryPort, ca },
        ctx.password,
        synchronousStandbyNames(spec.synchronous?.replicas ?? 0, replicas.map(slotNameOf)),
      );
      for (const entry of entries) {
        const server = replicaDir.test(entry) || entry === "primary";
        if (!server || entry === leader || fenced.has(entry) || replicas.includes(entry)) continue;
        await stopServer(join(dir, entry), ctx);
        await rm(join(dir, entry), { recursive: true, force: true });
        await rm(join(dir, `${entry}.log`), { force: true });
        await dropSlot({ port: primaryPort, ca }, ctx.password, slotNameOf(entry));
        options.logger.info({ database: spec.name, shard, replica: entry }, "surplus replica removed");
      }
      return {
        ready: true,
        endpoint: shardEndpoint(dir, spec.name, primaryPort, replicaPorts),
      };
    },

    async removeShard(spec, shard) {
      const dir = shardDir(spec.name, shard);
      if (!(await exists(dir))) return;
      await stopShard(dir);
      // The shard served no key: nothing of it is worth keeping, and an index added again starts empty.
      await rm(dir, { recursive: true, force: true, maxRetries: 5 });
    },

    async removeDatabase(database, { keepVolumes }) {
      const dir = databaseDir(database);
      if (!(await exists(dir))) return;
      for (const shard of await readdir(dir)) {
        if (!shard.startsWith("shard-")) continue;
        await keepForRestore(database, Number(shard.slice("shard-".length)));
        await stopShard(join(dir, shard));
      }
      if (keepVolumes) {
        const retained = join(root, "retained");
        await mkdir(retained, { recursive: true, mode: 0o711 });
        await rename(dir, join(retained, `${database}-${new Date().toISOString().replace(/[:.]/g, "-")}`));
      } else {
        await rm(dir, { recursive: true, force: true, maxRetries: 5 });
      }
    },

    async backupShard(target, backupId): Promise<BackupOutcome> {
      const ctx = await serverContext(target.spec, target.shard);
      const dir = shardDir(target.spec.name, target.shard);
      const port = await ensurePrimary(
        dir,
        join(dir, "password"),
        target.spec.name,
        ctx,
        await leaderOf(dir),
      );
      if (target.spec.backup) {
        // Physical: a base backup that, with the archived WAL, restores to any later moment.
        const dirs = await ensureBackupDirs(root, target.spec.name, target.shard, user);
        await keepPassword(root, target.spec.name, target.shard, ctx.password, user);
        const backup = await takeBaseBackup(dirs.base, backupId, port, ctx);
        return { done: true, ...backup };
      }
      const outDir = join(root, "backups", target.spec.name, backupId);
      await mkdir(outDir, { recursive: true, mode: 0o700 });
      const file = join(outDir, `shard-${target.shard}.dump`);
      // pg_dump needs no special user; it runs as the provisioner so the dump is the provisioner's.
      await runProgram(
        ctx.bins.path("pg_dump"),
        ["-h", "127.0.0.1", "-p", String(port), "-U", SUPERUSER, "-Fc", "-w", "-f", file, target.spec.name],
        {
          user: { name: "(current user)", uid: undefined, gid: undefined },
          password: ctx.password,
          tlsCa: ctx.ca?.certPath,
          timeoutMs: 3_600_000,
        },
      );
      return { done: true, location: file, bytes: (await stat(file)).size };
    },

    async pruneBackups(spec, shard, expired, oldestKept) {
      const dirs = shardBackupDirs(root, spec.name, shard);
      for (const location of expired) {
        // Only what lies in this shard's base directory: a location is data, not a licence to delete.
        if (dirname(location) === dirs.base) await deleteBaseBackup(location);
      }
      const ctx = await serverContext(spec, shard);
      await removeSegmentsBefore(dirs.wal, await firstSegmentOf(oldestKept, ctx));
      return true;
    },

    failover: {
      async probe(spec, shard, timeoutMs) {
        const dir = shardDir(spec.name, shard);
        if (!(await exists(dir))) return "absent";
        const leader = await leaderOf(dir);
        if (!(await exists(join(dir, leader)))) return "absent";
        // A failover stopped between fencing and naming the new primary: it was decided, finish it.
        if (await isFenced(dir, leader)) return "dead";
        const ctx = await serverContext(spec, shard);
        if (await answers(join(dir, leader), ctx, timeoutMs)) return "up";
        // Silent, and its postmaster crashed (pid file left, process gone): no doubt to wait out.
        return (await postmasterDead(join(dir, leader))) ? "dead" : "down";
      },
      async failOver(spec, shard, timeoutMs): Promise<FailoverOutcome> {
        const dir = shardDir(spec.name, shard);
        const ctx = await serverContext(spec, shard);
        const done = await failOverShard(dir, ctx, timeoutMs, spec.synchronous?.replicas ?? 0);
        if (done.kind !== "promoted") return done;
        return {
          kind: "promoted",
          oldPrimary: { host: "127.0.0.1", port: done.oldPort },
          newPrimary: { host: "127.0.0.1", port: done.newPort },
          lsn: done.lsn,
          endpoint: shardEndpoint(dir, spec.name, done.newPort, done.replicaPorts),
        };
      },
    },

    async close() {},
  };
}
