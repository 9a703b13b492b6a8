import { Writable } from "node:stream";
import { createLogger } from "@dbplane/service-kit";
import { createTestSchema, type TestSchema, waitFor } from "@dbplane/testkit";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DatabaseSpec } from "../src/domain/database-spec.ts";
import type { FailoverOutcome, PrimaryProbe, ShardFailover } from "../src/drivers/driver.ts";
import { createFailoverWatcher, type FailoverMetricOutcome } from "../src/failover/failover-watcher.ts";
import { withDatabaseLock } from "../src/reconcile/database-lock.ts";
import type { Progress } from "../src/store/progress.ts";
import type { Queries } from "../src/store/queries.ts";

// The failover watcher against the real advisory lock, with a driver double: a failover is not
// starved by reconcile passes that hold the database's lock pass after pass, and one shard's
// failover that hangs does not stop the probes (and failovers) of the others.
let schema: TestSchema;

beforeAll(async () => {
  schema = await createTestSchema("fwatch");
});
afterAll(() => schema?.drop());

const PROMOTED: FailoverOutcome = {
  kind: "promoted",
  oldPrimary: { host: "127.0.0.1", port: 1 },
  newPrimary: { host: "127.0.0.1", port: 2 },
  lsn: "0/1",
  endpoint: {} as never,
};

/** Ready databases of one shard each, as the watcher's queries see them. */
function queriesOf(names: readonly string[]): Queries {
  const row = (name: string) => ({ name, state: "ready", spec: { name } });
  return {
    databases: async () => names.map(row),
    database: async (name: string) => (names.includes(name) ? row(name) : undefined),
    shardsOf: async (wanted: readonly string[]) =>
      new Map(wanted.map((n) => [n, [{ shard: 0, state: "ready" }]])),
  } as unknown as Queries;
}

function watcherOf(failover: ShardFailover, names: readonly string[], outcomes: FailoverMetricOutcome[]) {
  const lines: string[] = [];
  const logger = createLogger({
    name: "provisioner",
    level: "info",
    destination: new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    }),
  });
  const watcher = createFailoverWatcher({
    pool: schema.pool,
    schema: schema.name,
    queries: queriesOf(names),
    progress: { shardFailedOver: async () => true } as unknown as Progress,
    failover,
    logger,
    afterMs: 200,
    deadAfterMs: 0,
    probeMs: 50,
    onOutcome: (o) => outcomes.push(o),
  });
  return { watcher, lines };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("failover watcher", () => {
  it("waits for a reconcile pass holding the database's lock instead of losing to pass after pass", async () => {
    let passCount = 0;
    let promoted = false;
    let passesBefore = 0;
    const failover: ShardFailover = {
      probe: async (): Promise<PrimaryProbe> => (promoted ? "up" : "dead"),
      failOver: async () => {
        promoted = true;
        passesBefore = passCount;
        return PROMOTED;
      },
    };
    // Passes back to back, as a resync every 500 ms under load makes them: each holds the lock
    // 300 ms and the next takes it again at once (a try-lock, as passes do).
    const passes = await schema.pool.connect();
    let passing = true;
    const passLoop = (async () => {
      while (passing) {
        const { rows } = await passes.query(
          "SELECT pg_try_advisory_lock(hashtext('dbplane.provisioner.reconcile'), hashtext($1)) AS ok",
          [`${schema.name}:ledger`],
        );
        if (!rows[0].ok) {
          await sleep(20);
          continue;
        }
        passCount++;
        await sleep(300);
        await passes.query(
          "SELECT pg_advisory_unlock(hashtext('dbplane.provisioner.reconcile'), hashtext($1))",
          [`${schema.name}:ledger`],
        );
      }
    })();
    const outcomes: FailoverMetricOutcome[] = [];
    const { watcher } = watcherOf(failover, ["ledger"], outcomes);
    watcher.start();
    try {
      await waitFor(async () => outcomes.includes("promoted"), { what: "the failover", timeoutMs: 30_000 });
      // It queued for the lock behind the pass holding it and got it when that pass ended. A
      // try-lock at each probe had to fall into the gap between two passes: some 30 passes
      // (10 s) went by first.
      expect(passesBefore).toBeGreaterThan(0);
      expect(passesBefore).toBeLessThanOrEqual(5);
      expect(outcomes).toEqual(["promoted"]);
    } finally {
      passing = false;
      await passLoop;
      passes.release();
      await watcher.stop();
    }
  });

  it("goes on probing and failing over other shards while one shard's failover hangs", async () => {
    let unhang: () => void = () => {};
    const hung = new Promise<void>((resolve) => {
      unhang = resolve;
    });
    const calls: string[] = [];
    let stuckDown = false;
    let otherDown = false;
    const failover: ShardFailover = {
      probe: async (spec: DatabaseSpec): Promise<PrimaryProbe> =>
        (spec.name === "stuck" ? stuckDown : otherDown) ? "dead" : "up",
      failOver: async (spec: DatabaseSpec) => {
        calls.push(spec.name);
        if (spec.name === "stuck") await hung;
        else otherDown = false;
        return PROMOTED;
      },
    };
    const outcomes: FailoverMetricOutcome[] = [];
    const { watcher, lines } = watcherOf(failover, ["stuck", "other"], outcomes);
    watcher.start();
    try {
      stuckDown = true;
      await waitFor(async () => calls.includes("stuck"), { what: "the stuck failover", timeoutMs: 10_000 });
      otherDown = true;
      await waitFor(async () => calls.includes("other"), {
        what: "the other shard's failover",
        timeoutMs: 10_000,
      });
      await waitFor(async () => outcomes.includes("promoted"), {
        what: "the other promoted",
        timeoutMs: 10_000,
      });
      // One failover per shard at a time: the hung one was not started again meanwhile.
      expect(calls.filter((c) => c === "stuck")).toEqual(["stuck"]);
      expect(lines.some((l) => l.includes("primary not answering"))).toBe(true);
    } finally {
      unhang();
      await watcher.stop();
    }
    expect(outcomes).toEqual(["promoted", "promoted"]);
  });
});

describe("withDatabaseLock", () => {
  const key = (name: string) => [`${schema.name}:${name}`];
  const hold = async (client: pg.PoolClient, name: string) =>
    client.query(
      "SELECT pg_advisory_lock(hashtext('dbplane.provisioner.reconcile'), hashtext($1))",
      key(name),
    );
  const free = async (client: pg.PoolClient, name: string) =>
    client.query(
      "SELECT pg_advisory_unlock(hashtext('dbplane.provisioner.reconcile'), hashtext($1))",
      key(name),
    );

  it("waits up to waitMs for the lock, gives up after, and leaves no lock_timeout on the pooled connection", async () => {
    const other = await schema.pool.connect();
    try {
      await hold(other, "w");
      // Taken by another session: a pass's try gives up at once, a wait of 100 ms gives up too.
      expect(await withDatabaseLock(schema.pool, schema.name, "w", async () => "ran")).toBeUndefined();
      expect(await withDatabaseLock(schema.pool, schema.name, "w", async () => "ran", 100)).toBeUndefined();
      // Freed while waiting: the wait gets it.
      setTimeout(() => void free(other, "w"), 200);
      expect(await withDatabaseLock(schema.pool, schema.name, "w", async () => "ran", 5_000)).toBe("ran");
      // Released after the work: the other session takes it again at once.
      const { rows } = await other.query(
        "SELECT pg_try_advisory_lock(hashtext('dbplane.provisioner.reconcile'), hashtext($1)) AS ok",
        key("w"),
      );
      expect(rows[0].ok).toBe(true);
      await free(other, "w");
    } finally {
      other.release();
    }
    // lock_timeout was SET LOCAL: no pooled connection keeps it.
    const clients = await Promise.all([0, 1, 2, 3].map(() => schema.pool.connect()));
    try {
      for (const c of clients) expect((await c.query("SHOW lock_timeout")).rows[0].lock_timeout).toBe("0");
    } finally {
      for (const c of clients) c.release();
    }
  });
});
