import { appendFile, readFile, rename } from "node:fs/promises";
import { join } from "node:path";
import { withClient } from "@dbplane/service-kit";
import type pg from "pg";
import { postgresSettings, renderSettings } from "../../domain/postgres-settings.ts";
import { archiveSettings } from "./archive-command.ts";
import { discardPartial, exists, freeLocalPort, SUPERUSER, writeOwned } from "./cluster-files.ts";
import { clearZombieLock, isZombie, postmasterPidOf } from "./dead-postmaster.ts";
import { ensureServerCertificate, type LocalCa } from "./local-tls.ts";
import type { PgBinaries } from "./pg-binaries.ts";
import { assertPrimaryMayStart } from "./primary-guard.ts";
import { ensureSlot, followPrimary, slotNameOf } from "./replication-slots.ts";
import { ProgramFailedError, runProgram } from "./run-program.ts";
import type { ServerUser } from "./server-user.ts";
import { isFenced } from "./shard-leader.ts";

/** What every operation on one local server needs. */
export interface ServerContext {
  readonly bins: PgBinaries;
  readonly user: ServerUser;
  readonly password: string;
  readonly memory: string | undefined;
  /** The local CA that issues each server's certificate; undefined: the servers serve no TLS. */
  readonly ca: LocalCa | undefined;
  /** Set: the server archives its WAL there (the database has a backup policy). */
  readonly archiveDir?: string | undefined;
}

const CONF_FILE = "dbplane.conf";

/**
 * dbplane's settings go to their own file, included from postgresql.conf: rewriting it (a new
 * port for a replica) never touches what initdb or pg_basebackup wrote. Only 127.0.0.1, no Unix
 * socket (its path would depend on the data directory's length and on /var/run permissions).
 */
export async function writeSettings(dataDir: string, ctx: ServerContext, port: number): Promise<void> {
  const settings = {
    ...postgresSettings(ctx.memory, port),
    listen_addresses: "127.0.0.1",
    // pg_rewind re-joins a failed-over primary as a replica; it needs hint bits in the WAL.
    wal_log_hints: "on",
    unix_socket_directories: "",
    // server.crt and server.key in the data directory (PostgreSQL's default file names).
    ...(ctx.ca && { ssl: "on" }),
    ...(ctx.archiveDir && archiveSettings(ctx.archiveDir)),
  };
  await writeOwned(join(dataDir, CONF_FILE), renderSettings(settings), ctx.user);
  const main = join(dataDir, "postgresql.conf");
  if (!(await readFile(main, "utf8")).includes(`include_if_exists = '${CONF_FILE}'`)) {
    await appendFile(main, `\n# dbplane-managed settings\ninclude_if_exists = '${CONF_FILE}'\n`);
  }
}

/** The port a server's settings name. */
export async function portOf(dataDir: string): Promise<number> {
  const conf = await readFile(join(dataDir, CONF_FILE), "utf8");
  const match = /^port = (\d+)$/m.exec(conf);
  if (!match?.[1]) throw new Error(`${join(dataDir, CONF_FILE)} names no port`);
  return Number(match[1]);
}

/** Whether the server of a data directory runs (its postmaster.pid names a live postmaster). */
export async function isRunning(
  dataDir: string,
  ctx: Pick<ServerContext, "bins" | "user">,
): Promise<boolean> {
  try {
    await runProgram(ctx.bins.path("pg_ctl"), ["status", "-D", dataDir], {
      user: ctx.user,
      timeoutMs: 10_000,
    });
    // A killed postmaster nobody reaped yet is not running, whatever kill(pid, 0) says.
    const pid = await postmasterPidOf(dataDir);
    return pid === undefined || !(await isZombie(pid));
  } catch (err) {
    if (err instanceof ProgramFailedError) return false;
    throw err;
  }
}

/**
 * Starts the server unless it runs (re-adoption after a provisioner restart is this check). A
 * port taken meanwhile by something else gets the server a new one. `mayStart` is asked right
 * after the server was seen stopped, before anything starts it: a check made earlier could pass
 * for a server that dies before this one looks (a primary killed mid-pass came back up here, and
 * no failover happened).
 */
export async function ensureRunning(
  dataDir: string,
  ctx: ServerContext,
  mayStart: () => Promise<void> = async () => {},
): Promise<number> {
  await ensureTls(dataDir, ctx);
  if (await isRunning(dataDir, ctx)) return portOf(dataDir);
  await mayStart();
  // PostgreSQL refuses a lock file whose pid still "exists", as an unreaped killed one does.
  await clearZombieLock(dataDir);
  const start = () =>
    runProgram(
      ctx.bins.path("pg_ctl"),
      ["start", "-D", dataDir, "-l", `${dataDir}.log`, "-w", "-t", "120", "-s"],
      {
        user: ctx.user,
        timeoutMs: 150_000,
      },
    );
  try {
    await start();
  } catch (err) {
    const log = await readFile(`${dataDir}.log`, "utf8").catch(() => "");
    if (
      !(err instanceof ProgramFailedError) ||
      !/could not bind|Address already in use/.test(log.slice(-2_000))
    ) {
      throw err;
    }
    await writeSettings(dataDir, ctx, await freeLocalPort());
    await start();
  }
  return portOf(dataDir);
}

/**
 * A server made before TLS (or whose certificate was removed) gets a certificate and `ssl = on`;
 * a running one reloads its configuration, which is enough for PostgreSQL to start serving TLS.
 */
async function ensureTls(dataDir: string, ctx: ServerContext): Promise<void> {
  if (!ctx.ca) return;
  await ensureServerCertificate(dataDir, ctx.ca, ctx.user);
  if (/^ssl = 'on'$/m.test(await readFile(join(dataDir, CONF_FILE), "utf8"))) return;
  await writeSettings(dataDir, ctx, await portOf(dataDir));
  if (await isRunning(dataDir, ctx)) {
    await runProgram(ctx.bins.path("pg_ctl"), ["reload", "-D", dataDir, "-s"], {
      user: ctx.user,
      timeoutMs: 30_000,
    });
  }
}

/** Stops the server if it runs (fast shutdown: sessions are ended, no data is lost). */
export async function stopServer(dataDir: string, ctx: Pick<ServerContext, "bins" | "user">): Promise<void> {
  await discardPartial(`${dataDir}.tmp`);
  if (!(await exists(dataDir)) || !(await isRunning(dataDir, ctx))) return;
  await runProgram(ctx.bins.path("pg_ctl"), ["stop", "-D", dataDir, "-m", "fast", "-w", "-t", "60", "-s"], {
    user: ctx.user,
    timeoutMs: 90_000,
  });
}

/** A local server as the provisioner's admin connections reach it. */
export interface AdminTarget {
  readonly port: number;
  /** Set: the connection verifies the server's certificate and name (`verify-full`). */
  readonly ca: LocalCa | undefined;
}

/** Runs `work` on a connection to the server as the dbplane role. */
export async function withConnection<T>(
  target: AdminTarget,
  password: string,
  database: string,
  work: (client: pg.Client) => Promise<T>,
): Promise<T> {
  return withClient(
    {
      host: "127.0.0.1",
      port: target.port,
      user: SUPERUSER,
      password,
      database,
      connectionTimeoutMillis: 10_000,
      ...(target.ca && { ssl: { ca: await readFile(target.ca.certPath, "utf8"), rejectUnauthorized: true } }),
    },
    work,
  );
}

/**
 * Makes a server's data directory once: `program` (initdb or pg_basebackup) writes it as
 * `<dataDir>.tmp` (after discarding what a crash left there), its settings are added, and an
 * atomic rename makes it `dataDir`. A crash before the rename leaves only a `.tmp` the next
 * attempt discards; after it, the next attempt finds the directory and leaves it as it is.
 */
async function createDataDirOnce(
  dataDir: string,
  ctx: ServerContext,
  program: "initdb" | "pg_basebackup",
  args: readonly string[],
  options: { readonly password?: string; readonly tlsCa?: string | undefined; readonly timeoutMs: number },
) {
  if (await exists(dataDir)) return;
  const tmp = `${dataDir}.tmp`;
  await discardPartial(tmp);
  await runProgram(ctx.bins.path(program), ["-D", tmp, ...args], {
    user: ctx.user,
    ...options,
    pidFile: `${tmp}.pid`,
  });
  await writeSettings(tmp, ctx, await freeLocalPort());
  if (ctx.ca) await ensureServerCertificate(tmp, ctx.ca, ctx.user);
  await rename(tmp, dataDir);
}

/**
 * The shard's primary: initdb (scram auth, the generated password) into a new `primary` directory,
 * started; then its database created if missing. `server` is the shard's leader (`primary` until
 * a failover; then the promoted server, e.g. `replica-1`, only started, never made anew).
 */
export async function ensurePrimary(
  shardDir: string,
  passwordFile: string,
  dbname: string,
  ctx: ServerContext,
  server: string,
) {
  const dataDir = join(shardDir, server);
  // Never start a primary a failover replaced: it would accept writes beside the promoted one.
  if (await isFenced(shardDir, server)) {
    throw new Error(`${dataDir} is fenced (replaced by a failover); it is not started as the primary`);
  }
  const initdb = [
    "-U",
    SUPERUSER,
    `--pwfile=${passwordFile}`,
    "--auth=scram-sha-256",
    "-E",
    "UTF8",
    "--locale=C",
  ];
  if (server === "primary") await createDataDirOnce(dataDir, ctx, "initdb", initdb, { timeoutMs: 300_000 });
  else if (!(await exists(dataDir))) throw new Error(`${dataDir}, the shard's promoted primary, is missing`);
  // Nor one that crashed under running replicas: the failover watcher owns that outage.
  const port = await ensureRunning(dataDir, ctx, () => assertPrimaryMayStart(shardDir, server, ctx));
  await withConnection({ port, ca: ctx.ca }, ctx.password, "postgres", async (client) => {
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [dbname]);
    if (rowCount === 0) await client.query(`CREATE DATABASE "${dbname.replaceAll('"', '""')}"`);
  });
  return port;
}

/**
 * A replica of the shard (`server`, e.g. `replica-1`): its physical slot on the primary, then
 * pg_basebackup from the primary with `-R` and that slot (standby.signal, primary_conninfo,
 * primary_slot_name), its own port, started; then pointed at the primary and its slot (a replica
 * made before slots, or one that followed another primary), and checked to be in recovery.
 * `createDataDirOnce` makes a crash mid-copy harmless.
 */
export async function ensureReplica(
  shardDir: string,
  server: string,
  primaryPort: number,
  ctx: ServerContext,
) {
  const dataDir = join(shardDir, server);
  const slot = slotNameOf(server);
  await ensureSlot({ port: primaryPort, ca: ctx.ca }, ctx.password, slot);
  const primary = ["-h", "127.0.0.1", "-p", String(primaryPort), "-U", SUPERUSER];
  await createDataDirOnce(
    dataDir,
    ctx,
    "pg_basebackup",
    [...primary, "-R", "-S", slot, "-X", "stream", "-c", "fast", "-w"],
    // With a CA, -R writes sslmode=verify-full and the CA into primary_conninfo too.
    { password: ctx.password, tlsCa: ctx.ca?.certPath, timeoutMs: 3_600_000 },
  );
  const port = await ensureRunning(dataDir, ctx);
  const inRecovery = await withConnection({ port, ca: ctx.ca }, ctx.password, "postgres", async (client) => {
    const { rows } = await client.query<{ r: boolean }>("SELECT pg_is_in_recovery() AS r");
    return rows[0]?.r === true;
  });
  if (!inRecovery) throw new Error(`${dataDir} is not a standby (pg_is_in_recovery() is false)`);
  await followPrimary({ port, ca: ctx.ca }, ctx.password, primaryPort, slot);
  return port;
}
