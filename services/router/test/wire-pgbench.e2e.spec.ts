// pgbench through the router's wire endpoint, its four tables sharded (accounts and history by
// aid, branches by bid, tellers by tid): the initialisation (DDL, inserts, COPY in a
// transaction) lands every row on the shard owning its key, and runs with prepared and extended
// statements finish without a failed transaction.
import { execFile, spawn } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitForMap } from "./router-world.ts";
import { startWireWorld, type WireWorld } from "./wire-world.ts";

const run = promisify(execFile);
let wire: WireWorld;

const tables = [
  { table: "pgbench_accounts", keyColumn: "aid", keyType: "integer" },
  { table: "pgbench_branches", keyColumn: "bid", keyType: "integer" },
  { table: "pgbench_tellers", keyColumn: "tid", keyType: "integer" },
  { table: "pgbench_history", keyColumn: "aid", keyType: "integer" },
] as const;

beforeAll(async () => {
  // As many server connections as pgbench clients: the shared test server has few to spare.
  wire = await startWireWorld(2, "bench", [...tables], { DBPLANE_ROUTER_WIRE_POOL_SIZE: "4" });
});
afterAll(async () => {
  await wire?.dispose();
});

async function pgbench(args: readonly string[], world: WireWorld = wire): Promise<string> {
  try {
    const { stdout, stderr } = await run("pgbench", [...args], { env: world.libpqEnv, timeout: 120_000 });
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

  it("a new shard map version during a run fails no transaction", async () => {
    const bench = spawn("pgbench", ["-N", "-M", "prepared", "-c", "4", "-j", "2", "-T", "4", "-n"], {
      env: wire.libpqEnv,
    });
    let output = "";
    bench.stdout.on("data", (chunk) => (output += chunk));
    bench.stderr.on("data", (chunk) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => bench.on("close", resolve));
    // Once its clients run transactions, the provisioner reports the database again with a
    // replica added to shard 0: version 2, same shards and ranges.
    const before = await wire.world.shards[0]!.pool.query<{ n: string }>(
      "SELECT count(*) AS n FROM pgbench_history",
    );
    for (;;) {
      const now = await wire.world.shards[0]!.pool.query<{ n: string }>(
        "SELECT count(*) AS n FROM pgbench_history",
      );
      if (Number(now.rows[0]!.n) > Number(before.rows[0]!.n) + 20) break;
    }
    await wire.world.announce("bench", {
      version: 2,
      replicas: [[{ host: "127.0.0.1", port: wire.world.shards[0]!.port }], []],
      shardedTables: [...tables],
    });
    await waitForMap(wire.base, wire.world.token(), "bench", 2);
    expect(await exited, output).toBe(0);
    expect(output).toMatch(/number of failed transactions: 0 /);
  });
});

describe("pgbench's default (TPC-B-like) script on a one-shard database", () => {
  let single: WireWorld;
  beforeAll(async () => {
    single = await startWireWorld(1, "tpcb", [...tables], { DBPLANE_ROUTER_WIRE_POOL_SIZE: "2" });
  });
  afterAll(async () => {
    await single?.dispose();
  });

  it("runs with -M extended and -M prepared without a failed transaction; totals add up on the shard", async () => {
    await pgbench(["-i", "-s", "1", "-q"], single);
    for (const mode of ["extended", "prepared"]) {
      const out = await pgbench(["-M", mode, "-c", "2", "-t", "100", "-n"], single);
      expect(out).toContain("number of transactions actually processed: 200/200");
    }
    const { rows } = await single.world.shards[0]!.pool.query<{
      history: string;
      accounts: string;
      tellers: string;
      branches: string;
    }>(
      `SELECT (SELECT count(*) FROM pgbench_history) AS history,
              (SELECT sum(abalance) FROM pgbench_accounts) AS accounts,
              (SELECT sum(tbalance) FROM pgbench_tellers) AS tellers,
              (SELECT sum(bbalance) FROM pgbench_branches) AS branches`,
    );
    expect(rows[0]!.history).toBe("400");
    expect(rows[0]!.accounts).toBe(rows[0]!.tellers);
    expect(rows[0]!.tellers).toBe(rows[0]!.branches);
  });
});
