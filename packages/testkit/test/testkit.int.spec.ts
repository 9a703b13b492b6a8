import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import {
  createTestNats,
  createTestRedis,
  createTestSchema,
  freePort,
  startChildService,
  startPrivateNatsServer,
  uniqueName,
  WaitTimeoutError,
  waitFor,
} from "../src/index.ts";

describe("testkit against the real servers", () => {
  it("gives each test its own PostgreSQL schema and drops it afterwards", async () => {
    const schema = await createTestSchema();
    await schema.pool.query("CREATE TABLE things (id int)");
    const { rows } = await schema.pool.query<{ s: string }>("SELECT current_schema() AS s");
    expect(rows[0]?.s).toBe(schema.name);
    await schema.drop();
    const other = await createTestSchema();
    const gone = await other.pool.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [schema.name]);
    expect(gone.rowCount).toBe(0);
    await other.drop();
  });

  it("cleans up only its own Redis keys", async () => {
    const a = await createTestRedis();
    const b = await createTestRedis();
    await a.redis.set(`${a.prefix}k`, "1");
    await b.redis.set(`${b.prefix}k`, "2");
    await a.cleanup();
    expect(await b.redis.get(`${b.prefix}k`)).toBe("2");
    expect(await b.redis.exists(`${a.prefix}k`)).toBe(0);
    await b.cleanup();
  });

  it("deletes the streams of its namespace and nothing else", async () => {
    const t = await createTestNats();
    const jsm = await jetstreamManager(t.nc);
    const mine = `${t.namespace.toUpperCase()}_X`;
    const theirs = `${uniqueName("o").toUpperCase()}_X`;
    await jsm.streams.add({ name: mine, subjects: [`${t.namespace}.x`] });
    await jsm.streams.add({ name: theirs, subjects: [`${theirs.toLowerCase()}.x`] });
    const probe = await connect({ servers: t.url });
    await t.cleanup();
    const jsm2 = await jetstreamManager(probe);
    await expect(jsm2.streams.info(mine)).rejects.toThrow();
    expect((await jsm2.streams.info(theirs)).config.name).toBe(theirs);
    await jsm2.streams.delete(theirs);
    await probe.close();
  });

  it("starts, stops and restarts a private nats-server on its own port", async () => {
    const server = await startPrivateNatsServer();
    try {
      await server.stop();
      await expect(connect({ servers: server.url, reconnect: false })).rejects.toThrow();
      await server.start();
      const nc = await connect({ servers: server.url });
      await nc.close();
    } finally {
      await server.dispose();
    }
  });

  it("waitFor returns the first truthy value and names what timed out", async () => {
    let n = 0;
    expect(await waitFor(() => (++n >= 3 ? n : undefined), { intervalMs: 1 })).toBe(3);
    await expect(waitFor(() => false, { timeoutMs: 50, what: "nothing" })).rejects.toThrow(
      new WaitTimeoutError("timed out after 50 ms waiting for nothing"),
    );
  });
});

describe("startChildService", () => {
  it("fails as soon as the process exits before it is ready, saying how it exited", async () => {
    const port = await freePort();
    // A deadline far past the test's timeout: only the exit can end the wait in time.
    const starting = startChildService({
      entry: join(import.meta.dirname, "fixtures/exits-at-once.ts"),
      readyUrl: `http://127.0.0.1:${port}/health/ready`,
      readyTimeoutMs: 600_000,
    });
    await expect(starting).rejects.toThrow(
      /process exited with 3 before it was ready:\n.*refusing to start/s,
    );
  });
});
