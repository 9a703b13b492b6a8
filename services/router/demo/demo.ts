// The router demo the dev stack runs (package.json "dbplane.demo"): makes a 2-shard database
// out of two databases on the local PostgreSQL server, announces it the way the provisioner
// does (`database.ready`), then through the router: runs a migration on every shard, inserts
// rows by key, reads one back, and scatters a count — and shows where the rows landed.
//
// Env: DBPLANE_URL (the router, default http://127.0.0.1:7103), DBPLANE_TOKEN (a bearer token),
// DBPLANE_NATS_URL, DBPLANE_NATS_NAMESPACE, DBPLANE_PG_URL (the server that holds the two shard
// databases), DBPLANE_DATA_DIR (where the password file goes).
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { connectBus } from "@dbplane/bus";
import { databaseReady } from "@dbplane/contracts";
import { createLogger } from "@dbplane/service-kit";
import pg from "pg";

const url = process.env.DBPLANE_URL ?? "http://127.0.0.1:7103";
const token = process.env.DBPLANE_TOKEN;
const pgUrl = new URL(process.env.DBPLANE_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres");
const dataDir = process.env.DBPLANE_DATA_DIR ?? join(process.cwd(), ".data");
if (!token) {
  process.stderr.write("DBPLANE_TOKEN is required (a bearer token for the router API)\n");
  process.exit(64);
}
const DB = "demo-shop";
const SHARDS = ["dbplane_demo_shard_0", "dbplane_demo_shard_1"];

async function call(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined && { "content-type": "application/json" }),
    },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${JSON.stringify(json)}`);
  return json;
}

const admin = new pg.Client({ connectionString: pgUrl.toString() });
await admin.connect();
for (const name of SHARDS) {
  const exists = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
  if (exists.rowCount === 0) await admin.query(`CREATE DATABASE "${name}"`);
}
await admin.end();
await mkdir(dataDir, { recursive: true });
const passwordFile = join(dataDir, "demo-shop-password");
// What the local driver would write; the local server trusts local connections anyway.
await writeFile(passwordFile, `${decodeURIComponent(pgUrl.password) || "demo"}\n`, { mode: 0o600 });

// The demo plays the provisioner (announcing what its local driver would), so the router accepts
// the database.ready. That works on ./scripts/dev's anonymous NATS only: under the chart's NATS
// users nobody but the provisioner may publish provisioner events.
const bus = await connectBus({
  servers: (process.env.DBPLANE_NATS_URL ?? "nats://127.0.0.1:4222").split(","),
  name: "provisioner",
  logger: createLogger({ name: "router-demo", level: "warn" }),
  namespace: process.env.DBPLANE_NATS_NAMESPACE || undefined,
});
await bus.ensureTopology();
await bus.publish(
  databaseReady,
  {
    name: DB,
    version: 1,
    postgresVersion: 15,
    shards: SHARDS.map((dbname, shard) => ({
      shard,
      primary: { host: pgUrl.hostname, port: Number(pgUrl.port || 5432) },
      replicas: [],
      dbname,
      user: decodeURIComponent(pgUrl.username) || "postgres",
      passwordRef: { kind: "file" as const, path: passwordFile },
    })),
  },
  { subject: DB, id: `${DB}:ready:1` },
);
await bus.close();

let shards: Record<string, unknown> | undefined;
for (let i = 0; i < 100 && !shards; i++) {
  shards = await call("GET", `/v1/databases/${DB}/shards`).catch(() => undefined);
  if (!shards) await new Promise((r) => setTimeout(r, 100));
}
if (!shards) throw new Error(`the router did not pick up ${DB}`);
console.log(`${DB}: shard map version ${shards.version}`);

const migration = await call("POST", `/v1/databases/${DB}/migrations`, {
  id: "001-customers",
  statements: ["CREATE TABLE IF NOT EXISTS customers (id bigint PRIMARY KEY, name text NOT NULL)"],
});
console.log(`migration 001-customers: ${JSON.stringify(migration.shards)}`);

const perShard = new Map<number, number>();
for (let id = 1; id <= 200; id++) {
  const res = await call("POST", `/v1/databases/${DB}/query`, {
    sql: "INSERT INTO customers (id, name) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET name = excluded.name",
    params: [id, `customer ${id}`],
    key: { type: "bigint", value: id },
  });
  perShard.set(res.shard as number, (perShard.get(res.shard as number) ?? 0) + 1);
}
console.log(`inserted 200 customers by key: ${[...perShard].map(([s, n]) => `shard ${s}: ${n}`).join(", ")}`);

const one = await call("POST", `/v1/databases/${DB}/query`, {
  sql: "SELECT id, name FROM customers WHERE id = $1",
  params: [42],
  key: { type: "bigint", value: 42 },
  readOnly: true,
});
console.log(`customer 42 is on shard ${one.shard}: ${JSON.stringify(one.rows)}`);

const count = await call("POST", `/v1/databases/${DB}/query`, {
  sql: "SELECT count(*)::int AS n FROM customers",
});
const total = (count.rows as { n: number }[]).reduce((sum, r) => sum + r.n, 0);
console.log(`scatter count(*) over ${(count.shards as unknown[]).length} shards: ${total}`);
