import { readFile, rename } from "node:fs/promises";
import { join } from "node:path";
import { exists, writeOwned } from "./cluster-files.ts";
import type { ServerUser } from "./server-user.ts";
import { shardBackupDirs } from "./wal-archive.ts";

/**
 * A shard's superuser password kept beside its backups: a base backup opens only with the
 * password its pg_authid holds, and a deleted database's shard directory (the live copy) is gone.
 * Stored as the live one is: a 0600 file of the server user, never logged.
 */
const keptPasswordPath = (root: string, database: string, shard: number) =>
  join(shardBackupDirs(root, database, shard).dir, "password");

/** Keeps `password` for the shard's backups (when its backup directory exists); idempotent. */
export async function keepPassword(
  root: string,
  database: string,
  shard: number,
  password: string,
  user: ServerUser,
): Promise<void> {
  const path = keptPasswordPath(root, database, shard);
  if (!(await exists(shardBackupDirs(root, database, shard).dir))) return;
  if ((await keptPassword(root, database, shard)) === password) return;
  await writeOwned(`${path}.new`, `${password}\n`, user);
  await rename(`${path}.new`, path);
}

/** The password kept for the shard's backups, or undefined when none was. */
export async function keptPassword(
  root: string,
  database: string,
  shard: number,
): Promise<string | undefined> {
  const path = keptPasswordPath(root, database, shard);
  if (!(await exists(path))) return undefined;
  return (await readFile(path, "utf8")).trim() || undefined;
}
