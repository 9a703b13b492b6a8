import { appendFileSync } from "node:fs";

/** One job of a scenario: fire at `dueAt` (ms since the epoch). */
export interface BenchJob {
  readonly id: string;
  readonly dueAt: number;
}

/** What a scheduler under test must do; every contender is given the same jobs. */
export interface Contender {
  readonly name: string;
  /** Makes the jobs known to the scheduler; returns when they are all stored. */
  create(jobs: readonly BenchJob[]): Promise<void>;
  /** When each job was first seen fired (ms), and how many extra firings were seen. */
  fired(): { readonly first: ReadonlyMap<string, number>; readonly duplicates: number };
  close(): Promise<void>;
  /** Says where the jobs not seen fired are (called when a scenario gives up waiting for them). */
  diagnose?(): Promise<string>;
  /** Resolves once the previous scenario's work is done (runs recorded); called before storing. */
  settle?(): Promise<void>;
}

export interface ScenarioResult {
  readonly jobs: number;
  readonly fired: number;
  readonly duplicates: number;
  readonly missed: number;
  /** Burst: jobs / (last fire − due time). */
  readonly ratePerSecond: number;
  readonly lagMs: { readonly p50: number; readonly p99: number; readonly max: number };
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/**
 * Runs one scenario: creates the jobs (due after a lead long enough to store them all), waits
 * until every job fired or nothing new fired for `quietMs`, and measures.
 */
export async function runScenario(
  contender: Contender,
  makeJobs: (base: number) => BenchJob[],
  leadMs: number,
  quietMs = 15_000,
): Promise<ScenarioResult & { createdLateMs: number }> {
  // A scenario starts once the previous one's work is over: a burst's runs still being recorded
  // when the spread was stored (in 5 s through the batch API, with a lead to match) slowed the
  // storing past the first due time and put the burst's tail into the spread's.
  await contender.settle?.();
  const firedBefore = contender.fired().first.size;
  const base = Date.now() + leadMs;
  const jobs = makeJobs(base);
  const createStart = performance.now();
  await contender.create(jobs);
  process.stderr.write(
    `  stored ${jobs.length} jobs in ${((performance.now() - createStart) / 1000).toFixed(1)} s\n`,
  );
  const createdLateMs = Math.max(0, Date.now() - base);
  // Only this scenario's jobs count: a late firing of an earlier scenario's job (one that stalled
  // past its quiet period) made this one end early, its own jobs reported missed.
  const lastDue = Math.max(...jobs.map((j) => j.dueAt));
  let seen = -1;
  let quietSince = Date.now();
  for (;;) {
    // Counted from the map's size, and job by job only once it could be complete: going
    // through 50,000 ids every 100 ms blocked this process (where the fired jobs are received
    // and timed) for 3–25 ms each time, and that showed in every contender's lag.
    const { first } = contender.fired();
    let n = first.size - firedBefore;
    if (n >= jobs.length) {
      n = 0;
      for (const job of jobs) if (first.has(job.id)) n++;
      if (n === jobs.length) break;
    }
    if (n !== seen) {
      seen = n;
      quietSince = Date.now();
    } else if (Date.now() - Math.max(quietSince, lastDue) > quietMs) {
      // Quiet counts from the last due time too: counted from the last firing alone, a lead
      // that outlasted the storing by more than quietMs ended the scenario the moment its jobs
      // came due, before any could fire (a burst's all missed, its rate taken from one second).
      if (contender.diagnose)
        process.stderr.write(
          `${contender.name}: ${jobs.length - n} jobs not seen fired after ${quietMs} ms quiet; ${await contender.diagnose()}\n`,
        );
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  // Give late duplicates a moment to show.
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const { first, duplicates } = contender.fired();
  const lags: number[] = [];
  let lastFire = 0;
  for (const job of jobs) {
    const at = first.get(job.id);
    if (at === undefined) continue;
    lags.push(at - job.dueAt);
    lastFire = Math.max(lastFire, at);
  }
  if (process.env.BENCH_LAG_DUMP) {
    // One line per fired job, "<due ms> <lag ms>", to see when the slow ones happened.
    const lines = jobs.flatMap((j) => (first.has(j.id) ? [`${j.dueAt} ${first.get(j.id)! - j.dueAt}`] : []));
    appendFileSync(process.env.BENCH_LAG_DUMP, `${lines.join("\n")}\n`);
  }
  lags.sort((a, b) => a - b);
  const firstDue = Math.min(...jobs.map((j) => j.dueAt));
  return {
    jobs: jobs.length,
    fired: lags.length,
    duplicates,
    missed: jobs.length - lags.length,
    ratePerSecond: lags.length / (Math.max(1, lastFire - firstDue) / 1000),
    lagMs: { p50: percentile(lags, 50), p99: percentile(lags, 99), max: lags.at(-1) ?? Number.NaN },
    createdLateMs,
  };
}
