// Runs PostgreSQL's own pgbench (the client binary from postgresql-client) and reads its figures:
// tps from its summary, the median latency from its per-transaction log (`--log`), since the
// summary gives only the average.

import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export const PGBENCH_MODES = ["simple", "extended", "prepared"] as const;
export type PgbenchMode = (typeof PGBENCH_MODES)[number];

export interface PgbenchRun {
  /** A libpq connection URI without the password (pgbench expands it as its dbname). */
  readonly url: string;
  /** Passed as PGPASSWORD, so it stays out of the process list. */
  readonly password?: string;
  readonly mode: PgbenchMode;
  readonly seconds: number;
  readonly clients: number;
  readonly threads: number;
  /** Extra pgbench options; the select-only built-in script by default. */
  readonly script?: readonly string[];
}

export interface PgbenchResult {
  readonly tps: number;
  readonly transactions: number;
  readonly failed: number;
  readonly latencyAvgMs: number;
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
}

/** `pgbench -i` (quiet) of `scale` into the database at `url`. */
export async function initPgbench(url: string, scale: number): Promise<void> {
  await run("pgbench", ["-i", "-q", "-s", String(scale), url], { maxBuffer: 16 * 1024 * 1024 });
}

/** One timed pgbench run; throws with pgbench's output when it exits non-zero. */
export async function runPgbench(o: PgbenchRun): Promise<PgbenchResult> {
  const dir = await mkdtemp(join(tmpdir(), "bench-pgbench-"));
  try {
    const args = [
      ...(o.script ?? ["-S"]),
      "-n", // no VACUUM before the run: the same for every target, and a pooler may not pass it
      `-M${o.mode}`,
      `-c${o.clients}`,
      `-j${o.threads}`,
      `-T${o.seconds}`,
      "--log",
      `--log-prefix=${join(dir, "tx")}`,
      o.url,
    ];
    let stdout: string;
    try {
      ({ stdout } = await run("pgbench", args, {
        maxBuffer: 16 * 1024 * 1024,
        cwd: dir,
        env: { ...process.env, ...(o.password !== undefined && { PGPASSWORD: o.password }) },
      }));
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      throw new Error(`pgbench ${o.mode} failed: ${e.message}\n${e.stdout ?? ""}${e.stderr ?? ""}`, {
        cause: err,
      });
    }
    const latencies = await readLatencies(dir);
    const pct = (p: number) =>
      latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? NaN;
    return {
      tps: figure(stdout, /^tps = ([\d.]+) \(without initial connection time\)/m),
      transactions: figure(stdout, /^number of transactions actually processed: (\d+)/m),
      failed: figure(stdout, /^number of failed transactions: (\d+)/m, 0),
      latencyAvgMs: figure(stdout, /^latency average = ([\d.]+) ms/m),
      latencyP50Ms: pct(0.5),
      latencyP99Ms: pct(0.99),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function figure(stdout: string, pattern: RegExp, absent?: number): number {
  const match = pattern.exec(stdout);
  if (match) return Number(match[1]);
  if (absent !== undefined) return absent;
  throw new Error(`pgbench output has no ${pattern}:\n${stdout}`);
}

/**
 * Every logged transaction's latency in ms, sorted. A log line is `client tx_no time_us script
 * epoch_s epoch_us` (one file per thread).
 */
async function readLatencies(dir: string): Promise<number[]> {
  const latencies: number[] = [];
  for (const name of await readdir(dir)) {
    if (!name.startsWith("tx.")) continue;
    for (const line of (await readFile(join(dir, name), "utf8")).split("\n")) {
      const fields = line.split(" ");
      if (fields.length >= 6) latencies.push(Number(fields[2]) / 1000);
    }
  }
  return latencies.sort((a, b) => a - b);
}
