// Claim cost on one PostgreSQL, with no NATS and no HTTP: MICRO_JOBS (20,000) jobs due in 1 s,
// claimed in rounds of 2,000 by two owners alternately, then 8 claim ticks with everything held
// (what each tick costs while a burst is held), a renewal of all, then completion of all.
// Compares two checkouts back to back under the same load (a loaded machine makes the full
// bench's figures incomparable across runs):
//   node bench/scheduler/claim-micro.ts "$PWD"; node bench/scheduler/claim-micro.ts /path/to/other
// (run from the checkout whose pg it uses; the argument is whose store code it loads).
import pg from "pg";

const root = process.argv[2]!;
const { createSchedulerStore } = await import(`${root}/services/scheduler/src/store/scheduler-store.ts`);
const { parseJobDefinition } = await import(`${root}/services/scheduler/src/domain/job-validation.ts`);
const N = Number(process.env.MICRO_JOBS ?? 20_000);
const pool = new pg.Pool({ connectionString: process.env.DBPLANE_PG_URL, max: 4 });
const schema = `micro_${Math.random().toString(36).slice(2, 8)}`;
await pool.query(`CREATE SCHEMA ${schema}`);
const store = createSchedulerStore(pool, { schema });
await store.migrate();
const def = parseJobDefinition({
  id: "x",
  schedule: { kind: "at", at: new Date(Date.now() + 3600_000).toISOString() },
  target: { subject: "bench.micro", payload: {} },
});
await pool.query(
  `INSERT INTO ${schema}.jobs (id, definition, state, next_run_at, next_fire_by)
   SELECT 'j-' || g, jsonb_set($1::jsonb, '{id}', to_jsonb('j-' || g)), 'active', now() + interval '1 second', now() + interval '61 seconds'
   FROM generate_series(1, $2) g`,
  [JSON.stringify(def), N],
);
await pool.query(`VACUUM ANALYZE ${schema}.jobs`);
const opts = { horizonMs: 2_000, leaseMs: 15_000, limit: 2_000, includeExpired: true };
let t = performance.now();
let claimed = 0,
  rounds = 0;
const held: Record<string, string[]> = { a: [], b: [] };
// What a replica holds of each claimed job, given back with its completion (`known`: a checkout
// that predates it ignores the field and reads the definition again).
const known = new Map<string, { version: number; definition: unknown }>();
for (;;) {
  const owner = rounds % 2 ? "b" : "a";
  const r = await store.claimDue(owner, opts);
  rounds++;
  claimed += r.jobs.length;
  held[owner]!.push(...r.jobs.map((j: { id: string }) => j.id));
  for (const j of r.jobs as { id: string; version: number; definition: unknown }[])
    known.set(j.id, { version: j.version, definition: j.definition });
  if (r.jobs.length === 0) break;
}
const claimMs = performance.now() - t;
t = performance.now();
for (let i = 0; i < 8; i++) await store.claimDue(i % 2 ? "b" : "a", opts);
const idleTickMs = (performance.now() - t) / 8;
t = performance.now();
await store.renewClaims("a", 15_000);
await store.renewClaims("b", 15_000);
const renewMs = performance.now() - t;
t = performance.now();
const dbNow = (await pool.query("SELECT now() AS now")).rows[0].now;
for (const owner of ["a", "b"]) {
  const ids = held[owner]!;
  for (let i = 0; i < ids.length; i += 2_000) {
    const batch = ids.slice(i, i + 2_000);
    const row = await pool.query(`SELECT id, next_run_at FROM ${schema}.jobs WHERE id = ANY($1)`, [batch]);
    await store.complete(
      owner,
      row.rows.map((r: { id: string; next_run_at: Date }) => ({
        jobId: r.id,
        scheduledAt: r.next_run_at,
        outcome: "fired",
        firedAt: dbNow,
        known: known.get(r.id),
      })),
      { horizonMs: 2_000, leaseMs: 15_000 },
    );
  }
}
const completeMs = performance.now() - t;
const load = (await import("node:os")).loadavg()[0]!.toFixed(1);
console.log(
  JSON.stringify({
    side: root,
    N,
    claimed,
    rounds,
    claimMs: Math.round(claimMs),
    idleTickMs: Math.round(idleTickMs),
    renewMs: Math.round(renewMs),
    completeMs: Math.round(completeMs),
    load,
  }),
);
await pool.query(`DROP SCHEMA ${schema} CASCADE`);
await pool.end();
