// `pnpm bench scheduler`: dbplane's scheduler (2 replicas) against pg-boss and BullMQ (2
// workers each) given the same jobs on the same PostgreSQL and Redis:
//   burst  — BENCH_JOBS one-shots all due at the same second; rate = jobs / (last fire − due);
//   spread — BENCH_JOBS one-shots due uniformly over 10 s; firing lag p50/p99/max.
// Fire time is when the job reaches its consumer: dbplane's target-stream subscriber, pg-boss's
// and BullMQ's handlers. All in one process tree on one machine, so one clock.
import { startBullmq } from "./bullmq-contender.ts";
import { type BenchJob, type Contender, runScenario, type ScenarioResult } from "./contender.ts";
import { startDbplane } from "./dbplane-contender.ts";
import { startPgBoss } from "./pgboss-contender.ts";

const N = Number(process.env.BENCH_JOBS ?? 50_000);
const SPREAD_MS = 10_000;
const WARMUP = 2_000;

/** At least this lead (ms): on a loaded machine storing slows down after the warm-up batch. */
const MIN_LEAD_MS = Number(process.env.BENCH_MIN_LEAD_MS ?? 0);

/** Lead before the first due time: long enough to store all jobs, measured on a warm-up batch. */
async function leadFor(contender: Contender, tag: string): Promise<number> {
  const started = performance.now();
  const far = Date.now() + 3_600_000;
  await contender.create(Array.from({ length: WARMUP }, (_, i) => ({ id: `${tag}-warm-${i}`, dueAt: far })));
  const perJob = (performance.now() - started) / WARMUP;
  return Math.max(MIN_LEAD_MS, Math.ceil(5_000 + N * perJob * 1.2));
}

const burst =
  (tag: string) =>
  (base: number): BenchJob[] => {
    const due = Math.ceil(base / 1_000) * 1_000;
    return Array.from({ length: N }, (_, i) => ({ id: `${tag}-burst-${i}`, dueAt: due }));
  };
const spread =
  (tag: string) =>
  (base: number): BenchJob[] =>
    Array.from({ length: N }, (_, i) => ({
      id: `${tag}-spread-${i}`,
      dueAt: base + Math.floor((i * SPREAD_MS) / N),
    }));

interface Row {
  readonly name: string;
  readonly burst: ScenarioResult;
  readonly spread: ScenarioResult;
}

async function measure(start: () => Promise<Contender>, tag: string): Promise<Row> {
  const contender = await start();
  try {
    const lead = await leadFor(contender, tag);
    process.stderr.write(`${contender.name}: burst of ${N} (lead ${lead} ms)…\n`);
    const b = await runScenario(contender, burst(tag), lead);
    process.stderr.write(`${contender.name}: spread of ${N} over ${SPREAD_MS / 1000} s…\n`);
    const s = await runScenario(contender, spread(tag), lead);
    for (const [name, r] of [
      ["burst", b],
      ["spread", s],
    ] as const) {
      if (r.createdLateMs > 0)
        process.stderr.write(
          `warning: ${contender.name} ${name}: jobs stored ${r.createdLateMs} ms after the first due time\n`,
        );
    }
    return { name: contender.name, burst: b, spread: s };
  } finally {
    await contender.close();
  }
}

// BENCH_ONLY=dbplane (or pg-boss, BullMQ) runs one contender, for profiling; no figures then.
const only = process.env.BENCH_ONLY?.toLowerCase();
const contenders = [
  [startDbplane, "dbp", "dbplane"],
  [startPgBoss, "pgb", "pg-boss"],
  [startBullmq, "bmq", "bullmq"],
] as const;
const rows: Row[] = [];
for (const [start, tag, name] of contenders) {
  if (!only || only === name) rows.push(await measure(start, tag));
}

const num = (x: number, digits = 0) => (Number.isFinite(x) ? x.toFixed(digits) : "-");
console.log(`scheduler: ${N} jobs per scenario; dbplane 2 replicas, pg-boss 2 instances, BullMQ 2 workers`);
console.log(
  ["", "burst jobs/s", "spread p50 ms", "p99 ms", "max ms", "duplicates", "missed"]
    .map((h, i) => (i === 0 ? h.padEnd(10) : h.padStart(14)))
    .join(""),
);
for (const r of rows) {
  console.log(
    [
      r.name.padEnd(10),
      num(r.burst.ratePerSecond),
      num(r.spread.lagMs.p50),
      num(r.spread.lagMs.p99),
      num(r.spread.lagMs.max),
      String(r.burst.duplicates + r.spread.duplicates),
      String(r.burst.missed + r.spread.missed),
    ]
      .map((c, i) => (i === 0 ? c : c.padStart(14)))
      .join(""),
  );
}
if (only) process.exit(0);
const [dbplane, pgboss, bullmq] = rows as [Row, Row, Row];
console.log(`figure dbplane_rate ${num(dbplane.burst.ratePerSecond)}`);
console.log(`figure dbplane_lag_p99_ms ${num(dbplane.spread.lagMs.p99)}`);
console.log(`figure dbplane_duplicates ${dbplane.burst.duplicates + dbplane.spread.duplicates}`);
console.log(`figure dbplane_missed ${dbplane.burst.missed + dbplane.spread.missed}`);
console.log(`figure pgboss_rate ${num(pgboss.burst.ratePerSecond)}`);
console.log(`figure pgboss_lag_p99_ms ${num(pgboss.spread.lagMs.p99)}`);
console.log(`figure bullmq_rate ${num(bullmq.burst.ratePerSecond)}`);
console.log(`figure bullmq_lag_p99_ms ${num(bullmq.spread.lagMs.p99)}`);
process.exit(0);
