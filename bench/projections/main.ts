// `pnpm bench projections`: the projection-coordinator with the tally test projection (12
// partitions, 1,000 aggregates) on real NATS and PostgreSQL:
//   throughput — one replica applies BENCH_EVENTS pre-published events; events/s between its
//                first and last commit (database clock);
//   rebalance  — 3 replicas under a steady ~5,000 events/s; a 4th joins. dbplane's incremental
//                rebalancing against a stop-the-world generation scheme (every unit revoked at the
//                join and restarted from its checkpoint), same processes, same settings.
// Pauses come from the tally projection's `applied` log: the commit time of every event per unit.
// Knobs: BENCH_EVENTS; BENCH_SKIP_THROUGHPUT=1 and BENCH_ONLY_INCREMENTAL=1 skip scenarios;
// BENCH_DEBUG=1 prints each moved unit's timeline (last commit, release, acquisition, first commit).
import { createBenchWorld } from "./bench-world.ts";
import { rebalance, throughput } from "./scenarios.ts";

const EVENTS = Number(process.env.BENCH_EVENTS ?? 100_000);
const world = await createBenchWorld();
try {
  process.stderr.write(`throughput: ${EVENTS} events, 1 replica…\n`);
  const rate = process.env.BENCH_SKIP_THROUGHPUT ? 0 : await throughput(world, EVENTS);
  process.stderr.write("rebalance: incremental…\n");
  const incremental = await rebalance(world, "incremental");
  process.stderr.write("rebalance: stop-the-world…\n");
  const stopTheWorld = process.env.BENCH_ONLY_INCREMENTAL
    ? incremental
    : await rebalance(world, "stop-the-world");

  const row = (cells: (string | number)[]) =>
    cells.map((c, i) => (i === 0 ? String(c).padEnd(16) : String(c).padStart(16))).join("");
  console.log(`projections: ${EVENTS} events into PostgreSQL, 12 partitions, 1,000 aggregates`);
  console.log(row(["", "events/s", "paused units", "max pause ms", "sum pause ms", "unmoved paused"]));
  console.log(row(["1 replica", Math.round(rate), "-", "-", "-", "-"]));
  for (const [name, r] of [
    ["incremental", incremental],
    ["stop-the-world", stopTheWorld],
  ] as const) {
    console.log(row([name, "-", r.movedUnits, r.movedPauseMs, r.totalPauseMs, r.unmovedPaused]));
  }
  console.log(`figure events_per_s_per_replica ${Math.round(rate)}`);
  console.log(`figure moved_unit_pause_ms ${incremental.movedPauseMs}`);
  console.log(`figure unmoved_units_paused ${incremental.unmovedPaused}`);
  console.log(`figure stop_the_world_pause_ms ${stopTheWorld.movedPauseMs}`);
  console.log(`figure moved_unit_pause_total_ms ${incremental.totalPauseMs}`);
  console.log(`figure stop_the_world_pause_total_ms ${stopTheWorld.totalPauseMs}`);
  console.log(
    `figure pause_total_ratio ${(incremental.totalPauseMs / stopTheWorld.totalPauseMs).toFixed(2)}`,
  );
} finally {
  await world.close();
}
process.exit(0);
