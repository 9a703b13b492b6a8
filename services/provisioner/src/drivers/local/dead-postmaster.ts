import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";

/**
 * The pid a data directory's `postmaster.pid` names, if any. Its first line is the postmaster's.
 */
export async function postmasterPidOf(dataDir: string): Promise<number | undefined> {
  const text = await readFile(join(dataDir, "postmaster.pid"), "utf8").catch(() => undefined);
  const pid = Number(text?.split("\n")[0]);
  return Number.isInteger(pid) && pid > 1 ? pid : undefined;
}

/**
 * Whether `pid` is a zombie: killed, but not yet reaped by its parent. A postmaster started by
 * `pg_ctl` is re-parented to PID 1, and not every init reaps at once (a container's or a VM's
 * minimal one may never): `kill(pid, 0)` — what `pg_ctl status` and PostgreSQL's own lock-file
 * check ask — still succeeds for it, so a killed server would look alive for ever. Linux only
 * (`/proc`); elsewhere false.
 */
export async function isZombie(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  // `pid (comm) S …`: the state follows the last ")" (comm may contain one).
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "Z";
}

/**
 * Whether the postmaster a data directory's `postmaster.pid` names is certainly dead: the file is
 * there (a clean stop removes it, so this is a crash) and its pid is gone (`kill(pid, 0)` →
 * ESRCH) or a zombie. The same test PostgreSQL applies to a stale lock file, and it holds because
 * the local driver starts its servers on this host, in this pid namespace. Any doubt — no file, a
 * live pid (even one reused by another process), EPERM — is not "dead": the caller waits out its
 * grace then.
 */
export async function postmasterDead(dataDir: string): Promise<boolean> {
  const pid = await postmasterPidOf(dataDir);
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ESRCH";
  }
  return isZombie(pid);
}

/** Removes the `postmaster.pid` of a dead (zombie) postmaster, so a program may take the directory. */
export async function clearZombieLock(dataDir: string): Promise<void> {
  const pid = await postmasterPidOf(dataDir);
  if (pid !== undefined && (await isZombie(pid))) await rm(join(dataDir, "postmaster.pid"), { force: true });
}
