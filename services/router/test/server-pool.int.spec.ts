// After one of a server's connections is found lost (its backend terminated: a restart, a
// failover's fence, pg_terminate_backend), the other pooled connections opened before are not
// handed out again: a read's one retry must not take the next connection the server already
// killed but whose FATAL the router has not read yet (routing.e2e answered 503 so under load).
import { createLogger } from "@dbplane/service-kit";
import { createTestDatabase, type TestDatabase } from "@dbplane/testkit";
import { afterAll, beforeAll, expect, it } from "vitest";
import { checkoutFresh, ServerPool } from "../src/shards/server-pool.ts";

let db: TestDatabase;
let server: ServerPool;

beforeAll(async () => {
  db = await createTestDatabase("serverpool");
  const url = new URL(db.url);
  server = new ServerPool(
    "test",
    { host: url.hostname, port: Number(url.port || 5432), dbname: db.name, user: url.username || "postgres" },
    undefined,
    { max: 4, statementTimeoutMs: 10_000, connectTimeoutMs: 5_000 },
    createLogger({ name: "test", level: "silent" }),
  );
});
afterAll(async () => {
  await server?.close();
  await db?.drop();
});

const pidOf = async (client: { query: (sql: string) => Promise<{ rows: { pid: number }[] }> }) =>
  (await client.query("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;

it("hands out no connection opened before a loss, of either pool, and keeps those opened after", async () => {
  const held = await Promise.all([checkoutFresh(server.pool), checkoutFresh(server.pool)]);
  const before = await Promise.all(held.map(pidOf));
  for (const c of held) c.release();
  const readOnly = await checkoutFresh(server.readOnlyPool);
  const readOnlyBefore = await pidOf(readOnly);
  readOnly.release();
  expect(server.pool.idleCount).toBe(2);

  server.connectionLost();

  const fresh = await checkoutFresh(server.pool);
  const freshPid = await pidOf(fresh);
  expect(before).not.toContain(freshPid);
  fresh.release();
  // The two opened before were closed, not kept idle for later.
  expect(server.pool.totalCount).toBe(1);
  const freshReadOnly = await checkoutFresh(server.readOnlyPool);
  expect(await pidOf(freshReadOnly)).not.toBe(readOnlyBefore);
  freshReadOnly.release();
  // Opened after the loss: used again.
  const again = await checkoutFresh(server.pool);
  expect(await pidOf(again)).toBe(freshPid);
  again.release();
});
