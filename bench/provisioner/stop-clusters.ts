import { execFile } from "node:child_process";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Stops every PostgreSQL server whose data directory (a postmaster.pid's) lies under `dir`. */
export async function stopClustersUnder(
  dir: string,
  bin = process.env.BENCH_PG_BIN ?? "/usr/lib/postgresql/15/bin",
) {
  const entries = await readdir(dir, { recursive: true }).catch(() => [] as string[]);
  for (const entry of entries) {
    if (!entry.endsWith("postmaster.pid")) continue;
    const data = join(dir, entry, "..");
    if (!(await stat(data).catch(() => null))) continue;
    const asUser = process.getuid?.() === 0 ? ["runuser", "-u", "postgres", "--"] : [];
    const args = [join(bin, "pg_ctl"), "stop", "-D", data, "-m", "immediate", "-s"];
    await (asUser.length
      ? run(asUser[0]!, [...asUser.slice(1), ...args])
      : run(args[0]!, args.slice(1))
    ).catch(() => {});
  }
}
