import { readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { discardPartial, exists, ownedDir, SUPERUSER } from "./cluster-files.ts";
import type { ServerContext } from "./local-server.ts";
import { runProgram } from "./run-program.ts";

/** A finished base backup: its directory, its size, and the WAL it needs to be consistent. */
export interface BaseBackup {
  readonly location: string;
  readonly bytes: number;
  readonly startLsn: string;
  readonly stopLsn: string;
}

/**
 * A physical base backup of a shard's primary into `<baseDir>/<backupId>`: `pg_basebackup -Ft`
 * (base.tar, pg_wal.tar with the WAL streamed during the copy, backup_manifest), labelled with
 * the backup id. Written as `<id>.tmp` and renamed when complete, so a repeat after a crash
 * starts over and a repeat after success finds the finished backup and reads it again.
 */
export async function takeBaseBackup(
  baseDir: string,
  backupId: string,
  primaryPort: number,
  ctx: ServerContext,
): Promise<BaseBackup> {
  const location = join(baseDir, backupId);
  if (!(await exists(location))) {
    const tmp = `${location}.tmp`;
    await discardPartial(tmp);
    await ownedDir(tmp, ctx.user);
    await runProgram(
      ctx.bins.path("pg_basebackup"),
      ["-D", tmp, "-Ft", "-X", "stream", "-c", "fast", "-l", backupId, "-w"].concat([
        "-h",
        "127.0.0.1",
        "-p",
        String(primaryPort),
        "-U",
        SUPERUSER,
      ]),
      {
        user: ctx.user,
        password: ctx.password,
        tlsCa: ctx.ca?.certPath,
        timeoutMs: 3_600_000,
        pidFile: `${tmp}.pid`,
      },
    );
    await rename(tmp, location);
  }
  return describeBaseBackup(location);
}

/** Size and WAL range of a base backup, from its files and its backup_manifest. */
export async function describeBaseBackup(location: string): Promise<BaseBackup> {
  let bytes = 0;
  for (const file of await readdir(location)) bytes += (await stat(join(location, file))).size;
  const manifest = JSON.parse(await readFile(join(location, "backup_manifest"), "utf8")) as {
    "WAL-Ranges"?: { "Start-LSN": string; "End-LSN": string }[];
  };
  const ranges = manifest["WAL-Ranges"] ?? [];
  const first = ranges[0];
  const last = ranges.at(-1);
  if (!first || !last) throw new Error(`${location}/backup_manifest names no WAL range`);
  return { location, bytes, startLsn: first["Start-LSN"], stopLsn: last["End-LSN"] };
}

/** The first WAL segment a base backup needs (from its backup_label); older ones serve no kept backup. */
export async function firstSegmentOf(location: string, ctx: Pick<ServerContext, "user">): Promise<string> {
  const label = await runProgram("tar", ["-xOf", join(location, "base.tar"), "backup_label"], {
    user: ctx.user,
    timeoutMs: 600_000,
  });
  const match = /^START WAL LOCATION: \S+ \(file ([0-9A-F]{24})\)$/m.exec(label);
  if (!match?.[1]) throw new Error(`${location}/base.tar has no backup_label naming its first segment`);
  return match[1];
}

/** Deletes a base backup's directory (retention). */
export async function deleteBaseBackup(location: string): Promise<void> {
  await rm(location, { recursive: true, force: true, maxRetries: 5 });
}
