// What goes wrong during an online split: a cancel before the cut-over leaves clients where they
// were; a kill -9 of the replica running it — while copying, while catching up, during the fenced
// verification — hands the split to the other replica, which resumes from the recorded phase and
// completes; a kill -9 in the cut-over, just before or just after the next map is published,
// leaves either the old map with the source holding the range or the new map with the target
// holding it, never both or neither, and the split completes. The test stops the runner where it
// means: the copy by a lock on the target's table, other points by the routers' hold file
// (DBPLANE_ROUTER_RESHARD_HOLD_FILE), which a runner announces it reached with its pid.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitFor } from "@dbplane/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Body,
  createReshardWorld,
  DB,
  holdCopyInto,
  type ReshardWorld,
  routedCount,
  rowPlacement,
  setUpShop,
} from "./reshard-world.ts";
import { api } from "./router-world.ts";

const ROWS = 5_000;
let w: ReshardWorld;
let holdDir: string;
let holdFile: string;

beforeAll(async () => {
  holdDir = await mkdtemp(join(tmpdir(), "dbplane-reshard-hold-"));
  holdFile = join(holdDir, "hold");
  await writeFile(holdFile, "");
  w = await createReshardWorld(3, { env: { DBPLANE_ROUTER_RESHARD_HOLD_FILE: holdFile } });
  await setUpShop(w, { orders: ROWS, countries: 20 });
}, 120_000);
afterAll(async () => {
  await w?.dispose();
  await rm(holdDir, { recursive: true, force: true });
}, 120_000);

const holdCopy = () => holdCopyInto(w.pools[2]!);

const reshardOf = (id: string) => w.call("GET", `/v1/databases/${DB}/reshards/${id}`).then((r) => r.body);

async function until(id: string, what: (r: Body) => boolean, label: string, timeoutMs = 60_000) {
  return waitFor(
    async () => {
      const r = await reshardOf(id);
      return what(r) && r;
    },
    { what: label, timeoutMs, intervalMs: 100 },
  );
}

/** The split's end: the map in force is `mapVersion`, every row on the shard owning its hash, each once. */
async function expectEveryRowOnItsOwner(mapVersion: number): Promise<void> {
  expect(await rowPlacement(w)).toEqual({ version: mapVersion, stray: 0, total: ROWS });
  expect(await routedCount(w)).toBe(ROWS);
}

/**
 * Two live replicas and shard 2 owning nothing again, as each crash test starts: a replica is
 * started for the one the last test killed, and shard 2 (serving since the last split) is merged back.
 */
async function freshStart(): Promise<void> {
  while (w.routers.filter((r) => r.alive).length < 2) await w.startRouter();
  // A test that failed half-way may leave its split running: it ends first.
  await waitFor(
    async () =>
      (await w.call("GET", `/v1/databases/${DB}/reshards`)).body.reshards.every(
        (r: Body) => r.state !== "running",
      ),
    { what: "no reshard running", timeoutMs: 120_000 },
  );
  const map = (await w.call("GET", `/v1/databases/${DB}/shards`)).body;
  if (map.shards.find((s: { shard: number }) => s.shard === 2)?.ranges.length) {
    const merged = await w.call("POST", `/v1/databases/${DB}/merges`, { shards: [0, 2] });
    expect(merged.status).toBe(202);
    expect((await until(merged.body.id, (r) => r.state !== "running", "the merge")).state).toBe("completed");
  }
}

/**
 * Starts a split of shard 0 onto shard 2 with its runner held at `point`; answers once the runner
 * is there, with the split and the replica running it.
 */
async function splitHeldAt(point: string) {
  await rm(`${holdFile}.held`, { force: true });
  await writeFile(holdFile, point);
  const started = await w.call("POST", `/v1/databases/${DB}/splits`, { shard: 0, toShard: 2 });
  expect(started.status).toBe(202);
  const held = await waitFor(
    async () => {
      const text = (await readFile(`${holdFile}.held`, "utf8").catch(() => "")).trim();
      return text !== "" && text.split(" ");
    },
    { what: `the runner held at ${point}`, timeoutMs: 90_000, intervalMs: 50 },
  );
  expect(held?.[0]).toBe(point);
  const victim = w.routers.find((r) => r.alive && String(r.pid) === held![1]);
  expect(victim).toBeDefined();
  return { id: started.body.id as string, victim: victim! };
}

/** Kills the held runner with SIGKILL and lets any runner pass every point again. */
async function killHeld(victim: ReshardWorld["routers"][number]): Promise<void> {
  await victim.stop("SIGKILL");
  await writeFile(holdFile, "");
}

/** Rows of `orders` on a shard whose key hash falls in [from, to), counted on the shard itself. */
async function rowsIn(shard: number, range: { from: string; to: string }): Promise<number> {
  const { rows } = await w.pools[shard]!.query(
    `SELECT count(*)::int AS n FROM orders
     WHERE hashint8extended(id, 0) >= $1::bigint AND ($2::numeric >= 9223372036854775808 OR hashint8extended(id, 0) < $2::numeric)`,
    [range.from, range.to],
  );
  return rows[0].n;
}

describe("online split: cancel and crash", () => {
  it("cancelled while copying: the map is unchanged and the target holds nothing of it", async () => {
    const before = (await w.call("GET", `/v1/databases/${DB}/shards`)).body;
    const release = await holdCopy();
    const started = await w.call("POST", `/v1/databases/${DB}/splits`, { shard: 0, toShard: 2 });
    expect(started.status).toBe(202);
    await until(started.body.id, (r) => r.phase === "copying", "the copy to start");
    const cancel = await w.call("POST", `/v1/databases/${DB}/reshards/${started.body.id}/cancel`);
    expect(cancel.status).toBe(202);
    await release();
    const ended = await until(started.body.id, (r) => r.state !== "running", "the cancel to finish");
    expect(ended.state).toBe("cancelled");
    const after = (await w.call("GET", `/v1/databases/${DB}/shards`)).body;
    expect(after.version).toBe(before.version);
    for (const table of ["orders", "countries"]) {
      const n = await w.pools[2]!.query(`SELECT count(*)::int AS n FROM ${table}`);
      expect(n.rows[0].n).toBe(0);
    }
    expect((await w.pools[2]!.query("SELECT count(*)::int AS n FROM pg_subscription")).rows[0].n).toBe(0);
    expect((await w.pools[0]!.query("SELECT count(*)::int AS n FROM pg_replication_slots")).rows[0].n).toBe(
      0,
    );
    expect(await routedCount(w)).toBe(ROWS);
  }, 120_000);

  it("the replica running it is killed -9 while copying: the other one resumes it to the end", async () => {
    const release = await holdCopy();
    const started = await w.call("POST", `/v1/databases/${DB}/splits`, { shard: 0, toShard: 2 });
    expect(started.status).toBe(202);
    const copying = await until(
      started.body.id,
      (r) => r.phase === "copying" && r.runner !== null,
      "the copy",
    );
    const victim = w.routers.find((r) => copying.runner.split(":")[1] === String(r.pid));
    expect(victim).toBeDefined();
    await victim!.stop("SIGKILL");
    await release();
    const done = await until(started.body.id, (r) => r.state !== "running", "the split to finish", 120_000);
    expect(done).toMatchObject({ state: "completed", targetShard: 2 });
    expect(done.runner).toBeNull();
    await expectEveryRowOnItsOwner(done.mapVersion);
  }, 180_000);

  it("the replica running it is killed -9 while its fence waits for another replica's acknowledgement: the other one finishes it", async () => {
    await freshStart(); // two replicas again: one to kill, one to finish

    const releaseCopy = await holdCopy();
    const started = await w.call("POST", `/v1/databases/${DB}/splits`, { shard: 0, toShard: 2 });
    expect(started.status).toBe(202);
    const copying = await until(
      started.body.id,
      (r) => r.phase === "copying" && r.runner !== null,
      "the copy",
    );
    const victim = w.routers.find((r) => copying.runner.split(":")[1] === String(r.pid))!;
    const other = w.routers.find((r) => r !== victim && r.alive)!;
    // The other replica stops answering: the fence of the verification waits for its
    // acknowledgement (its heartbeat is still within its lease) — the runner is surely fenced.
    process.kill(other.pid, "SIGSTOP");
    let resumed = false;
    try {
      await releaseCopy();
      const token = w.world.token();
      await waitFor(
        async () => {
          const r = await api(victim.base, token, "GET", `/v1/databases/${DB}/reshards/${started.body.id}`);
          return r.body.phase === "verifying";
        },
        { what: "the fenced verification", intervalMs: 50 },
      );
      await victim.stop("SIGKILL");
      process.kill(other.pid, "SIGCONT");
      resumed = true;
    } finally {
      if (!resumed) process.kill(other.pid, "SIGCONT");
    }
    const done = await until(started.body.id, (r) => r.state !== "running", "the split to finish", 120_000);
    expect(done).toMatchObject({ state: "completed", targetShard: 2 });
    await expectEveryRowOnItsOwner(done.mapVersion);
    // Writes flow again: the dead runner's fence was lifted by the one that finished.
    const write = await w.call("POST", `/v1/databases/${DB}/query`, {
      sql: "UPDATE orders SET amount = amount WHERE id = 1",
      key: { type: "bigint", value: 1 },
    });
    expect(write.status).toBe(200);
  }, 240_000);
  it("the replica running it is killed -9 while catching up: the other one resumes it to the end", async () => {
    await freshStart();
    const { id, victim } = await splitHeldAt("catching-up");
    expect((await reshardOf(id)).phase).toBe("catching-up");
    await killHeld(victim);
    const done = await until(id, (r) => r.state !== "running", "the split to finish", 120_000);
    expect(done).toMatchObject({ state: "completed", targetShard: 2, runner: null });
    await expectEveryRowOnItsOwner(done.mapVersion);
  }, 240_000);

  // The cut-over's map publish, killed on either side of it: the map in force at the kill is
  // whole — the old one with the source holding every row of the range, or the new one with the
  // target holding them — and the replica that takes over finishes with exactly one new version.
  it.each([
    ["just before the next map is published", "cutting-over:publishing", "old"],
    ["just after the next map is published", "cutting-over:published", "new"],
  ] as const)(
    "the replica running it is killed -9 %s: one map or the other, then completed",
    async (_when, point, expected) => {
      await freshStart();
      const before = (await w.call("GET", `/v1/databases/${DB}/shards`)).body;
      const { id, victim } = await splitHeldAt(point);
      const held = await reshardOf(id);
      expect(held).toMatchObject({ phase: "cutting-over", mapVersion: before.version + 1 });
      const range = held.moved as { from: string; to: string };
      const inRange = await rowsIn(0, range);
      expect(inRange).toBeGreaterThan(0);
      await killHeld(victim);

      // The new version was stored and in the bucket before the kill; the replica asked may
      // still be applying it from its watch. The old one is looked at at once (the taker-over
      // waits out the dead runner's lease before it touches the map).
      const atKill =
        expected === "old"
          ? (await w.call("GET", `/v1/databases/${DB}/shards`)).body
          : await waitFor(
              async () => {
                const map = (await w.call("GET", `/v1/databases/${DB}/shards`)).body;
                return map.version > before.version && map;
              },
              { what: "the published map at the surviving replica" },
            );
      const owner = (version: number) => (version === before.version ? 0 : 2);
      expect(atKill.version).toBe(expected === "old" ? before.version : before.version + 1);
      const owning = atKill.shards
        .filter((s: { ranges: { from: string; to: string }[] }) =>
          s.ranges.some((r) => BigInt(r.from) <= BigInt(range.from) && BigInt(range.from) < BigInt(r.to)),
        )
        .map((s: { shard: number }) => s.shard);
      expect(owning).toEqual([owner(atKill.version)]);
      expect(await rowsIn(owner(atKill.version), range)).toBe(inRange);

      const done = await until(id, (r) => r.state !== "running", "the split to finish", 120_000);
      expect(done).toMatchObject({ state: "completed", targetShard: 2, mapVersion: before.version + 1 });
      await expectEveryRowOnItsOwner(before.version + 1);
      expect(await rowsIn(2, range)).toBe(inRange);
      expect(await rowsIn(0, range)).toBe(0);
    },
    240_000,
  );
});
