// `pnpm bench projections`: the projection-coordinator with the tally test projection (12
// partitions, 1,000 aggregates) on real NATS and PostgreSQL:
//   throughput — one replica applies BENCH_EVENTS pre-published events; events/s between its
//                first and last commit (database clock);
//   rebalance  — 3 replicas under ~5,000 events/s; a 4th joins, BENCH_JOINS times (5; it
//                leaves again between joins). dbplane's incremental rebalancing against a
//                stop-the-world generation scheme (every unit revoked at the join and restarted
//                from its checkpoint; one join), same processes, same settings. A new projection
//                reads the stream from its start, which holds the earlier scenarios' events: the
//                first joins come while the three still catch up (a scale-out because of a
//                backlog), the later ones under the steady load;
//   steady     — incremental, BENCH_STEADY_JOINS joins (3; 0 skips it), only after the three
//                caught up with the stream: the hand-over alone. Figures `steady_*`.
// unmoved_units_paused: units that did not move and stalled during a moved unit's pause (no commit
// in it, and a gap around it longer than any of the unit's in the 5 s before); those merely
// without a commit in a pause shorter than their commit interval: unmoved_units_without_commit.
// Pauses come from the tally projection's `applied` log: the commit time of every event per unit,
// split with the unit_moves log into release (last commit on the old owner → its release),
// acquire (release → acquisition by the joiner) and first commit (acquisition → first commit);
// the joiner's warm-up (before it joined, so outside the pause) comes from its /metrics.
// Knobs: BENCH_EVENTS, BENCH_JOINS, BENCH_STEADY_JOINS; BENCH_SKIP_THROUGHPUT=1 and BENCH_ONLY_INCREMENTAL=1 skip
// scenarios; BENCH_DEBUG=1 prints each moved unit's timeline; BENCH_TRACE=1 runs the replicas at
// debug level and prints, under each moved unit, every replica's hand-over steps during its pause
// (notified, view read, release, acquire, launch — claimed from the read-ahead or not —, every
// reader's start, consumer created, consuming, first message, the unit's first event queued, its
// first transaction begun, checkpoint advanced (with its BEGIN), batch handled, committed), from
// BENCH_TRACE_LEAD_MS (20) before the unit's last commit on the old owner (3000 shows the
// joiner's read-ahead start); BENCH_CPU_PROF=<dir> writes a V8 CPU profile per replica when it exits;
// BENCH_CHECKOUT=<another checkout> runs that checkout's projection-coordinator as the replicas
// (this bench, that code: A/B runs of two branches with the same measuring code).
import { readFileSync } from "node:fs";
import { createBenchWorld } from "./bench-world.ts";
import { percentile, type RebalanceResult, rebalance, throughput } from "./scenarios.ts";

const EVENTS = Number(process.env.BENCH_EVENTS ?? 100_000);
const JOINS = Number(process.env.BENCH_JOINS ?? 5);
const STEADY_JOINS = Number(process.env.BENCH_STEADY_JOINS ?? 3);
const world = await createBenchWorld();
const row = (cells: (string | number | undefined)[]) =>
  cells.map((c, i) => (i === 0 ? String(c ?? "-").padEnd(16) : String(c ?? "-").padStart(16))).join("");
const ms = (v: number | undefined) => (v === undefined ? undefined : Math.round(v));
const p99 = (r: RebalanceResult, pick: (m: RebalanceResult["moved"][number]) => number | undefined) =>
  ms(percentile(r.moved.map(pick), 99));
// Each scenario's figures are printed as it ends, with the load then: a later scenario failing
// (a replica not ready in time on a loaded machine) used to lose every figure of the run.
const load = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
try {
  console.log(`projections: ${EVENTS} events into PostgreSQL, 12 partitions, 1,000 aggregates`);
  if (process.env.BENCH_CHECKOUT) console.log(`replicas run ${process.env.BENCH_CHECKOUT}`);
  process.stderr.write(`throughput: ${EVENTS} events, 1 replica…\n`);
  const rate = process.env.BENCH_SKIP_THROUGHPUT ? 0 : await throughput(world, EVENTS);
  console.log(`throughput: ${Math.round(rate)} events/s, 1 replica (load ${load()})`);
  console.log(`figure events_per_s_per_replica ${Math.round(rate)}`);

  process.stderr.write(`rebalance: incremental, ${JOINS} joins…\n`);
  const incremental = await rebalance(world, "incremental", JOINS);
  summary("incremental", incremental, JOINS);
  console.log("moved units of the incremental joins (ms):");
  console.log(row(["join/unit", "pause", "release", "acquire", "first commit", "warm-up"]));
  for (const m of incremental.moved) {
    console.log(
      row([
        `${m.join + 1}/${m.partition}`,
        ms(m.pauseMs),
        ms(m.releaseMs),
        ms(m.acquireMs),
        ms(m.firstCommitMs),
        ms(incremental.warmUpMs[m.join]),
      ]),
    );
  }
  console.log(`figure moved_unit_pause_ms ${p99(incremental, (m) => m.pauseMs)}`);
  console.log(`figure moved_unit_release_ms ${p99(incremental, (m) => m.releaseMs)}`);
  console.log(`figure moved_unit_acquire_ms ${p99(incremental, (m) => m.acquireMs)}`);
  console.log(`figure moved_unit_first_commit_ms ${p99(incremental, (m) => m.firstCommitMs)}`);
  console.log(`figure joiner_warm_up_ms ${ms(percentile(incremental.warmUpMs, 99))}`);
  console.log(`figure unmoved_units_paused ${incremental.unmovedPaused}`);
  console.log(`figure unmoved_units_without_commit ${incremental.unmovedWithoutCommit}`);
  console.log(`figure moved_unit_pause_total_ms ${ms(incremental.totalPauseMs)}`);

  if (!process.env.BENCH_ONLY_INCREMENTAL) {
    process.stderr.write("rebalance: stop-the-world, 1 join…\n");
    const stopTheWorld = await rebalance(world, "stop-the-world", 1);
    summary("stop-the-world", stopTheWorld, 1);
    console.log(`figure stop_the_world_pause_ms ${p99(stopTheWorld, (m) => m.pauseMs)}`);
    console.log(`figure stop_the_world_pause_total_ms ${ms(stopTheWorld.totalPauseMs)}`);
    // Per join: the incremental figure sums five joins, the stop-the-world one is one join.
    const ratio = incremental.totalPauseMs / JOINS / stopTheWorld.totalPauseMs;
    console.log(`figure pause_total_ratio ${ratio.toFixed(2)}`);
  }

  if (STEADY_JOINS > 0) {
    process.stderr.write(`rebalance: incremental, caught up, ${STEADY_JOINS} joins…\n`);
    const steady = await rebalance(world, "incremental", STEADY_JOINS, { steady: true });
    summary("steady", steady, STEADY_JOINS);
    console.log(`figure steady_moved_unit_pause_ms ${p99(steady, (m) => m.pauseMs)}`);
    console.log(`figure steady_moved_unit_first_commit_ms ${p99(steady, (m) => m.firstCommitMs)}`);
    console.log(`figure steady_unmoved_units_paused ${steady.unmovedPaused}`);
    console.log(`figure steady_unmoved_units_without_commit ${steady.unmovedWithoutCommit}`);
  }
} finally {
  await world.close();
}
process.exit(0);

function summary(name: string, r: RebalanceResult, joins: number): void {
  console.log(`\n${name} (load ${load()})`);
  console.log(row(["", "joins", "moved units", "p99 pause ms", "sum pause ms", "unmoved paused"]));
  console.log(
    row([name, joins, r.moved.length, p99(r, (m) => m.pauseMs), ms(r.totalPauseMs), r.unmovedPaused]),
  );
}
