import type { PostgresServer } from "@dbplane/testkit";
import pg from "pg";
import { pino } from "pino";
import type { RangeMoveSpec, ShardConnection } from "../src/index.ts";

export const testLogger = pino({ level: process.env.DBPLANE_TEST_LOG ?? "silent" });

export function shardOf(server: PostgresServer): ShardConnection {
  return { host: "127.0.0.1", port: server.port, database: "postgres", user: "postgres" };
}

export async function sql<R extends pg.QueryResultRow = pg.QueryResultRow>(
  server: PostgresServer,
  text: string,
  values: unknown[] = [],
): Promise<R[]> {
  const client = new pg.Client({ connectionString: server.url });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

export const SEED_ROWS = 10_000;

/** accounts (bigint key), users (text key), plans (unsharded) in `schema`, the same on every server. */
export async function createTables(servers: readonly PostgresServer[], schema: string): Promise<void> {
  for (const server of servers) {
    await sql(
      server,
      `CREATE SCHEMA ${schema};
       CREATE TABLE ${schema}.accounts (id bigint PRIMARY KEY, balance int NOT NULL, note text);
       CREATE TABLE ${schema}.users (email text PRIMARY KEY, name text NOT NULL);
       CREATE TABLE ${schema}.plans (id int PRIMARY KEY, title text NOT NULL);`,
    );
  }
}

/** ~20k rows on the source: SEED_ROWS accounts and users, 100 plans. */
export async function seed(source: PostgresServer, schema: string): Promise<void> {
  await sql(
    source,
    `INSERT INTO ${schema}.accounts SELECT g, g % 1000, md5(g::text) FROM generate_series(1, ${SEED_ROWS}) g;
     INSERT INTO ${schema}.users SELECT 'user' || g || '@example.com', 'name ' || g FROM generate_series(1, ${SEED_ROWS}) g;
     INSERT INTO ${schema}.plans SELECT g, 'plan ' || g FROM generate_series(1, 100) g;`,
  );
}

export function specFor(
  id: string,
  source: PostgresServer,
  target: PostgresServer,
  schema: string,
  from: bigint,
  to: bigint,
): RangeMoveSpec {
  return {
    id,
    source: shardOf(source),
    target: shardOf(target),
    sourceFromTarget: { host: "127.0.0.1", port: source.port },
    tables: [
      { table: `${schema}.accounts`, key: { column: "id", type: "bigint" } },
      { table: `${schema}.users`, key: { column: "email", type: "text" } },
      { table: `${schema}.plans` },
    ],
    from,
    to,
  };
}

/** The moved rows of each table (sharded: hash in [from, to), computed by PostgreSQL), in key order. */
export async function rowsOfRange(
  server: PostgresServer,
  schema: string,
  from: bigint,
  to: bigint,
  inside = true,
): Promise<{ accounts: unknown[]; users: unknown[]; plans: unknown[] }> {
  const within = (hash: string) => `${inside ? "" : "NOT "}(${hash} >= $1::bigint AND ${hash} < $2::numeric)`;
  const bounds = [from.toString(), to.toString()];
  return {
    accounts: await sql(
      server,
      `SELECT * FROM ${schema}.accounts WHERE ${within("hashint8extended(id, 0)")} ORDER BY id`,
      bounds,
    ),
    users: await sql(
      server,
      `SELECT * FROM ${schema}.users WHERE ${within("hashtextextended(email, 0)")} ORDER BY email`,
      bounds,
    ),
    plans: inside ? await sql(server, `SELECT * FROM ${schema}.plans ORDER BY id`) : [],
  };
}

/**
 * Inserts, updates (also of the shard key, which moves a row across the range's edge) and deletes
 * rows of every table on the source until stopped, in small transactions; resolves with the count.
 */
export function startWriter(
  source: PostgresServer,
  schema: string,
): { ops(): number; stop(): Promise<number> } {
  let running = true;
  let ops = 0;
  const done = (async () => {
    const client = new pg.Client({ connectionString: source.url });
    await client.connect();
    let next = 1_000_000;
    const pick = () => 1 + Math.floor(Math.random() * SEED_ROWS);
    try {
      while (running) {
        const n = next++;
        await client.query(
          `BEGIN;
           INSERT INTO ${schema}.accounts VALUES (${n}, 1, 'new');
           UPDATE ${schema}.accounts SET balance = balance + 1, note = 'updated' WHERE id = ${pick()};
           DELETE FROM ${schema}.accounts WHERE id = ${pick()};
           UPDATE ${schema}.accounts SET id = ${n + 5_000_000} WHERE id = ${pick()};
           INSERT INTO ${schema}.users VALUES ('new${n}@example.com', 'new');
           UPDATE ${schema}.users SET name = 'renamed' WHERE email = 'user${pick()}@example.com';
           DELETE FROM ${schema}.users WHERE email = 'user${pick()}@example.com';
           UPDATE ${schema}.plans SET title = 'plan v${n}' WHERE id = ${1 + (n % 100)};
           COMMIT;`,
        );
        ops++;
      }
    } finally {
      await client.end();
    }
  })();
  return {
    ops: () => ops,
    async stop() {
      running = false;
      await done;
      return ops;
    },
  };
}

/** Whether any object of the move is left on either server. */
export async function leftovers(source: PostgresServer, target: PostgresServer, name: string) {
  const [pub] = await sql<{ n: number }>(
    source,
    "SELECT count(*)::int AS n FROM pg_publication WHERE pubname = $1",
    [name],
  );
  const [slots] = await sql<{ n: number }>(source, "SELECT count(*)::int AS n FROM pg_replication_slots");
  const [role] = await sql<{ n: number }>(
    source,
    "SELECT count(*)::int AS n FROM pg_roles WHERE rolname = $1",
    [name],
  );
  const [sub] = await sql<{ n: number }>(
    target,
    "SELECT count(*)::int AS n FROM pg_subscription WHERE subname = $1",
    [name],
  );
  return { publications: pub!.n, slots: slots!.n, roles: role!.n, subscriptions: sub!.n };
}
