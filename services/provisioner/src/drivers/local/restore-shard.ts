import { readFile, rename } from "node:fs/promises";
import { join } from "node:path";
import { discardPartial, exists, freeLocalPort, ownedDir, writeOwned } from "./cluster-files.ts";
import {
  ensureRunning,
  type ServerContext,
  stopServer,
  withConnection,
  writeSettings,
} from "./local-server.ts";
import { type LeftoversRemoved, type RestoredShardMap, removeReshardLeftovers } from "./restore-leftovers.ts";
import { runProgram } from "./run-program.ts";

/** What one shard of a restored database is made from. */
export interface ShardRestore {
  /** The source database (its name is the restored database's until renamed). */
  readonly sourceDatabase: string;
  /** The base backup directory (base.tar, pg_wal.tar). */
  readonly base: string;
  /** The source shard's WAL archive. */
  readonly walDir: string;
  /** The moment every shard is recovered to (RFC 3339). */
  readonly targetTime: string;
  /** The source shard's superuser password (the restored server starts with it). */
  readonly sourcePassword: string;
}

const RESTORED_MARKER = "restored.json";
const sh = (path: string) => `'${path.replaceAll("'", `'\\''`)}'`;

/**
 * Makes a shard's primary from a base backup and the source's archived WAL, recovered to
 * `targetTime` by PostgreSQL itself (recovery.signal, restore_command, recovery_target_time,
 * recovery_target_action = promote), then renames the source's database to `dbname` and gives
 * the superuser the new shard's password. A reshard running at that moment left objects behind
 * (removeReshardLeftovers): the server recovers and they are removed with no logical replication
 * worker at all (`max_logical_replication_workers = 0`), then it restarts with the normal settings.
 * Each step is idempotent and `restored.json` marks the end, so a repeat after a crash finishes
 * what is missing and a repeat after success does nothing (and returns undefined).
 */
export async function restorePrimary(
  shardDir: string,
  dbname: string,
  restore: ShardRestore,
  ctx: ServerContext,
  map: RestoredShardMap,
): Promise<LeftoversRemoved | undefined> {
  const marker = join(shardDir, RESTORED_MARKER);
  if (await exists(marker)) return undefined;
  const dataDir = join(shardDir, "primary");
  if (!(await exists(dataDir))) await unpack(dataDir, restore, ctx);
  await ensureRunning(dataDir, ctx);
  const port = Number(/^port = (\d+)$/m.exec(await readFile(join(dataDir, "dbplane.conf"), "utf8"))?.[1]);
  const target = { port, ca: ctx.ca };
  // The new password once set; the source's until then.
  const password = await withConnection(target, ctx.password, "postgres", async () => ctx.password).catch(
    () => restore.sourcePassword,
  );
  await withConnection(target, password, "postgres", async (client) => {
    await waitPromoted(client, dataDir);
    await client.query(`ALTER ROLE dbplane PASSWORD ${client.escapeLiteral(ctx.password)}`);
    const { rows } = await client.query<{ datname: string }>(
      "SELECT datname FROM pg_database WHERE datname = ANY($1)",
      [[restore.sourceDatabase, dbname]],
    );
    const names = new Set(rows.map((r) => r.datname));
    if (names.has(restore.sourceDatabase) && !names.has(dbname) && restore.sourceDatabase !== dbname) {
      await client.query(
        `ALTER DATABASE ${client.escapeIdentifier(restore.sourceDatabase)} RENAME TO ${client.escapeIdentifier(dbname)}`,
      );
    }
  });
  const removed = await removeReshardLeftovers(
    (database, work) => withConnection(target, ctx.password, database, work),
    dbname,
    map,
  );
  const workersOff = await withConnection(target, ctx.password, "postgres", async (client) => {
    const settings = ["restore_command", "recovery_target_time", "recovery_target_action"];
    for (const setting of [...settings, "max_logical_replication_workers"]) {
      await client.query(`ALTER SYSTEM RESET ${setting}`);
    }
    await client.query("SELECT pg_reload_conf()");
    const { rows } = await client.query<{ n: string }>(
      "SELECT current_setting('max_logical_replication_workers') AS n",
    );
    return rows[0]?.n === "0";
  });
  // The worker limit is read at start only: the restart brings the normal settings back.
  if (workersOff) {
    await stopServer(dataDir, ctx);
    await ensureRunning(dataDir, ctx);
  }
  await writeOwned(marker, `${JSON.stringify({ ...restore, sourcePassword: undefined })}\n`, ctx.user);
  return removed;
}

/** base.tar and pg_wal.tar into `<dataDir>.tmp`, the recovery settings, then renamed into place. */
async function unpack(dataDir: string, restore: ShardRestore, ctx: ServerContext): Promise<void> {
  const tmp = `${dataDir}.tmp`;
  await discardPartial(tmp);
  await ownedDir(tmp, ctx.user);
  const tar = (args: string[]) => runProgram("tar", args, { user: ctx.user, timeoutMs: 3_600_000 });
  await tar(["-xf", join(restore.base, "base.tar"), "-C", tmp]);
  await tar(["-xf", join(restore.base, "pg_wal.tar"), "-C", join(tmp, "pg_wal")]);
  // The source's settings name its port and its archive: both are replaced before the first start.
  await writeSettings(tmp, ctx, await freeLocalPort());
  const recovery = [
    `restore_command = '${`cp ${sh(`${restore.walDir}/%f`)} %p`.replaceAll("'", "''")}'`,
    // PostgreSQL reads `YYYY-MM-DD HH:MM:SS.sss+00`, not RFC 3339's `T…Z`.
    `recovery_target_time = '${new Date(restore.targetTime).toISOString().replace("T", " ").replace("Z", "+00")}'`,
    "recovery_target_action = 'promote'",
    // A subscription of a shard restored mid-reshard is enabled: its apply worker would connect to
    // the live source and consume the live move's slot. None runs until restorePrimary removed it.
    "max_logical_replication_workers = 0",
  ];
  const auto = join(tmp, "postgresql.auto.conf");
  const before = await readFile(auto, "utf8").catch(() => "");
  await writeOwned(auto, `${before}\n${recovery.join("\n")}\n`, ctx.user);
  await writeOwned(join(tmp, "recovery.signal"), "", ctx.user);
  await rename(tmp, dataDir);
}

/** Waits until recovery reached its target and the server was promoted (it accepts writes). */
async function waitPromoted(
  client: import("pg").Client,
  dataDir: string,
  timeoutMs = 600_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await client.query<{ r: boolean }>("SELECT pg_is_in_recovery() AS r");
    if (rows[0]?.r === false) return;
    if (Date.now() > deadline) throw new Error(`${dataDir} still recovering after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
