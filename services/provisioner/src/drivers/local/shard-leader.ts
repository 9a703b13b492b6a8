import { readdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { exists } from "./cluster-files.ts";

/**
 * Which server of a shard directory is its primary. `primary` until a failover promotes a
 * replica; then the `leader` file names the promoted one (e.g. `replica-1`). Kept beside the
 * servers, like everything else of the local driver, so a restarted provisioner (or another
 * replica of it) reads the same answer.
 */
export async function leaderOf(shardDir: string): Promise<string> {
  const file = join(shardDir, "leader");
  if (!(await exists(file))) return "primary";
  return (await readFile(file, "utf8")).trim() || "primary";
}

/** Names `server` the shard's primary; atomic (a crash leaves the old name or the new one). */
export async function recordLeader(shardDir: string, server: string): Promise<void> {
  const file = join(shardDir, "leader");
  await writeFile(`${file}.new`, `${server}\n`, { mode: 0o644 });
  await rename(`${file}.new`, file);
}

/**
 * A fenced server was a primary that a failover replaced: it must never run as a primary again,
 * so nothing of the driver starts it (it stays stopped until it is re-joined as a replica). The
 * marker is written before the new primary is promoted.
 */
export const fenceMarker = (shardDir: string, server: string) => join(shardDir, `${server}.fenced`);

export async function fence(shardDir: string, server: string, reason: string): Promise<void> {
  await writeFile(fenceMarker(shardDir, server), `${new Date().toISOString()} ${reason}\n`, { mode: 0o644 });
}

export function isFenced(shardDir: string, server: string): Promise<boolean> {
  return exists(fenceMarker(shardDir, server));
}

/** The servers of a shard directory that carry a fence marker. */
export async function fencedServers(shardDir: string): Promise<string[]> {
  return (await readdir(shardDir))
    .filter((e) => e.endsWith(".fenced"))
    .map((e) => e.slice(0, -".fenced".length));
}
