// The router demo the dev stack runs (package.json "dbplane.demo"). It asks the provisioner for a
// 2-shard database (`demo-shop`, real PostgreSQL clusters from the local driver), then through the
// router: runs a migration on every shard, inserts customers by key, reads one back and scatters
// a count. Then it shows the main capability: it turns autoSplit on, makes one shard hot with a
// small load generator (keyed reads, plus inserts that never stop), and prints the reshard the
// router starts by itself — each phase as it happens — and where the rows are afterwards. The
// load generator's writes never fail: during the cut-over they only wait.
//
// Env: DBPLANE_URL (the router, default http://127.0.0.1:7103), DBPLANE_PROVISIONER_URL (default
// http://127.0.0.1:7102), DBPLANE_TOKEN (a bearer token), DBPLANE_DEMO_POSTGRES_VERSION (the
// PostgreSQL major the local driver runs, default 15).
import { RESHARD_PHASES } from "@dbplane/contracts";

const url = process.env.DBPLANE_URL ?? "http://127.0.0.1:7103";
const provisionerUrl = process.env.DBPLANE_PROVISIONER_URL ?? "http://127.0.0.1:7102";
const token = process.env.DBPLANE_TOKEN;
const postgresVersion = Number(process.env.DBPLANE_DEMO_POSTGRES_VERSION ?? "15");
if (!token) {
  process.stderr.write("DBPLANE_TOKEN is required (a bearer token for the router API)\n");
  process.exit(64);
}
const DB = "demo-shop";
type Json = Record<string, unknown>;

async function call(
  method: string,
  path: string,
  body?: unknown,
  base = url,
): Promise<{ status: number; json: Json }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined && { "content-type": "application/json" }),
    },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as Json };
}

async function ok(method: string, path: string, body?: unknown, base = url): Promise<Json> {
  const { status, json } = await call(method, path, body, base);
  if (status >= 400) throw new Error(`${method} ${path} answered ${status}: ${JSON.stringify(json)}`);
  return json;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await sleep(250);
  }
}

// 1. The database, from the provisioner: a new one each run (an earlier run's is deleted
// first), so every run shows the same split.
async function deleteDemoDatabase(): Promise<void> {
  const gone = await call("DELETE", `/v1/databases/${DB}?keepVolumes=false`, undefined, provisionerUrl);
  if (gone.status === 404) return;
  if (gone.status >= 400)
    throw new Error(`could not delete ${DB}: ${gone.status} ${JSON.stringify(gone.json)}`);
  console.log(`${DB}: deleting the database an earlier run made…`);
  await until(`${DB} to be deleted`, 120_000, async () =>
    (await call("GET", `/v1/databases/${DB}`, undefined, provisionerUrl)).status === 404 ? true : undefined,
  );
  await until(`the router to forget ${DB}`, 60_000, async () =>
    (await call("GET", `/v1/databases/${DB}/shards`)).status === 404 ? true : undefined,
  );
}
await deleteDemoDatabase();
const created = await call(
  "POST",
  "/v1/databases",
  {
    name: DB,
    shards: 2,
    replicasPerShard: 0,
    postgresVersion,
    shardedTables: [{ table: "customers", keyColumn: "id", keyType: "bigint" }],
  },
  provisionerUrl,
);
if (created.status >= 400) {
  throw new Error(`the provisioner refused ${DB}: ${created.status} ${JSON.stringify(created.json)}`);
}
console.log(`${DB}: asked the provisioner for 2 shards (PostgreSQL ${postgresVersion}, local clusters)`);
await until(`${DB} to be ready`, 300_000, async () => {
  const db = await ok("GET", `/v1/databases/${DB}`, undefined, provisionerUrl);
  if (db.state === "failed") throw new Error(`${DB} failed: ${JSON.stringify(db)}`);
  return db.state === "ready" ? db : undefined;
});
const firstMap = await until(`the router to pick up ${DB}`, 60_000, () =>
  ok("GET", `/v1/databases/${DB}/shards`),
);
console.log(`${DB}: ready; the router serves shard map version ${firstMap.version}`);

// 2. A migration on every shard, rows by key, a keyed read and a scatter count.
const migration = await ok("POST", `/v1/databases/${DB}/migrations`, {
  id: "001-customers",
  statements: ["CREATE TABLE IF NOT EXISTS customers (id bigint PRIMARY KEY, name text NOT NULL)"],
});
console.log(`migration 001-customers: ${JSON.stringify(migration.shards)}`);

async function upsert(id: number): Promise<number> {
  const res = await ok("POST", `/v1/databases/${DB}/query`, {
    sql: "INSERT INTO customers (id, name) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET name = excluded.name",
    params: [id, `customer ${id}`],
    key: { type: "bigint", value: id },
  });
  return res.shard as number;
}

const perShard = new Map<number, number>();
for (let id = 1; id <= 2_000; id++) {
  const shard = await upsert(id);
  perShard.set(shard, (perShard.get(shard) ?? 0) + 1);
}
console.log(
  `inserted 2000 customers by key: ${[...perShard].map(([s, n]) => `shard ${s}: ${n}`).join(", ")}`,
);

const one = await ok("POST", `/v1/databases/${DB}/query`, {
  sql: "SELECT id, name FROM customers WHERE id = $1",
  params: [42],
  key: { type: "bigint", value: 42 },
  readOnly: true,
});
const hotShard = one.shard as number;
console.log(`customer 42 is on shard ${hotShard}: ${JSON.stringify(one.rows)}`);

/** The scatter count, and each serving shard's own count (a one-statement transaction on it). */
async function countsByShard(): Promise<string> {
  const res = await ok("POST", `/v1/databases/${DB}/query`, {
    sql: "SELECT count(*)::int AS n FROM customers",
  });
  const total = (res.rows as { n: number }[]).reduce((sum, r) => sum + r.n, 0);
  const map = await ok("GET", `/v1/databases/${DB}/shards`);
  const each: string[] = [];
  for (const s of map.shards as { shard: number; ranges: unknown[] }[]) {
    if (s.ranges.length === 0) continue;
    const one = await ok("POST", `/v1/databases/${DB}/transaction`, {
      shard: s.shard,
      readOnly: true,
      statements: [{ sql: "SELECT count(*)::int AS n FROM customers" }],
    });
    const results = one.results as { rows: { n: number }[] }[];
    each.push(`shard ${s.shard}: ${results[0]?.rows[0]?.n ?? 0}`);
  }
  return `${total} rows (${each.join(", ")})`;
}
console.log(`scatter count(*): ${await countsByShard()}`);

// 3. autoSplit on, and shard `hotShard` made hot: the router splits it without an API call.
await ok("PUT", `/v1/databases/${DB}/autosplit`, { enabled: true, maxShards: 8, cooldownMs: 0 });
const before = ((await ok("GET", `/v1/databases/${DB}/reshards`)).reshards as Json[]).map((r) => r.id);
console.log(
  `autoSplit on; making shard ${hotShard} hot (keyed reads of customer 42, inserts of new customers)…`,
);

let stop = false;
let nextId = 1_000_000 + Math.floor(Date.now() / 1000) * 1_000;
let written = 0;
let failedWrites = 0;
const load = [
  ...Array.from({ length: 4 }, async () => {
    while (!stop) {
      await call("POST", `/v1/databases/${DB}/query`, {
        sql: "SELECT id, name FROM customers WHERE id = $1",
        params: [42],
        key: { type: "bigint", value: 42 },
        readOnly: true,
      }).catch(() => undefined);
    }
  }),
  (async () => {
    while (!stop) {
      const id = nextId++;
      await upsert(id).then(
        () => written++,
        (err: Error) => {
          failedWrites++;
          console.log(`write of customer ${id} failed: ${err.message}`);
        },
      );
    }
  })(),
];

const started = Date.now();
const reshard = await until("the router to split the hot shard", 180_000, async () => {
  const list = (await ok("GET", `/v1/databases/${DB}/reshards`)).reshards as Json[];
  return list.find((r) => !before.includes(r.id));
});
const trigger = reshard.trigger as { by: string; reason?: string };
console.log(
  `after ${((Date.now() - started) / 1000).toFixed(1)} s the router started reshard ${reshard.id} by itself (${trigger.by}: ${trigger.reason ?? "-"})`,
);

let lastPhase = "";
let final: Json | undefined;
while (!final) {
  const r = await ok("GET", `/v1/databases/${DB}/reshards/${reshard.id}`);
  const progress = r.progress as {
    rowsCopied: number;
    rowsTotal: number;
    replicationLagBytes: number | null;
  };
  if (r.phase !== lastPhase) {
    // Phases come in order: one that began and ended between two polls (a small table catches up
    // in milliseconds) is named too, so every phase the reshard went through is on the screen.
    const phases: readonly string[] = RESHARD_PHASES;
    const passed = phases.slice(
      phases.indexOf(lastPhase) + 1,
      Math.max(0, phases.indexOf(r.phase as string)),
    );
    for (const phase of passed)
      console.log(`  phase ${phase.padEnd(12)} (begun and ended between two polls)`);
    lastPhase = r.phase as string;
    console.log(
      `  phase ${lastPhase.padEnd(12)} shard ${r.sourceShard} → ${r.targetShard ?? "?"}` +
        `  rows ${progress.rowsCopied}/${progress.rowsTotal}` +
        (progress.replicationLagBytes === null ? "" : `  lag ${progress.replicationLagBytes} B`),
    );
  }
  if (r.state !== "running") final = r;
  else await sleep(100);
}
stop = true;
await Promise.all(load);
console.log(
  `reshard ${final.state}: map version ${final.mapVersion}, longest write pause ${final.writePauseMs ?? 0} ms` +
    (final.error ? `, error: ${final.error}` : ""),
);
for (const v of (final.verification as
  | { table: string; source: { rows: number }; equal: boolean }[]
  | null) ?? []) {
  console.log(
    `  verified ${v.table}: ${v.source.rows} moved rows, checksums ${v.equal ? "equal" : "DIFFER"}`,
  );
}
console.log(`the load generator wrote ${written} customers during the split, ${failedWrites} writes failed`);
const map = await ok("GET", `/v1/databases/${DB}/shards`);
for (const s of map.shards as { shard: number; ranges: { from: string; to: string }[] }[]) {
  for (const r of s.ranges) console.log(`  shard ${s.shard} owns hashes [${r.from}, ${r.to})`);
}
console.log(`scatter count(*): ${await countsByShard()}`);
