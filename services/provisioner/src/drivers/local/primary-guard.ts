import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { exists } from "./cluster-files.ts";
import { isRunning, type ServerContext } from "./local-server.ts";
import { isFenced } from "./shard-leader.ts";

const serverDir = /^(primary|replica-\d+)$/;

/**
 * A shard's primary that is down while one of its replicas runs: it crashed (or was killed), and
 * the failover watcher — not a reconcile pass or a backup — decides what happens next. Starting it
 * again inside the failover grace would bring it back beside a replica that may be promoted a
 * moment later, or hide the crash so that no failover happens at all.
 */
export class PrimaryDownError extends Error {
  override readonly name = "PrimaryDownError";
  readonly code = "primary-down";
}

/**
 * Throws `PrimaryDownError` when `server` (the shard's leader) has a data directory, is not
 * running, and another unfenced server of the shard runs. A shard whose servers are all stopped
 * (a machine restart) or that has no replica gets its primary started as before.
 */
export async function assertPrimaryMayStart(shardDir: string, server: string, ctx: ServerContext) {
  const dataDir = join(shardDir, server);
  if (!(await exists(dataDir)) || (await isRunning(dataDir, ctx))) return;
  for (const other of await readdir(shardDir)) {
    if (other === server || !serverDir.test(other) || (await isFenced(shardDir, other))) continue;
    if (await isRunning(join(shardDir, other), ctx)) {
      throw new PrimaryDownError(
        `${dataDir}, the shard's primary, is down while ${other} runs: left to the failover watcher`,
      );
    }
  }
}
