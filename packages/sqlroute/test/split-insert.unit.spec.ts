import { beforeAll, describe, expect, it } from "vitest";
import { loadParser, PlanError, type StatementPlan, StatementPlanner, splitInsert } from "../src/index.ts";
import { TABLES } from "./planner-fixtures.ts";

let planner: StatementPlanner;
beforeAll(async () => {
  await loadParser();
  planner = new StatementPlanner(TABLES);
});

type InsertSplit = Extract<StatementPlan, { kind: "insert-split" }>;

function planSplit(sql: string): InsertSplit {
  const plan = planner.planStatement(sql);
  if (plan.kind !== "insert-split") throw new Error(`expected insert-split, got ${plan.kind}`);
  return plan;
}

/** Even keys on shard 0, odd ones on shard 1: enough to see which row went where. */
const byParity = (key: string) => Number(key) % 2;

describe("splitInsert: a multi-row INSERT becomes one statement per shard", () => {
  it("sends each literal row to its key's shard, keeping the column list and RETURNING", () => {
    const plan = planSplit(
      "INSERT INTO pgbench_accounts (aid, bid, abalance, filler) VALUES (1, 1, 0, 'é'), (2, 1, 0, 'b'), (3, 1, 0, 'c') RETURNING aid",
    );
    const parts = splitInsert(plan, [], byParity);
    expect([...parts.keys()]).toEqual([1, 0]);
    expect(parts.get(1)).toEqual({
      sql: "INSERT INTO pgbench_accounts (aid, bid, abalance, filler) VALUES (1, 1, 0, 'é'), (3, 1, 0, 'c') RETURNING aid",
      params: [],
      sourceParams: [],
    });
    expect(parts.get(0)?.sql).toBe(
      "INSERT INTO pgbench_accounts (aid, bid, abalance, filler) VALUES (2, 1, 0, 'b') RETURNING aid",
    );
  });

  it("renumbers each part's parameters from $1, keeping the ones of ON CONFLICT in every part", () => {
    const plan = planSplit(
      "INSERT INTO pgbench_accounts (aid, abalance) VALUES ($1, $2), ($3::int, $4), ($5, '$6') ON CONFLICT (aid) DO UPDATE SET abalance = $6",
    );
    const parts = splitInsert(plan, ["10", "100", "11", "110", "12", "-1"], byParity);
    expect(parts.get(0)).toEqual({
      sql: "INSERT INTO pgbench_accounts (aid, abalance) VALUES ($1, $2), ($3, '$6') ON CONFLICT (aid) DO UPDATE SET abalance = $4",
      params: ["10", "100", "12", "-1"],
      sourceParams: [0, 1, 4, 5],
    });
    expect(parts.get(1)).toEqual({
      sql: "INSERT INTO pgbench_accounts (aid, abalance) VALUES ($1::int, $2) ON CONFLICT (aid) DO UPDATE SET abalance = $3",
      params: ["11", "110", "-1"],
      sourceParams: [2, 3, 5],
    });
  });

  it("keeps a leading comment and a mixed literal/parameter key list", () => {
    const plan = planSplit("/* app */ INSERT INTO events (id, body) VALUES (4, $1), ($2, $1)");
    const parts = splitInsert(plan, ["x", "7"], byParity);
    expect(parts.get(0)).toEqual({
      sql: "/* app */ INSERT INTO events (id, body) VALUES (4, $1)",
      params: ["x"],
      sourceParams: [0],
    });
    expect(parts.get(1)).toEqual({
      sql: "/* app */ INSERT INTO events (id, body) VALUES ($2, $1)",
      params: ["x", "7"],
      sourceParams: [0, 1],
    });
  });

  it("refuses a row whose key parameter is NULL: it has no shard", () => {
    const plan = planSplit("INSERT INTO events (id) VALUES ($1), ($2)");
    expect(() => splitInsert(plan, ["1", null], byParity)).toThrow(PlanError);
    expect(() => splitInsert(plan, ["1", null], byParity)).toThrow(/row 2 .* NULL shard key/);
  });
});
