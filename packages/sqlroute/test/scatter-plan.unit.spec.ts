import { beforeAll, describe, expect, it } from "vitest";
import { loadParser, type StatementPlan, StatementPlanner } from "../src/index.ts";
import { TABLES } from "./planner-fixtures.ts";

let planner: StatementPlanner;
beforeAll(async () => {
  await loadParser();
  planner = new StatementPlanner(TABLES);
});

const plan = (sql: string): StatementPlan => planner.planStatement(sql);
const none = { orderBy: [], aggregates: [], groupBy: [], distinct: false, hiddenColumns: 0 };

describe("scatter reads: the per-shard SQL and the merge plan", () => {
  it.each([
    [
      "SELECT * FROM pgbench_accounts WHERE abalance > 0",
      "SELECT * FROM pgbench_accounts WHERE abalance > 0",
      none,
    ],
    [
      "select count(*) from pgbench_branches",
      "select count(*) from pgbench_branches",
      { ...none, aggregates: [{ column: 0, fn: "count" }] },
    ],
    [
      "SELECT aid, abalance FROM pgbench_accounts ORDER BY abalance DESC, 1 LIMIT 10 OFFSET 20",
      "SELECT aid, abalance FROM pgbench_accounts ORDER BY abalance DESC, 1 LIMIT 30",
      {
        ...none,
        orderBy: [
          { column: 1, descending: true, nullsFirst: true },
          { column: 0, descending: false, nullsFirst: false },
        ],
        limit: 10,
        offset: 20,
      },
    ],
    [
      "SELECT aid AS id FROM pgbench_accounts ORDER BY id NULLS FIRST OFFSET 5 FETCH FIRST 3 ROWS ONLY",
      "SELECT aid AS id FROM pgbench_accounts ORDER BY id NULLS FIRST LIMIT 8",
      { ...none, orderBy: [{ column: 0, descending: false, nullsFirst: true }], limit: 3, offset: 5 },
    ],
    [
      "SELECT aid FROM pgbench_accounts ORDER BY abalance LIMIT $1 OFFSET $2",
      "SELECT aid, abalance FROM pgbench_accounts ORDER BY abalance LIMIT ($1)::int8 + ($2)::int8",
      {
        ...none,
        orderBy: [{ column: 1, descending: false, nullsFirst: false }],
        limitParam: 0,
        offsetParam: 1,
        hiddenColumns: 1,
      },
    ],
    [
      "SELECT bid, avg(abalance), count(*) FROM pgbench_accounts GROUP BY bid ORDER BY bid LIMIT 5",
      "SELECT bid, avg(abalance), count(*), sum(abalance), count(abalance) FROM pgbench_accounts GROUP BY bid ORDER BY bid",
      {
        ...none,
        aggregates: [
          { column: 1, fn: "avg", sumColumn: 3, countColumn: 4 },
          { column: 2, fn: "count" },
        ],
        groupBy: [0],
        orderBy: [{ column: 0, descending: false, nullsFirst: false }],
        limit: 5,
        hiddenColumns: 2,
      },
    ],
    [
      "SELECT sum(abalance) FILTER (WHERE aid > 3), min(aid), max(aid) FROM pgbench_accounts GROUP BY bid ORDER BY count(*) DESC",
      "SELECT sum(abalance) FILTER (WHERE aid > 3), min(aid), max(aid), bid, count(*) FROM pgbench_accounts GROUP BY bid ORDER BY count(*) DESC",
      {
        ...none,
        aggregates: [
          { column: 0, fn: "sum" },
          { column: 1, fn: "min" },
          { column: 2, fn: "max" },
          { column: 4, fn: "count" },
        ],
        groupBy: [3],
        orderBy: [{ column: 4, descending: true, nullsFirst: true }],
        hiddenColumns: 2,
      },
    ],
    [
      "SELECT DISTINCT bid FROM pgbench_accounts ORDER BY bid LIMIT 2",
      "SELECT DISTINCT bid FROM pgbench_accounts ORDER BY bid LIMIT 2",
      { ...none, distinct: true, orderBy: [{ column: 0, descending: false, nullsFirst: false }], limit: 2 },
    ],
    [
      "SELECT *, 'é' FROM pgbench_accounts ORDER BY 'é', abalance",
      "SELECT *, 'é', abalance FROM pgbench_accounts ORDER BY 'é', abalance",
      {
        ...none,
        orderBy: [
          { column: -2, descending: false, nullsFirst: false },
          { column: -1, descending: false, nullsFirst: false },
        ],
        hiddenColumns: 1,
      },
    ],
  ])("%s", (sql, rewrittenSql, merge) => {
    expect(plan(sql)).toEqual({ sql, kind: "scatter", rewrittenSql, merge });
  });

  it("a read of several keys (IN) carries a merge plan for the shards they name", () => {
    expect(plan("SELECT aid FROM pgbench_accounts WHERE aid IN (1, 2) ORDER BY aid LIMIT 1")).toMatchObject({
      kind: "keyed",
      merge: { orderBy: [{ column: 0 }], limit: 1 },
      rewrittenSql: "SELECT aid FROM pgbench_accounts WHERE aid IN (1, 2) ORDER BY aid LIMIT 1",
    });
  });

  it("keeps a statement after others in the same query string intact", () => {
    const plans = planner.planQuery("SELECT 1; SELECT avg(abalance) FROM pgbench_accounts");
    expect(plans[1]).toMatchObject({
      kind: "scatter",
      rewrittenSql: "SELECT avg(abalance), sum(abalance), count(abalance) FROM pgbench_accounts",
    });
  });
});

describe("scatter reads that cannot be merged are refused with 0A000 and a hint", () => {
  it.each([
    ["SELECT aid, rank() OVER (ORDER BY abalance) FROM pgbench_accounts", /window functions/],
    ["SELECT bid, count(*) FROM pgbench_accounts GROUP BY bid HAVING count(*) > 1", /HAVING/],
    ["SELECT string_agg(filler, ',') FROM pgbench_accounts", /string_agg/],
    ["SELECT stddev(abalance) FROM pgbench_accounts", /stddev/],
    ["SELECT count(DISTINCT bid) FROM pgbench_accounts", /DISTINCT/],
    ["SELECT sum(abalance) + 1 FROM pgbench_accounts", /inside an expression/],
    ["SELECT DISTINCT ON (bid) bid, aid FROM pgbench_accounts", /DISTINCT ON/],
    ["SELECT bid, count(*) FROM pgbench_accounts GROUP BY ROLLUP (bid)", /ROLLUP/],
    ["SELECT aid FROM pgbench_accounts ORDER BY aid FETCH FIRST 3 ROWS WITH TIES", /WITH TIES/],
    ["SELECT aid FROM pgbench_accounts LIMIT 2 + 3", /LIMIT/],
    ["SELECT my_agg(aid) FILTER (WHERE aid > 0) FROM pgbench_accounts", /aggregate my_agg\(\)/],
    ["SELECT bid, my_agg(aid ORDER BY aid) FROM pgbench_accounts GROUP BY bid", /aggregate my_agg\(\)/],
    ["SELECT aid, sum(abalance) OVER (PARTITION BY bid) FROM pgbench_accounts", /window functions/],
  ])("%s", (sql, message) => {
    const result = plan(sql);
    expect(result).toMatchObject({ kind: "refused", code: "0A000", message: expect.stringMatching(message) });
    expect(result).toHaveProperty("hint");
  });
});
