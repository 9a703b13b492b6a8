// `pnpm bench reshard`: an online split of a shard holding BENCH_RESHARD_ROWS rows (default
// 1,000,000: half in `orders`, half in `accounts`, both sharded, plus the unsharded `countries`)
// onto an empty shard, under a steady keyed write load through two router replicas, on private
// PostgreSQL servers (wal_level=logical). The baseline for the copy: `COPY … TO STDOUT | COPY …
// FROM STDIN` of the same range between the same servers, in the same run, before the split and
// under the same write load.
//
// Figures: the time writes waited at the fences, the copy's rate and its ratio to the pipe's,
// and the rows lost and duplicated against the writer's model.
import { type ActivityCount, sampleActivity } from "./activity-sampler.ts";
import { timeCopyPipe } from "./copy-pipe.ts";
import { watchCopyStates } from "./copy-states.ts";
import { watchFences } from "./fence-windows.ts";
import { startKeyedWriter } from "./keyed-writer.ts";
import { followReshard } from "./reshard-follow.ts";
import { routerTimeline } from "./router-timeline.ts";
import { checkRows } from "./rows-check.ts";
import { createShopTables, loadShop, medianOfOrders } from "./shop-data.ts";
import { createSplitWorld, DB } from "./split-world.ts";
import { setSubscriptionSyncCommit } from "./what-if-sync-commit.ts";
import { heldByFences, latencyStats, startedBetween } from "./write-latency.ts";

const ROWS = Number(process.env.BENCH_RESHARD_ROWS ?? 1_000_000);
const WRITERS = Number(process.env.BENCH_RESHARD_WRITERS ?? 8);
const WRITE_RATE = Number(process.env.BENCH_RESHARD_WRITE_RATE ?? 200);
/** The routers' DBPLANE_ROUTER_RESHARD_POLL_MS; unset: the router's default. */
const POLL_MS = process.env.BENCH_RESHARD_POLL_MS;
const WARM_UP_MS = 1_000;
const BASELINE_MS = 3_000;
/** A what-if: the subscription's synchronous_commit, set by the bench (what-if-sync-commit.ts). */
const WHATIF_SYNC_COMMIT = process.env.BENCH_RESHARD_WHATIF_SUB_SYNC_COMMIT;
const PIPE_ROUNDS = Number(process.env.BENCH_RESHARD_PIPE_ROUNDS ?? 3);
const AFTER_MS = 2_000;

const log = (line: string) => process.stderr.write(`[reshard bench] ${line}\n`);
const secondsSince = (t: number) => ((performance.now() - t) / 1000).toFixed(1);

const w = await createSplitWorld({
  shards: 2,
  routers: 2,
  env: POLL_MS === undefined ? {} : { DBPLANE_ROUTER_RESHARD_POLL_MS: POLL_MS },
});
try {
  await w.announce(1);
  await createShopTables(w);
  const t = performance.now();
  const data = await loadShop(w.pools[0]!, ROWS);
  log(`loaded ${ROWS} rows on shard 0 in ${secondsSince(t)} s`);
  // Shard 1 joins owning no range (the router applies the migrations to it).
  await w.announce(2);

  // The split point is fixed here, so the pipe and the split move exactly the same rows.
  const at = await medianOfOrders(w.pools[0]!);
  const fences = await watchFences(w.bus, DB);
  const writer = startKeyedWriter({
    bases: w.routers.map((r) => r.base),
    token: w.token,
    database: DB,
    orders: data.orders,
    workers: WRITERS,
    ratePerS: WRITE_RATE,
  });
  // Connections and JIT warm up first.
  await new Promise((resolve) => setTimeout(resolve, WARM_UP_MS));

  // The pipe runs under the same write load as the split's copy will.
  const pipe = await timeCopyPipe(
    w.urls[0]!,
    w.urls[1]!,
    [
      { table: "orders", where: `WHERE hashint8extended(id, 0) >= '${at}'::bigint` },
      { table: "accounts", where: `WHERE hashtextextended(name, 0) >= '${at}'::bigint` },
      { table: "countries", where: "" },
    ],
    PIPE_ROUNDS,
  );
  log(`pipe copied ${pipe.rows} rows in ${pipe.roundsMs.map((ms) => (ms / 1000).toFixed(2)).join(", ")} s`);
  // The baseline: writes after the pipe, before the split.
  const writeStart = Date.now();
  await new Promise((resolve) => setTimeout(resolve, BASELINE_MS));

  const splitStart = Date.now();
  const started = await w.call("POST", `/v1/databases/${DB}/splits`, {
    shard: 0,
    at: at.toString(),
    toShard: 1,
  });
  if (started.status !== 202)
    throw new Error(`POST splits: ${started.status} ${JSON.stringify(started.body)}`);
  log(`split ${started.body.id} started`);
  const follow = followReshard(
    () => w.call("GET", `/v1/databases/${DB}/reshards/${started.body.id}`),
    { phase: started.body.phase, at: splitStart },
    100,
    Math.max(600_000, ROWS / 50),
  );
  const whatIf =
    WHATIF_SYNC_COMMIT === undefined ? undefined : setSubscriptionSyncCommit(w.pools[1]!, WHATIF_SYNC_COMMIT);
  const copy = watchCopyStates(w.pools[1]!, 100);
  const activity = sampleActivity(
    [
      { name: "source", pool: w.pools[0]! },
      { name: "target", pool: w.pools[1]! },
    ],
    follow.current,
    250,
  );
  const { reshard, endedAt } = await follow.ended;
  await whatIf;
  log(`split completed in ${((endedAt - splitStart) / 1000).toFixed(1)} s`);
  await Promise.all([copy.stop(), activity.stop()]);
  await new Promise((resolve) => setTimeout(resolve, AFTER_MS));
  await writer.stop();
  const writeEnd = Date.now();
  fences.stop();

  const map = (await w.call("GET", `/v1/databases/${DB}/shards`)).body;
  const rows = await checkRows(w.pools, map.shards, writer.model, {
    accounts: data.accounts,
    countries: data.countries,
    target: 1,
  });

  // ------------------------------------------------------------------ figures
  const marks = follow.marks;
  const phases = marks.map((m, i) => ({
    phase: m.phase,
    ms: (marks[i + 1]?.at ?? endedAt) - m.at,
  }));
  const phaseMs = (name: string) => phases.find((p) => p.phase === name)?.ms ?? 0;
  const copyMs = phaseMs("copying");
  const rowsCopied: number = reshard.progress.rowsCopied;
  const rowsPerS = copyMs > 0 ? (rowsCopied / copyMs) * 1000 : 0;
  const pipeRowsPerS = (pipe.rows / pipe.ms) * 1000;
  const copyTables = copy.tables();
  const copyProperMs = copy.enabledAt() - copy.subscribedAt();

  const windows = fences.windows();
  const baseline = latencyStats(startedBetween(writer.samples, writeStart, splitStart));
  const during = latencyStats(startedBetween(writer.samples, splitStart, endedAt));
  const after = latencyStats(startedBetween(writer.samples, endedAt, writeEnd));
  const held = latencyStats(heldByFences(writer.samples, windows));

  const fmt = (x: number, d = 1) => x.toFixed(d);
  const pad = (s: string | number, n: number) => String(s).padStart(n);
  const out: string[] = [];
  out.push(
    `online split of shard 0 (${ROWS} rows: ${data.orders} orders, ${data.accounts} accounts, ${data.countries} countries) onto empty shard 1,`,
    `2 router replicas, writer ${WRITERS} workers at ${WRITE_RATE} writes/s (HTTP, keyed orders insert/update/delete),`,
    ...(WHATIF_SYNC_COMMIT === undefined
      ? []
      : [
          `WHAT-IF: the bench set the subscription's synchronous_commit = ${WHATIF_SYNC_COMMIT} (the router leaves PostgreSQL's default, off)`,
        ]),
    `reshard poll ${POLL_MS ?? "router default"} ms; moved range from ${reshard.moved.from}, ${rowsCopied} rows copied of ${reshard.progress.rowsTotal}`,
    "",
    `${"phase".padEnd(14)}${pad("seconds", 9)}`,
    ...phases.map((p) => `${p.phase.padEnd(14)}${pad(fmt(p.ms / 1000, 2), 9)}`),
    `${"total".padEnd(14)}${pad(fmt((endedAt - splitStart) / 1000, 2), 9)}`,
    "",
    "initial copy on the target (the move's COPY FROM in pg_stat_progress_copy, polled every 100 ms; s from the subscription's creation, which comes with the slot):",
    ...copyTables.map(
      (tb) =>
        `  ${tb.table.padEnd(10)} COPY seen ${fmt((tb.from - copy.subscribedAt()) / 1000, 1)}–${fmt((tb.to - copy.subscribedAt()) / 1000, 1)}, up to ${tb.streams} at once`,
    ),
    `  subscription enabled (copy committed) at ${fmt(copyProperMs / 1000, 1)}`,
    `  copy proper ${fmt(copyProperMs / 1000, 2)} s (${fmt((rowsCopied / copyProperMs) * 1000, 0)} rows/s); copying phase ${fmt(copyMs / 1000, 2)} s (${fmt(rowsPerS, 0)} rows/s)`,
    `  pipe (psql COPY TO STDOUT | COPY FROM STDIN, 3 tables at once, median of ${pipe.roundsMs.length} rounds: ${pipe.roundsMs.map((ms) => fmt(ms / 1000, 2)).join(", ")} s): ${pipe.rows} rows in ${fmt(pipe.ms / 1000, 2)} s (${fmt(pipeRowsPerS, 0)} rows/s)`,
    "",
    `${"writes".padEnd(22)}${pad("count", 7)}${pad("p50 ms", 9)}${pad("p99 ms", 9)}${pad("max ms", 9)}`,
    ...(
      [
        ["before the split", baseline],
        ["during the split", during],
        ["held by a fence", held],
        ["after the split", after],
      ] as const
    ).map(
      ([name, s]) =>
        `${name.padEnd(22)}${pad(s.count, 7)}${pad(fmt(s.p50), 9)}${pad(fmt(s.p99), 9)}${pad(fmt(s.max), 9)}`,
    ),
    `fences (raise → lift): ${windows.map((f) => `${f.liftedAt - f.raisedAt} ms`).join(", ") || "none seen"}; the reshard's writePauseMs ${reshard.writePauseMs}`,
    `writer errors: ${writer.errors.length}${writer.errors.length ? ` (first: ${writer.errors[0]})` : ""}`,
    `rows: missing ${rows.missing}, wrong value ${rows.wrongValue}, on two shards ${rows.onTwoShards}, unexpected ${rows.unexpected}, accounts Δ ${rows.accountsDelta}, countries on target ${rows.countriesOnTarget}/${data.countries}, stray ${rows.stray}`,
    `verification: ${reshard.verification.map((v: { table: string; equal: boolean; source: { rows: number } }) => `${v.table} ${v.equal ? "equal" : "DIFFERENT"} (${v.source.rows})`).join(", ")}`,
    "",
    "the reshard's steps in the router logs (s since the split's POST):",
    ...routerTimeline(w.routers, splitStart).map(
      (l) =>
        `  ${pad(fmt((l.at - splitStart) / 1000, 3), 8)}  ${l.replica.padEnd(9)} ${l.msg}${l.detail ? ` (${l.detail})` : ""}`,
    ),
    "",
    "where the servers spent each phase (pg_stat_activity every 250 ms: busy backends of that kind per sample, the most seen first):",
    ...activityLines(activity.counts(), activity.ticks()),
    "",
    `figure reshard_write_pause_ms_p99 ${fmt(held.p99)}`,
    `figure reshard_write_pause_ms_max ${fmt(held.max)}`,
    `figure reshard_write_pause_ms_reported ${reshard.writePauseMs ?? 0}`,
    `figure reshard_write_latency_ms_p99 ${fmt(during.p99)}`,
    `figure reshard_write_latency_ms_max ${fmt(during.max)}`,
    `figure reshard_write_latency_ms_p99_baseline ${fmt(baseline.p99)}`,
    `figure reshard_rows_per_s ${fmt(rowsPerS, 0)}`,
    `figure reshard_copy_vs_pipe_ratio ${fmt(rowsPerS / pipeRowsPerS, 3)}`,
    `figure reshard_copy_proper_vs_pipe_ratio ${fmt(((rowsCopied / copyProperMs) * 1000) / pipeRowsPerS, 3)}`,
    `figure reshard_duration_s ${fmt((endedAt - splitStart) / 1000, 1)}`,
    `figure reshard_lost ${rows.lost}`,
    `figure reshard_duplicated ${rows.duplicated}`,
    `figure reshard_writer_errors ${writer.errors.length}`,
    "",
  );
  process.stdout.write(out.join("\n"));
} finally {
  await w.dispose();
}

/** Per phase, the (server, backend, wait) pairs seen most, as a share of that phase's samples. */
function activityLines(counts: readonly ActivityCount[], ticks: Map<string, number>): string[] {
  const lines: string[] = [];
  for (const [phase, n] of ticks) {
    const top = counts
      .filter((c) => c.phase === phase)
      .sort((a, b) => b.samples - a.samples)
      .slice(0, 6)
      .map((c) => `${c.server} ${c.backend} ${c.wait} ${(c.samples / n).toFixed(2)}`);
    lines.push(`  ${phase} (${n} samples): ${top.join("; ") || "idle"}`);
  }
  return lines;
}
