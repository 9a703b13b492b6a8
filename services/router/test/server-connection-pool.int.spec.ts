// The wire pool against a real server that refuses one more connection (the role's CONNECTION
// LIMIT, as a shared server's max_connections would): a client waits for one of the pool's own
// connections instead of failing its statement.
import { randomBytes } from "node:crypto";
import { BackendConnection } from "@dbplane/pgwire";
import { testServerUrls, uniqueName, waitFor } from "@dbplane/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServerConnectionPool } from "../src/wire/server-connection-pool.ts";

const admin = new URL(testServerUrls().postgres);
const role = uniqueName("pool_limit");
const password = randomBytes(12).toString("hex");

async function sql(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

function openAsRole(): Promise<BackendConnection> {
  return BackendConnection.connect({
    host: admin.hostname,
    port: Number(admin.port || 5432),
    user: role,
    password,
    database: admin.pathname.slice(1) || "postgres",
  });
}

describe("ServerConnectionPool when the server takes no more connections", () => {
  beforeAll(() => sql(`CREATE ROLE "${role}" LOGIN CONNECTION LIMIT 1 PASSWORD '${password}'`));
  afterAll(() => sql(`DROP ROLE IF EXISTS "${role}"`));

  it("a checkout waits for a connection the pool already has (53300 on connect), then gets it; the next ones wait without connecting", async () => {
    let connects = 0;
    const counted = () => {
      connects++;
      return openAsRole();
    };
    const pool = new ServerConnectionPool("limited", 0, counted, 3, 10_000);
    const first = await pool.checkout();
    try {
      let second: unknown;
      const waiting = pool.checkout().then(
        (connection) => {
          second = connection;
        },
        (error: Error) => {
          second = error;
        },
      );
      // The refused connect has been answered once the pool counts a waiter.
      await waitFor(() => pool.stats().waiting === 1 || second !== undefined, {
        what: "the second checkout to wait or fail",
      });
      expect(second).toBeUndefined();
      expect(pool.stats()).toMatchObject({ inUse: 1, waiting: 1 });
      // Right after a refusal, a further checkout waits too, without trying to connect again.
      const third = pool.checkout();
      expect(pool.stats()).toMatchObject({ inUse: 1, waiting: 2 });
      expect(connects).toBe(2);
      pool.release(first);
      await waiting;
      expect(second).toBe(first);
      pool.release(first);
      expect(await third).toBe(first);
    } finally {
      // Checked out again by the second checkout: close() ends idle connections only.
      first.backend.close();
      pool.close();
    }
  });

  it("with no connection of its own, the refusal is the client's answer", async () => {
    const pool = new ServerConnectionPool("limited", 0, openAsRole, 2, 10_000);
    // The role's one connection, once the previous test's has gone (its Terminate is async).
    const blocker = await waitFor(() => openAsRole().catch(() => undefined), {
      what: "the role's connection slot to be free",
      timeoutMs: 10_000,
    });
    try {
      await expect(pool.checkout()).rejects.toMatchObject({ fields: { code: "53300" } });
    } finally {
      blocker.close();
      pool.close();
    }
  });
});
