import { desiredOwner, type LiveMember, type UnitKey } from "@dbplane/projections";
import type { TestSchema } from "@dbplane/testkit";
import { waitFor } from "@dbplane/testkit";
import type { BenchWorld } from "./bench-world.ts";

const HEARTBEAT_MS = 500;
const tables = (s: TestSchema) => ({
  units: `"${s.name}".units`,
  moves: `"${s.name}".unit_moves`,
  applied: `"${s.name}"."tally_g1_applied"`,
});

async function caughtUp(s: TestSchema, seq: number): Promise<boolean> {
  const { rows } = await s.pool.query(
    `SELECT count(*) FILTER (WHERE owner IS NULL OR checkpoint < $1)::int AS behind, count(*)::int AS n FROM ${tables(s).units}`,
    [seq],
  );
  return rows[0].n > 0 && rows[0].behind === 0;
}

/** One replica applies `events` pre-published events; rate from the first to the last commit (database clock). */
export async function throughput(world: BenchWorld, events: number): Promise<number> {
  const s = await world.schema();
  const last = await world.publish(events);
  const replica = await world.startReplica(s, HEARTBEAT_MS);
  await waitFor(() => caughtUp(s, last), {
    timeoutMs: 300_000,
    intervalMs: 200,
    what: "the replica to apply every event",
  });
  const { rows } = await s.pool.query(
    `SELECT count(*)::int AS n, extract(epoch FROM max(applied_at) - min(applied_at)) AS seconds FROM ${tables(s).applied}
     WHERE seq > $1`,
    [last - events],
  );
  replica.svc.kill("SIGTERM");
  await replica.svc.exited;
  return rows[0].n / Number(rows[0].seconds);
}

/** One moved unit's pause and its parts (database clock). */
export interface MovedUnit {
  readonly join: number;
  readonly partition: number;
  /** Last commit on the old owner → first commit on the new one. */
  readonly pauseMs: number;
  /** Last commit on the old owner → its release (noticing the join, finishing the batch in flight). */
  readonly releaseMs: number | undefined;
  /** Release → the new owner's acquisition (learning of the release). */
  readonly acquireMs: number | undefined;
  /** Acquisition → first commit on the new owner (reader start, first batch). */
  readonly firstCommitMs: number | undefined;
}

export interface RebalanceResult {
  readonly moved: readonly MovedUnit[];
  /** The joiners' warm-up before they joined (`dbplane_projection_warm_up_seconds{phase="total"}`). */
  readonly warmUpMs: readonly number[];
  /** Sum of the paused units' pauses: the unit-time the rebalance cost. */
  readonly totalPauseMs: number;
  /**
   * Units that did not move but stalled during some moved unit's pause: no commit in it, and the
   * gap between their commits around it longer than any they had in the 5 s before.
   */
  readonly unmovedPaused: number;
  /** Units that did not move and had no commit during some moved unit's pause, stalled or not. */
  readonly unmovedWithoutCommit: number;
}

/** Nearest-rank percentile; undefined for no values. */
export function percentile(values: readonly (number | undefined)[], p: number): number | undefined {
  const sorted = values.filter((v): v is number => v !== undefined).sort((a, b) => a - b);
  if (sorted.length === 0) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/**
 * Three replicas under a steady stream; a fourth joins, `joins` times (after each but the last it
 * leaves again and the three settle). The first joins come while the three still read the
 * stream's earlier events, unless `steady`. `incremental`: dbplane's rebalancing. `stop-the-world`: at
 * the join the bench revokes every unit at once, as a generation bump does in the seed's
 * orchestrator; every replica stops all its units and restarts them from checkpoints.
 */
export async function rebalance(
  world: BenchWorld,
  mode: "incremental" | "stop-the-world",
  joins: number,
  options: { steady?: boolean } = {},
): Promise<RebalanceResult> {
  const s = await world.schema();
  const t = tables(s);
  const started = await Promise.all([0, 1, 2].map(() => world.startReplica(s, HEARTBEAT_MS)));
  let publishing = true;
  let last = 0;
  const publisher = (async () => {
    while (publishing) {
      last = await world.publish(250);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  const moved: MovedUnit[] = [];
  const warmUpMs: number[] = [];
  let totalPauseMs = 0;
  const stalled = new Set<number>();
  const quiet = new Set<number>();
  try {
    await waitFor(
      async () =>
        (await s.pool.query(`SELECT count(DISTINCT owner)::int AS n FROM ${t.units}`)).rows[0].n === 3 &&
        (await s.pool.query(`SELECT count(*)::int AS n FROM ${t.applied}`)).rows[0].n > 5_000,
      { timeoutMs: 60_000, what: "3 owners and events flowing" },
    );
    // The stream holds the earlier scenarios' events, which a new projection reads from its start:
    // without `steady` the joins come while the three still catch up with them. `steady`: first
    // every unit's checkpoint at or past what had been published when they got going.
    if (options.steady) {
      const head = last;
      await waitFor(() => caughtUp(s, head), {
        timeoutMs: 300_000,
        intervalMs: 200,
        what: "the three replicas to catch up with the stream",
      });
    }
    if (mode === "stop-the-world") await installStopTheWorld(s);
    for (let join = 0; join < joins; join++) {
      const mark = (await s.pool.query(`SELECT COALESCE(max(id), 0)::float8 AS id FROM ${t.moves}`)).rows[0]
        .id;
      const joiner = await world.startReplica(s, HEARTBEAT_MS);
      started.push(joiner);
      process.stderr.write(`  join ${join + 1}/${joins}: ${joiner.memberId}\n`);
      const revokedAt: Date | null =
        mode === "stop-the-world"
          ? (await s.pool.query(`SELECT max(at) AS at FROM "${s.name}".stw_revocations`)).rows[0].at
          : null;
      await waitFor(() => handedOver(s, joiner.memberId, revokedAt, mark), {
        timeoutMs: 60_000,
        intervalMs: 100,
        what: "the joiner to take its units and every moved unit to commit again",
      }).catch((err) => printStuck(s, world, err));
      await new Promise((resolve) => setTimeout(resolve, 2 * HEARTBEAT_MS));
      await waitFor(() => handedOver(s, joiner.memberId, revokedAt, mark), {
        timeoutMs: 60_000,
        intervalMs: 100,
        what: "late moves to commit again",
      }).catch((err) => printStuck(s, world, err));
      const r = await pauses(s, revokedAt, mark, join, world);
      const how = await handOverCounts(started.map((x) => x.base));
      process.stderr.write(`    hand-overs so far: ${describeCounts(how)}\n`);
      process.stderr.write(
        `    joiner: ${describeJoin(world.logLine(joiner.memberId, "projection runtime joining"))}\n`,
      );
      moved.push(...r.moved);
      totalPauseMs += r.totalPauseMs;
      for (const p of r.stalled) stalled.add(p);
      for (const p of r.quiet) quiet.add(p);
      const warm = await warmUpOf(joiner.base);
      if (warm !== undefined) warmUpMs.push(warm);
      if (join < joins - 1) {
        joiner.svc.kill("SIGTERM");
        await joiner.svc.exited;
        await settledWithout(s, joiner.memberId);
      }
    }
  } finally {
    publishing = false;
    await publisher;
  }
  await waitFor(() => caughtUp(s, last), { timeoutMs: 120_000, intervalMs: 200, what: "all events applied" });
  // Left running, a scenario's replicas went on applying every event the later scenarios
  // published (same stream, same filter) to their own schema: load the later ones paid for.
  // V8 writes a CPU profile only when the process exits by itself: SIGTERM, not dispose's SIGKILL.
  if (process.env.BENCH_CPU_PROF)
    await Promise.all(
      started.map(async (r) => {
        r.svc.kill("SIGTERM");
        await r.svc.exited;
      }),
    );
  await Promise.all(started.map((r) => r.svc.dispose()));
  return { moved, warmUpMs, totalPauseMs, unmovedPaused: stalled.size, unmovedWithoutCommit: quiet.size };
}

/**
 * The joiner owns a unit, every unit is owned where rendezvous hashing puts it (an owner may go
 * on applying a unit up to the joiner's read-ahead before it lets it go: a unit still to move
 * would be missed), and every unit moved since `mark` (or revoked) committed after it moved.
 */
async function handedOver(s: TestSchema, joiner: string, revokedAt: Date | null, mark: number) {
  const t = tables(s);
  const owns = await s.pool.query(`SELECT 1 FROM ${t.units} WHERE owner = $1 LIMIT 1`, [joiner]);
  if (owns.rowCount === 0) return false;
  const { rows: members } = await s.pool.query<LiveMember>(
    `SELECT id, capabilities FROM "${s.name}".members`,
  );
  const { rows: units } = await s.pool.query<UnitKey & { version: number; owner: string | null }>(
    `SELECT u.projection, u.generation, u.partition, g.version, u.owner
     FROM ${t.units} u JOIN "${s.name}".generations g USING (projection, generation) WHERE g.state = 'active'`,
  );
  if (units.some((u) => u.owner !== desiredOwner(u, `${u.projection}@${u.version}`, members))) return false;
  const { rows } = await s.pool.query(
    `SELECT count(*)::int AS waiting FROM (${movedSql(s, revokedAt)}) m
     WHERE NOT EXISTS (SELECT 1 FROM ${t.applied} a WHERE a.partition = m.partition AND a.applied_at > m.at)`,
    revokedAt ? [mark, revokedAt] : [mark],
  );
  return rows[0].waiting === 0;
}

/**
 * A hand-over that never finished: the units and members as the database has them, and what
 * each replica logged last (its debug lines too with BENCH_TRACE), then the error again.
 */
async function printStuck(s: TestSchema, world: BenchWorld, err: unknown): Promise<never> {
  const t = tables(s);
  const units = await s.pool.query(
    `SELECT partition, owner, token, checkpoint, (SELECT max(applied_at) FROM ${t.applied} a WHERE a.partition = u.partition) AS last_commit FROM ${t.units} u ORDER BY partition`,
  );
  const members = await s.pool.query(`SELECT * FROM "${s.name}".members ORDER BY id`);
  console.error("stuck: units", JSON.stringify(units.rows, null, 1));
  console.error("stuck: members", JSON.stringify(members.rows, null, 1));
  console.error(
    `stuck: the replicas' last log lines\n${world.recentLogs(process.env.BENCH_TRACE ? 150 : 30, process.env.BENCH_TRACE ? 20 : 30).join("\n")}`,
  );
  throw err;
}

/** After a leave: every unit owned by a remaining replica and committing again. */
async function settledWithout(s: TestSchema, left: string): Promise<void> {
  const t = tables(s);
  await waitFor(
    async () =>
      (
        await s.pool.query(`SELECT count(*)::int AS n FROM ${t.units} WHERE owner IS NULL OR owner = $1`, [
          left,
        ])
      ).rows[0].n === 0,
    { timeoutMs: 60_000, what: "the units of the replica that left to be owned again" },
  );
  const { rows } = await s.pool.query(`SELECT clock_timestamp() AS at`);
  await waitFor(
    async () =>
      (
        await s.pool.query(
          `SELECT count(DISTINCT partition)::int AS n FROM ${t.applied} WHERE applied_at > $1`,
          [rows[0].at],
        )
      ).rows[0].n === (await s.pool.query(`SELECT count(*)::int AS n FROM ${t.units}`)).rows[0].n,
    { timeoutMs: 60_000, what: "every unit to commit again after the leave" },
  );
}

/**
 * How the replicas still running handed units over, summed (cumulative): the owners' holds by
 * outcome (reached the joiner's read-ahead, expired, cancelled) and the readers started for
 * acquired units (a unit that did not arrive on a read-ahead, or whose read-ahead was gone).
 */
async function handOverCounts(bases: readonly string[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const base of bases) {
    const text = await fetch(`${base}/metrics`)
      .then((r) => r.text())
      .catch(() => "");
    for (const line of text.split("\n")) {
      const hold = /^dbplane_projection_hand_over_hold_seconds_count\{.*outcome="(\w+)".*\} (\d+)/.exec(line);
      const reader = /^dbplane_projection_stream_readers_started_total\{.*purpose="(\w+)".*\} (\d+)/.exec(
        line,
      );
      const [, what, n] = hold ?? reader ?? [];
      if (what)
        counts.set(
          `${hold ? "hold" : "reader"} ${what}`,
          (counts.get(`${hold ? "hold" : "reader"} ${what}`) ?? 0) + Number(n),
        );
    }
  }
  return counts;
}

/** The joiner's "projection runtime joining" line: its waits before the join and its read-ahead. */
function describeJoin(line: Record<string, unknown> | undefined): string {
  if (!line) return "no joining line";
  const starts = Object.values((line.readAhead ?? {}) as Record<string, number>);
  const range = starts.length > 0 ? ` from ${Math.min(...starts)}..${Math.max(...starts)}` : "";
  return `settle ${line.settleMs} ms, read-ahead wait ${line.readAheadMs} ms, read-ahead for ${starts.length} units${range}`;
}

const describeCounts = (counts: Map<string, number>) =>
  [...counts].map(([k, n]) => `${k} ${n}`).join(", ") || "none";

async function warmUpOf(base: string): Promise<number | undefined> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text
    .split("\n")
    .find((l) => l.startsWith('dbplane_projection_warm_up_seconds{phase="total"}'));
  return line ? Number(line.split(" ").at(-1)) * 1000 : undefined;
}

/** The units a join moved (stop-the-world: every unit, at the revocation) and when they were let go. */
function movedSql(s: TestSchema, revokedAt: Date | null): string {
  const t = tables(s);
  return revokedAt
    ? `SELECT partition, NULL::float8 AS id, $2::timestamptz AS at FROM ${t.units} WHERE $1::float8 >= 0`
    : `SELECT partition, id::float8 AS id, at FROM ${t.moves} WHERE id > $1 AND action = 'released'`;
}

/**
 * The seed's scheme: any membership change stops the world. A trigger on the members table
 * revokes every unit in the very transaction that adds the joiner; every replica then stops all
 * its units and restarts them from their checkpoints under the new assignment.
 */
async function installStopTheWorld(s: TestSchema): Promise<void> {
  const q = `"${s.name}"`;
  await s.pool.query(`
    CREATE TABLE ${q}.stw_revocations (at timestamptz NOT NULL);
    CREATE FUNCTION ${q}.stop_the_world() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      UPDATE ${q}.units SET owner = NULL, owned_since = NULL;
      INSERT INTO ${q}.stw_revocations VALUES (clock_timestamp());
      RETURN NULL;
    END $$;
    CREATE TRIGGER stop_the_world AFTER INSERT ON ${q}.members FOR EACH ROW EXECUTE FUNCTION ${q}.stop_the_world();
  `);
}

async function pauses(
  s: TestSchema,
  revokedAt: Date | null,
  afterMove: number,
  join: number,
  world: BenchWorld,
) {
  const t = tables(s);
  const { rows: units } = await s.pool.query<{ partition: number }>(
    `SELECT partition FROM ${t.units} ORDER BY partition`,
  );
  const { rows: moves } = await s.pool.query<{ partition: number; id: number | null; at: Date }>(
    movedSql(s, revokedAt),
    revokedAt ? [afterMove, revokedAt] : [afterMove],
  );
  const moved: MovedUnit[] = [];
  let totalPauseMs = 0;
  const stalled = new Set<number>();
  const quiet = new Set<number>();
  for (const m of moves) {
    const { rows } = await s.pool.query(
      `SELECT (SELECT max(applied_at) FROM ${t.applied} WHERE partition = $1 AND applied_at <= $2) AS before,
              (SELECT min(applied_at) FROM ${t.applied} WHERE partition = $1 AND applied_at > $2) AS after,
              (SELECT min(at) FROM ${t.moves} WHERE partition = $1 AND id > $3 AND action = 'assigned') AS assigned`,
      [m.partition, m.at, m.id ?? afterMove],
    );
    const { before, after, assigned } = rows[0] as { before: Date; after: Date; assigned: Date | null };
    const pauseMs = after.getTime() - before.getTime();
    const split = m.id !== null && assigned !== null;
    moved.push({
      join,
      partition: m.partition,
      pauseMs,
      releaseMs: split ? m.at.getTime() - before.getTime() : undefined,
      acquireMs: split ? assigned.getTime() - m.at.getTime() : undefined,
      firstCommitMs: split ? after.getTime() - assigned.getTime() : undefined,
    });
    totalPauseMs += pauseMs;
    if (process.env.BENCH_DEBUG) {
      process.stderr.write(
        `  unit ${m.partition}: last before ${before.toISOString()} released ${m.at.toISOString()} assigned ${assigned?.toISOString()} first after ${after.toISOString()}\n`,
      );
    }
    if (process.env.BENCH_TRACE) {
      const from = new Date(before.getTime() - Number(process.env.BENCH_TRACE_LEAD_MS ?? 20));
      for (const line of world.trace(m.partition, from, after)) process.stderr.write(`    ${line}\n`);
    }
    const { rows: active } = await s.pool.query(
      `SELECT DISTINCT partition FROM ${t.applied} WHERE applied_at > $1 AND applied_at < $2`,
      [before, after],
    );
    const committed = new Set(active.map((r) => r.partition));
    for (const u of units) {
      if (moves.some((x) => x.partition === u.partition) || committed.has(u.partition)) continue;
      quiet.add(u.partition);
      // A pause of ~100 ms is shorter than a busy unit's commit interval: no commit inside it is
      // ordinary then. Stalled is a gap around the pause longer than any of the 5 s before it.
      const { rows: around } = await s.pool.query(
        `SELECT (SELECT max(applied_at) FROM ${t.applied} WHERE partition = $1 AND applied_at <= $2) AS last,
                (SELECT min(applied_at) FROM ${t.applied} WHERE partition = $1 AND applied_at >= $3) AS next,
                (SELECT extract(epoch FROM max(gap)) * 1000 FROM (
                   SELECT applied_at - lag(applied_at) OVER (ORDER BY applied_at) AS gap FROM ${t.applied}
                   WHERE partition = $1 AND applied_at BETWEEN $2::timestamptz - interval '5 s' AND $2) g) AS "usualMs",
                (SELECT owner FROM ${t.units} WHERE partition = $1) AS owner`,
        [u.partition, before, after],
      );
      const r = around[0] as { last: Date | null; next: Date | null; usualMs: number | null; owner: string };
      const gapMs = r.last && r.next ? r.next.getTime() - r.last.getTime() : Number.POSITIVE_INFINITY;
      const usualMs = r.usualMs === null ? 0 : Number(r.usualMs);
      if (gapMs > usualMs) stalled.add(u.partition);
      if (process.env.BENCH_DEBUG) {
        process.stderr.write(
          `  unmoved unit ${u.partition} (${r.owner}) without a commit in unit ${m.partition}'s pause: gap ${Math.round(gapMs)} ms (${r.last?.toISOString()} → ${r.next?.toISOString()}), longest of the 5 s before ${Math.round(usualMs)} ms${gapMs > usualMs ? ": stalled" : ""}\n`,
        );
      }
    }
  }
  return { moved, totalPauseMs, stalled, quiet };
}
