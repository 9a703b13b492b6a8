import { mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { RESHARD_ROLE } from "@dbplane/reshard";
import type { Logger } from "@dbplane/service-kit";
import type { RouterWireEndpoint } from "../../domain/application-role.ts";
import type { DatabaseSpec } from "../../domain/database-spec.ts";
import { MONITOR_KEYS, MONITOR_USER } from "../../domain/monitoring-role.ts";
import { RESHARD_KEYS } from "../../domain/reshard-role.ts";
import type { BackupOutcome, ShardDriver, ShardObservation } from "../driver.ts";
import { ensureAppCredentialFiles } from "./app-credential-files.ts";
import { ensureAppRole } from "./app-role.ts";
import { ensurePassword, exists, ownedDir, SUPERUSER } from "./cluster-files.ts";
import { ensurePrimary, ensureReplica, type ServerContext, stopServer } from "./local-server.ts";
import { ensureLocalCa } from "./local-tls.ts";
import { ensureMonitorRole } from "./monitor-role.ts";
import { PgBinaryFinder } from "./pg-binaries.ts";
import { dropSlot, slotNameOf } from "./replication-slots.ts";
import { ensureReshardRole } from "./reshard-role.ts";
import { runProgram } from "./run-program.ts";
import { resolveServerUser, type ServerUser } from "./server-user.ts";

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
}

const replicaDir = /^replica-(\d+)$/;
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
    return {
      bins: await finder.forMajor(spec.postgresVersion),
      user,
      password: await ensurePassword(join(dir, "password"), user),
      memory: spec.resources?.memory,
      ca,
    };
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
    async preflight(spec) {
      await finder.forMajor(spec.postgresVersion);
    },

    async ensureApplication(spec) {
      await mkdir(databaseDir(spec.name), { recursive: true, mode: 0o711 });
      return ensureAppCredentialFiles(join(databaseDir(spec.name), "app"), spec.name, options.router);
    },

    async ensureShard(target, application): Promise<ShardObservation> {
      const { spec, shard } = target;
      const dir = shardDir(spec.name, shard);
      const ctx = await serverContext(spec, shard);
      const primaryPort = await ensurePrimary(dir, join(dir, "password"), spec.name, ctx);
      await ensureAppRole({ port: primaryPort, ca }, ctx.password, spec.name, application.verifier);
      // The collector reads this file as the provisioner's own user, not the server's.
      const monitorFile = join(dir, MONITOR_KEYS.password);
      const monitorPassword = await ensurePassword(monitorFile, PROCESS_USER);
      await ensureMonitorRole({ port: primaryPort, ca }, ctx.password, monitorPassword);
      // The router reads this one (it resolves refs inside DBPLANE_DATA_DIR), as it does the app's.
      const reshardFile = join(dir, RESHARD_KEYS.password);
      const reshardPassword = await ensurePassword(reshardFile, PROCESS_USER);
      await ensureReshardRole({ port: primaryPort, ca }, ctx.password, spec.name, reshardPassword);
      const replicaPorts: number[] = [];
      for (let k = 1; k <= target.replicas; k++)
        replicaPorts.push(await ensureReplica(dir, `replica-${k}`, primaryPort, ctx));
      for (const entry of await readdir(dir)) {
        const k = Number(replicaDir.exec(entry)?.[1] ?? 0);
        if (k > target.replicas) {
          await stopServer(join(dir, entry), ctx);
          await rm(join(dir, entry), { recursive: true, force: true });
          await rm(join(dir, `${entry}.log`), { force: true });
          await dropSlot({ port: primaryPort, ca }, ctx.password, slotNameOf(entry));
          options.logger.info({ database: spec.name, shard, replica: k }, "surplus replica removed");
        }
      }
      return {
        ready: true,
        endpoint: {
          primary: { host: "127.0.0.1", port: primaryPort },
          replicas: replicaPorts.map((port) => ({ host: "127.0.0.1", port })),
          dbname: spec.name,
          user: SUPERUSER,
          passwordRef: { kind: "file", path: join(dir, "password") },
          monitoring: { user: MONITOR_USER, passwordRef: { kind: "file", path: monitorFile } },
          reshard: { user: RESHARD_ROLE, passwordRef: { kind: "file", path: reshardFile } },
        },
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
        if (shard.startsWith("shard-")) await stopShard(join(dir, shard));
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
      const port = await ensurePrimary(dir, join(dir, "password"), target.spec.name, ctx);
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

    async close() {},
  };
}
