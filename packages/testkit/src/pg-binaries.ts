import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** The newest Debian-installed PostgreSQL, unless DBPLANE_TEST_PG_BIN names a bin directory. */
export function pgBin(): string {
  if (process.env.DBPLANE_TEST_PG_BIN) return process.env.DBPLANE_TEST_PG_BIN;
  const versions = readdirSync("/usr/lib/postgresql", { withFileTypes: true })
    .filter((e) => e.isDirectory() && /^\d+$/.test(e.name))
    .map((e) => Number(e.name))
    .sort((a, b) => b - a);
  if (versions.length === 0)
    throw new Error("no PostgreSQL under /usr/lib/postgresql; set DBPLANE_TEST_PG_BIN");
  return `/usr/lib/postgresql/${versions[0]}/bin`;
}

/** Runs a PostgreSQL binary as the `postgres` user when we are root (PostgreSQL refuses root). */
export async function pgRun(bin: string, args: string[]): Promise<void> {
  const asRoot = process.getuid?.() === 0;
  const [cmd, argv] = asRoot
    ? ["runuser", ["-u", "postgres", "--", join(pgBin(), bin), ...args]]
    : [join(pgBin(), bin), args];
  await run(cmd, argv, { timeout: 60_000 });
}
