// pgbench through the router's wire endpoint, its four tables sharded (accounts and history by
// aid, branches by bid, tellers by tid): the initialisation (DDL, inserts, COPY in a
// transaction) lands every row on the shard owning its key, and runs with prepared and extended
// statements finish without a failed transaction.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWireWorld, type WireWorld } from "./wire-world.ts";

const run = promisify(execFile);
let wire: WireWorld;

beforeAll(async () => {
  wire = await startWireWorld(2, "bench", [
    { table: "pgbench_accounts", keyColumn: "aid", keyType: "integer" },
    { table: "pgbench_branches", keyColumn: "bid", keyType: "integer" },
    { table: "pgbench_tellers", keyColumn: "tid", keyType: "integer" },
    { table: "pgbench_history", keyColumn: "aid", keyType: "integer" },
  ]);
});
afterAll(async () => {
  await wire?.dispose();
});

async function pgbench(args: readonly string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run("pgbench", [...args], { env: wire.libpqEnv, timeout: 120_000 });
    return `${stdout}\n${stderr}`;
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`pgbench ${args.join(" ")} failed:\n${stdout ?? ""}\n${stderr ?? ""}`, { cause: error });
  }
}

/** Rows of each table per shard, and how many sit on a shard that does not own their key. */
async function placement(table: string, key: string): Promise<{ total: number; misplaced: number }> {
  let total = 0;
  let misplaced = 0;
  for (const [index, shard] of wire.world.shards.entries()) {
    const { rows } = await shard.pool.query<{ key: number }>(`SELECT ${key} AS key FROM ${table}`);
    total += rows.length;
    misplaced += rows.filter((row) => wire.shardOf(row.key) !== index).length;
  }
  return { total, misplaced };
}

describe("pgbench through the router", () => {
  it("pgbench -i -s 1 puts every row on the shard owning its key", async () => {
    await pgbench(["-i", "-s", "1", "-q"]);
    expect(await placement("pgbench_accounts", "aid")).toEqual({ total: 100_000, misplaced: 0 });
    expect(await placement("pgbench_branches", "bid")).toEqual({ total: 1, misplaced: 0 });
    expect(await placement("pgbench_tellers", "tid")).toEqual({ total: 10, misplaced: 0 });
  });

  it("pgbench -S -M prepared: every transaction succeeds", async () => {
    const out = await pgbench(["-S", "-M", "prepared", "-c", "4", "-j", "2", "-t", "200", "-n"]);
    expect(out).toContain("number of transactions actually processed: 800/800");
  });

  it("pgbench -N -M extended (accounts and history, one key per transaction): every transaction succeeds, history rows on their key's shard", async () => {
    const out = await pgbench(["-N", "-M", "extended", "-c", "4", "-j", "2", "-t", "100", "-n"]);
    expect(out).toContain("number of transactions actually processed: 400/400");
    expect(await placement("pgbench_history", "aid")).toEqual({ total: 400, misplaced: 0 });
  });

  it("pgbench -S -M simple: every transaction succeeds", async () => {
    const out = await pgbench(["-S", "-M", "simple", "-c", "2", "-t", "100", "-n"]);
    expect(out).toContain("number of transactions actually processed: 200/200");
  });
});
