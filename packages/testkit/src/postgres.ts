import pg from "pg";
import { testServerUrls } from "./env.ts";
import { uniqueName } from "./unique-name.ts";

export interface TestSchema {
  /** A schema only this test uses. */
  readonly name: string;
  /** The platform database URL the services read from `DBPLANE_PG_URL`. */
  readonly url: string;
  /** A small pool whose connections have `search_path` set to the schema. */
  readonly pool: pg.Pool;
  /** Drops the schema with everything in it and closes the pool. */
  drop(): Promise<void>;
}

/** Creates a fresh PostgreSQL schema in the platform database, for one test. */
export async function createTestSchema(prefix = "t"): Promise<TestSchema> {
  const url = testServerUrls().postgres;
  const name = uniqueName(prefix);
  const pool = new pg.Pool({ connectionString: url, max: 4, options: `-c search_path=${name}` });
  await pool.query(`CREATE SCHEMA "${name}"`);
  return {
    name,
    url,
    pool,
    async drop() {
      try {
        await pool.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
      } finally {
        await pool.end();
      }
    },
  };
}

export interface TestDatabase {
  readonly name: string;
  /** URL of the new database. */
  readonly url: string;
  drop(): Promise<void>;
}

/** Creates a whole database, for tests that need their own (e.g. a shard). */
export async function createTestDatabase(prefix = "t"): Promise<TestDatabase> {
  const adminUrl = testServerUrls().postgres;
  const name = uniqueName(prefix);
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        // pg.Pool's end() resolves once it has *asked* its clients to end, not when they have:
        // FORCE right away could terminate a session still closing, whose FATAL 57P01 then
        // reaches a pool that has no error listener any more — an unhandled error that failed
        // test runs whose tests all passed. Give closing sessions a moment; FORCE the rest.
        const deadline = Date.now() + 5_000;
        while (Date.now() < deadline) {
          const { rows } = await client.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1",
            [name],
          );
          if (rows[0]?.n === 0) break;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
