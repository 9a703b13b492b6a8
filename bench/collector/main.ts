// `pnpm bench collector`: how many targets one collector replica can keep at a 15 s interval
// within one core, against a plain loop running the same queries on the same targets; the
// wall time of one scrape (p99, the cost a scrape puts on the monitored server's time); and how
// many targets move when a fourth replica joins three.
//   BENCH_TARGETS (default 500) targets over BENCH_DATABASES (default 50) local PostgreSQL databases.
import { setTimeout as sleep } from "node:timers/promises";
import { baselineCpuPerCollection } from "./baseline.ts";
import { collectionsOf, cpuSecondsOf, createFleet, ownersOf, scrapeDurations, waitFor } from "./fleet.ts";

const TARGETS = Number(process.env.BENCH_TARGETS ?? 500);
const DATABASES = Number(process.env.BENCH_DATABASES ?? 50);
const WINDOW_MS = Number(process.env.BENCH_WINDOW_MS ?? 20_000);
const INTERVAL_MS = 2_000;
const CONCURRENCY = 16;
const MAX_OPEN = 64;

const p99 = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length * 0.99)] ?? Number.NaN;

async function throughput(fleet: Awaited<ReturnType<typeof createFleet>>) {
  const { svc, base } = await fleet.startCollector({
    DBPLANE_COLLECTOR_INTERVAL_MS: String(INTERVAL_MS),
    DBPLANE_COLLECTOR_CONCURRENCY: String(CONCURRENCY),
    DBPLANE_COLLECTOR_MAX_OPEN_TARGETS: String(MAX_OPEN),
  });
  await waitFor(async () => (await collectionsOf(base)) >= TARGETS * 2, {
    timeoutMs: 120_000,
    what: "warm-up",
  });
  const pid = svc.process.pid!;
  const [cpu0, n0] = [cpuSecondsOf(pid), await collectionsOf(base)];
  const durations: number[] = [];
  for (let waited = 0; waited < WINDOW_MS; waited += INTERVAL_MS) {
    await sleep(INTERVAL_MS);
    durations.push(...(await scrapeDurations(base)));
  }
  const [cpu1, n1] = [cpuSecondsOf(pid), await collectionsOf(base)];
  await svc.dispose();
  return {
    cpuPerCollection: (cpu1 - cpu0) / (n1 - n0),
    collections: n1 - n0,
    perSecond: (n1 - n0) / (WINDOW_MS / 1000),
    scrapeP99: p99(durations),
  };
}

async function movedOnJoin(fleet: Awaited<ReturnType<typeof createFleet>>) {
  const env = { DBPLANE_COLLECTOR_INTERVAL_MS: "15000", DBPLANE_COLLECTOR_MAX_OPEN_TARGETS: "16" };
  const members = [];
  for (let i = 0; i < 3; i++) members.push(await fleet.startCollector(env));
  const base = members[0]!.base;
  const settled = (n: number) =>
    waitFor(
      async () => {
        const owners = await ownersOf(base);
        return owners.size === TARGETS && new Set(owners.values()).size === n ? owners : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200, what: `${n} members sharing the targets` },
    );
  const before = await settled(3);
  await fleet.startCollector(env);
  const after = await settled(4);
  return [...after].filter(([id, owner]) => before.get(id) !== owner).length / TARGETS;
}

const fleet = await createFleet(DATABASES, TARGETS);
try {
  process.stderr.write(`collector: one replica, ${TARGETS} targets every ${INTERVAL_MS} ms…\n`);
  const collector = await throughput(fleet);
  process.stderr.write(`baseline: plain loop, same queries, same targets…\n`);
  const baseline = await baselineCpuPerCollection(fleet.targets, 2, CONCURRENCY, MAX_OPEN);
  process.stderr.write(`join: 3 replicas, then a fourth…\n`);
  const moved = await movedOnJoin(fleet);
  const perReplica = Math.floor(15 / collector.cpuPerCollection);
  const baselinePerCore = Math.floor(15 / baseline.cpuPerCollection);
  const rows = [
    ["", "collections", "CPU ms / collection", "targets per core at 15 s"],
    [
      "collector (1 replica)",
      collector.collections,
      (collector.cpuPerCollection * 1000).toFixed(2),
      perReplica,
    ],
    ["plain loop", baseline.collections, (baseline.cpuPerCollection * 1000).toFixed(2), baselinePerCore],
  ];
  for (const row of rows) process.stdout.write(`${row.map((c) => String(c).padEnd(26)).join("")}\n`);
  process.stdout.write(
    `scrape p99: ${collector.scrapeP99.toFixed(1)} ms; moved on join (3 → 4): ${(moved * 100).toFixed(1)}%\n`,
  );
  process.stdout.write(`figure targets_per_replica ${perReplica}\n`);
  // Wall-bound: the local PostgreSQL shares the same 2 cores, and a target beyond the connection
  // budget reconnects (a backend fork) on every collection.
  process.stdout.write(`figure achieved_collections_per_second ${collector.perSecond.toFixed(1)}\n`);
  process.stdout.write(`figure baseline_targets_per_core ${baselinePerCore}\n`);
  process.stdout.write(
    `figure collector_vs_baseline_ratio ${(baseline.cpuPerCollection / collector.cpuPerCollection).toFixed(2)}\n`,
  );
  process.stdout.write(`figure scrape_ms_p99 ${collector.scrapeP99.toFixed(1)}\n`);
  process.stdout.write(`figure moved_on_join_ratio ${moved.toFixed(3)}\n`);
} finally {
  await fleet.close();
}
