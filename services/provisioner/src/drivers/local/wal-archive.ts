import { readdir, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { archiveCommand } from "./archive-command.ts";
import { exists, ownedDir } from "./cluster-files.ts";
import {
  type AdminTarget,
  isRunning,
  portOf,
  type ServerContext,
  withConnection,
  writeSettings,
} from "./local-server.ts";
import { runProgram } from "./run-program.ts";
import type { ServerUser } from "./server-user.ts";

/**
 * Where a shard's backups live: `<dataDir>/backups/<db>/shard-<n>/{base/<backupId>,wal}`. The WAL
 * directory is shared by every server of the shard, so the archive continues on the promoted
 * replica after a failover (a new timeline, with its history file).
 */
export function shardBackupDirs(root: string, database: string, shard: number) {
  const dir = join(root, "backups", database, `shard-${shard}`);
  return { dir, base: join(dir, "base"), wal: join(dir, "wal") };
}

/** The shard's backup directories, owned by the server user (it archives and writes base backups). */
export async function ensureBackupDirs(root: string, database: string, shard: number, user: ServerUser) {
  const dirs = shardBackupDirs(root, database, shard);
  await ownedDir(join(root, "backups"), user);
  await ownedDir(join(root, "backups", database), user);
  for (const dir of [dirs.dir, dirs.base, dirs.wal]) await ownedDir(dir, user);
  return dirs;
}

/**
 * Before a shard's first server is made: a backup directory already there belongs to an earlier
 * database of the same name (deleted, then made again) or an earlier shard of the same index
 * (removed, then added again). Its archive would refuse the new server's segments (same names:
 * the archive never overwrites), so archiving would fail and pg_wal grow without bound. Without
 * base backups nothing in it restores: it is moved aside (`shard-<n>.orphaned-<time>`), never
 * deleted, and the new server archives into an empty directory. With base backups it stays where
 * it is (their rows name it; a restore may still need them) and is reported: a database made
 * again never gets here (its create is refused while backups of the old one are kept), a shard
 * removed and added again does — its archiving then fails until its segment names pass the old
 * server's, as before.
 */
export async function claimBackupDirs(
  root: string,
  database: string,
  shard: number,
  now = new Date(),
): Promise<{ movedTo: string } | { baseBackups: number } | undefined> {
  const dirs = shardBackupDirs(root, database, shard);
  if (!(await exists(dirs.dir))) return undefined;
  const segments = await archivedFiles(dirs.wal);
  const bases = (await exists(dirs.base))
    ? (await readdir(dirs.base)).filter((e) => !e.endsWith(".tmp") && !e.endsWith(".pid"))
    : [];
  if (segments.length === 0) return undefined;
  if (bases.length > 0) return { baseBackups: bases.length };
  const movedTo = `${dirs.dir}.orphaned-${now.toISOString().replace(/[:.]/g, "-")}`;
  await rename(dirs.dir, movedTo);
  return { movedTo };
}

/** Whether a server's dbplane.conf archives into `walDir` already. */
export async function archivesInto(dataDir: string, walDir: string): Promise<boolean> {
  const conf = await readFile(join(dataDir, "dbplane.conf"), "utf8").catch(() => "");
  return conf.includes(archiveCommand(walDir).replaceAll("'", "''"));
}

/**
 * Makes everything committed on a live primary until now restorable: a transaction that commits
 * after now (a point-in-time recovery stops at the first commit past its target, and fails if
 * the archive ends before one), then a switch to a new segment, then waits until the archiver
 * has stored the switched one.
 */
export async function flushArchive(target: AdminTarget, password: string, timeoutMs = 120_000) {
  await withConnection(target, password, "postgres", async (client) => {
    await client.query("SELECT txid_current()");
    const { rows } = await client.query<{ wal: string }>("SELECT pg_walfile_name(pg_switch_wal()) AS wal");
    const wanted = rows[0]?.wal ?? "";
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { rows: stat } = await client.query<{ last: string | null; failed: string | null }>(
        "SELECT last_archived_wal AS last, last_failed_wal AS failed FROM pg_stat_archiver",
      );
      // Segment names are timeline, log, segment in hex: compare the position, not the timeline.
      const last = stat[0]?.last ?? "";
      if (/^[0-9A-F]{24}/.test(last) && last.slice(8, 24) >= wanted.slice(8, 24)) return;
      if (Date.now() > deadline) {
        throw new Error(
          `WAL segment ${wanted} not archived in ${timeoutMs} ms (last failed: ${stat[0]?.failed})`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  });
}

/** Archived WAL segments (and history and backup files) of a shard, by name. */
export async function archivedFiles(walDir: string): Promise<string[]> {
  if (!(await exists(walDir))) return [];
  return (await readdir(walDir)).filter((f) => !f.endsWith(".part")).sort();
}

/**
 * A server made before its database had a backup policy starts archiving: its settings are
 * rewritten and, running, it is restarted (archive_mode takes effect only at start).
 */
export async function ensureArchiving(dataDir: string, ctx: ServerContext): Promise<void> {
  if (!ctx.archiveDir || !(await exists(dataDir)) || (await archivesInto(dataDir, ctx.archiveDir))) return;
  await writeSettings(dataDir, ctx, await portOf(dataDir));
  if (!(await isRunning(dataDir, ctx))) return;
  // With its log file named, as at start: the server keeps no pipe of ours open.
  await runProgram(
    ctx.bins.path("pg_ctl"),
    ["restart", "-D", dataDir, "-l", `${dataDir}.log`, "-m", "fast", "-w", "-t", "120", "-s"],
    {
      user: ctx.user,
      timeoutMs: 150_000,
    },
  );
}

/**
 * Deletes archived segments (and `.backup`/`.partial` files) before `first`, as pg_archivecleanup
 * does: by log and segment number, whatever the timeline; history files are kept (a restore
 * needs them to follow a failover's timeline switch).
 */
export async function removeSegmentsBefore(walDir: string, first: string): Promise<number> {
  let removed = 0;
  for (const file of await archivedFiles(walDir)) {
    if (!/^[0-9A-F]{24}(\.partial|\.[0-9A-F]{8}\.backup)?$/.test(file)) continue;
    if (file.slice(8, 24) >= first.slice(8, 24)) continue;
    await rm(join(walDir, file), { force: true });
    removed++;
  }
  return removed;
}
