import { readFile } from "node:fs/promises";

/** CPU time a process has used so far, in ms (Linux /proc; NaN elsewhere). */
export interface ProcessCpu {
  readonly user: number;
  readonly system: number;
}

/** User and system CPU time process `pid` has used so far, in ms. */
export async function processCpu(pid: number): Promise<ProcessCpu> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime, in clock ticks (USER_HZ = 100).
  return { user: Number(fields[11]) * 10, system: Number(fields[12]) * 10 };
}

/** CPU time (user + system) process `pid` has used so far, in ms. */
export async function processCpuMs(pid: number): Promise<number> {
  const { user, system } = await processCpu(pid);
  return user + system;
}
