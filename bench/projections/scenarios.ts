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

export interface RebalanceResult {
  readonly movedUnits: number;
  /** Worst gap between a moved (or, stop-the-world, any) unit's last commit before and first after. */
  readonly movedPauseMs: number;
  /** Sum of the paused units' pauses: the unit-time the rebalance cost. */
  readonly totalPauseMs: number;
  /** Units that did not move but had no commit during some moved unit's pause. */
  readonly unmovedPaused: number;
}

/**
 * Three replicas under a steady stream; a fourth joins. `incremental`: dbplane's rebalancing.
 * `stop-the-world`: at the join the bench revokes every unit at once, as a generation bump does
 * in the seed's orchestrator; every replica stops all its units and restarts them from checkpoints.
 */
export async function rebalance(
  world: BenchWorld,
  mode: "incremental" | "stop-the-world",
): Promise<RebalanceResult> {
  const s = await world.schema();
  const t = tables(s);
  await Promise.all([0, 1, 2].map(() => world.startReplica(s, HEARTBEAT_MS)));
  let publishing = true;
  let last = 0;
  const publisher = (async () => {
    while (publishing) {
      last = await world.publish(250);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  await waitFor(
    async () =>
      (await s.pool.query(`SELECT count(DISTINCT owner)::int AS n FROM ${t.units}`)).rows[0].n === 3 &&
      (await s.pool.query(`SELECT count(*)::int AS n FROM ${t.applied}`)).rows[0].n > 5_000,
    { timeoutMs: 60_000, what: "3 owners and events flowing" },
  );
  const mark = (await s.pool.query(`SELECT COALESCE(max(id), 0)::float8 AS id FROM ${t.moves}`)).rows[0];
  if (mode === "stop-the-world") await installStopTheWorld(s);
  const joiner = await world.startReplica(s, HEARTBEAT_MS);
  const revokedAt: Date | null =
    mode === "stop-the-world"
      ? (await s.pool.query(`SELECT max(at) AS at FROM "${s.name}".stw_revocations`)).rows[0].at
      : null;
  await waitFor(
    async () =>
      (
        await s.pool.query(`SELECT count(*)::int AS n FROM ${t.units} WHERE owner = $1 AND checkpoint > 0`, [
          joiner.memberId,
        ])
      ).rows[0].n > 0,
    { timeoutMs: 60_000, what: "the joiner to commit" },
  );
  await new Promise((resolve) => setTimeout(resolve, 2 * HEARTBEAT_MS));
  publishing = false;
  await publisher;
  await waitFor(() => caughtUp(s, last), { timeoutMs: 120_000, intervalMs: 200, what: "all events applied" });
  return pauses(s, revokedAt, mark.id);
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

async function pauses(s: TestSchema, revokedAt: Date | null, afterMove: number): Promise<RebalanceResult> {
  const t = tables(s);
  const { rows: units } = await s.pool.query<{ partition: number }>(
    `SELECT partition FROM ${t.units} ORDER BY partition`,
  );
  const { rows: moved } = await s.pool.query<{ partition: number; at: Date }>(
    revokedAt
      ? `SELECT partition, $2::timestamptz AS at FROM ${t.units} WHERE $1::float8 >= 0`
      : `SELECT partition, at FROM ${t.moves} WHERE id > $1 AND action = 'released'`,
    revokedAt ? [afterMove, revokedAt] : [afterMove],
  );
  let movedPauseMs = 0;
  let totalPauseMs = 0;
  const stalled = new Set<number>();
  for (const m of moved) {
    const { rows } = await s.pool.query(
      `SELECT (SELECT max(applied_at) FROM ${t.applied} WHERE partition = $1 AND applied_at <= $2) AS before,
              (SELECT min(applied_at) FROM ${t.applied} WHERE partition = $1 AND applied_at > $2) AS after`,
      [m.partition, m.at],
    );
    const { before, after } = rows[0];
    movedPauseMs = Math.max(movedPauseMs, after.getTime() - before.getTime());
    totalPauseMs += after.getTime() - before.getTime();
    if (process.env.BENCH_DEBUG) {
      const { rows: mv } = await s.pool.query(
        `SELECT action, worker, at FROM ${t.moves} WHERE partition = $1 AND id > $2 ORDER BY id`,
        [m.partition, afterMove],
      );
      process.stderr.write(
        `unit ${m.partition}: last before ${before.toISOString()} first after ${after.toISOString()} ${mv.map((x) => `${x.action}@${x.worker}@${x.at.toISOString()}`).join(" ")}\n`,
      );
    }
    const { rows: active } = await s.pool.query(
      `SELECT DISTINCT partition FROM ${t.applied} WHERE applied_at > $1 AND applied_at < $2`,
      [before, after],
    );
    const committed = new Set(active.map((r) => r.partition));
    for (const u of units)
      if (!moved.some((x) => x.partition === u.partition) && !committed.has(u.partition))
        stalled.add(u.partition);
  }
  return { movedUnits: moved.length, movedPauseMs, totalPauseMs, unmovedPaused: stalled.size };
}
