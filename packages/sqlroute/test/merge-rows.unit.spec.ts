import { describe, expect, it } from "vitest";
import { type MergePlan, mergeRows, PlanError, TYPE_OID } from "../src/index.ts";

const none: MergePlan = { orderBy: [], aggregates: [], groupBy: [], distinct: false, hiddenColumns: 0 };
const { int4, int8, numeric, text, float8, float4, timestamptz } = TYPE_OID;
const asc = (column: number) => ({ column, descending: false, nullsFirst: false });
const desc = (column: number) => ({ column, descending: true, nullsFirst: true });

describe("mergeRows: ORDER BY, LIMIT and OFFSET over shards' sorted rows", () => {
  it("merges numerically (10 after 9), keeps each shard's order and applies OFFSET then LIMIT", () => {
    const shards = [[["1"], ["9"], ["10"]], [["2"], ["11"]], []];
    expect(mergeRows({ ...none, orderBy: [asc(0)], offset: 1, limit: 3 }, [int4], shards)).toEqual([
      ["2"],
      ["9"],
      ["10"],
    ]);
  });

  it("sorts NULLs last ascending and first descending by default, and as NULLS FIRST/LAST says", () => {
    const shards = [[["1"], [null]], [["2"]]];
    expect(mergeRows({ ...none, orderBy: [asc(0)] }, [int8], shards)).toEqual([["1"], ["2"], [null]]);
    expect(mergeRows({ ...none, orderBy: [desc(0)] }, [int8], [[[null], ["1"]], [["2"]]])).toEqual([
      [null],
      ["2"],
      ["1"],
    ]);
    const nullsFirstAsc = { column: 0, descending: false, nullsFirst: true };
    expect(mergeRows({ ...none, orderBy: [nullsFirstAsc] }, [int8], [[[null], ["1"]], [["2"]]])).toEqual([
      [null],
      ["1"],
      ["2"],
    ]);
  });

  it("compares numeric exactly, text by code point, timestamptz by instant across offsets", () => {
    const big = [[["12345678901234567890.5"]], [["12345678901234567890.25"]]];
    expect(mergeRows({ ...none, orderBy: [asc(0)] }, [numeric], big)).toEqual([
      ["12345678901234567890.25"],
      ["12345678901234567890.5"],
    ]);
    expect(mergeRows({ ...none, orderBy: [asc(0)] }, [text], [[["B"], ["a"]], [["Z"]]])).toEqual([
      ["B"],
      ["Z"],
      ["a"],
    ]);
    const times = [[["2024-01-01 10:00:00+02"]], [["2024-01-01 09:30:00+00"]]];
    expect(mergeRows({ ...none, orderBy: [asc(0)] }, [timestamptz], times)).toEqual([
      ["2024-01-01 10:00:00+02"],
      ["2024-01-01 09:30:00+00"],
    ]);
  });

  it("breaks ties on the next ORDER BY column and drops the hidden columns", () => {
    const plan = { ...none, orderBy: [asc(1), desc(0)], hiddenColumns: 1 };
    const shards = [
      [
        ["a", "1"],
        ["c", "2"],
      ],
      [["b", "1"]],
    ];
    expect(mergeRows(plan, [text, int4], shards)).toEqual([["b"], ["a"], ["c"]]);
  });

  it("takes LIMIT and OFFSET given as parameters from the bind values", () => {
    const plan = { ...none, orderBy: [asc(0)], limitParam: 0, offsetParam: 1 };
    expect(
      mergeRows(
        plan,
        [int4],
        [
          [["1"], ["3"]],
          [["2"], ["4"]],
        ],
        ["2", "1"],
      ),
    ).toEqual([["2"], ["3"]]);
    expect(mergeRows(plan, [int4], [[["1"], ["3"]], [["2"]]], [null, "0"])).toEqual([["1"], ["2"], ["3"]]);
  });

  it("a column counted from the end (after SELECT *) is the row's last ones", () => {
    const plan = { ...none, orderBy: [asc(-1)], hiddenColumns: 1 };
    expect(mergeRows(plan, [text, text, int4], [[["x", "y", "2"]], [["p", "q", "1"]]])).toEqual([
      ["p", "q"],
      ["x", "y"],
    ]);
  });
});

describe("mergeRows: aggregates and GROUP BY", () => {
  it("count(*) of every shard is ONE row with the exact int8 total", () => {
    const plan = { ...none, aggregates: [{ column: 0, fn: "count" as const }] };
    expect(mergeRows(plan, [int8], [[["9007199254740993"]], [["1"]], [["0"]]])).toEqual([
      ["9007199254740994"],
    ]);
  });

  it("sum of numeric is exact with the widest scale; sum of only NULLs is NULL", () => {
    const plan = { ...none, aggregates: [{ column: 0, fn: "sum" as const }] };
    expect(mergeRows(plan, [numeric], [[["0.10"]], [["0.2"]], [[null]]])).toEqual([["0.30"]]);
    expect(mergeRows(plan, [numeric], [[[null]], [[null]]])).toEqual([[null]]);
    expect(mergeRows(plan, [float8], [[["0.1"]], [["0.2"]]])).toEqual([["0.30000000000000004"]]);
    expect(mergeRows(plan, [float4], [[["0.1"]], [["0.2"]]])).toEqual([["0.3"]]);
  });

  it("min and max ignore NULLs and compare by type", () => {
    const plan = {
      ...none,
      aggregates: [
        { column: 0, fn: "min" as const },
        { column: 1, fn: "max" as const },
      ],
    };
    expect(mergeRows(plan, [int4, int4], [[["10", "9"]], [["9", "10"]], [[null, null]]])).toEqual([
      ["9", "10"],
    ]);
  });

  it("avg is the sum of the hidden sums over the sum of the hidden counts, as PostgreSQL rounds it", () => {
    const plan = {
      ...none,
      aggregates: [{ column: 0, fn: "avg" as const, sumColumn: 1, countColumn: 2 }],
      hiddenColumns: 2,
    };
    // avg(int) of 1, 2 on one shard and 2 on the other: 5/3.
    expect(mergeRows(plan, [numeric, int8, int8], [[["1.5", "3", "2"]], [["2.0", "2", "1"]]])).toEqual([
      ["1.6666666666666667"],
    ]);
    expect(mergeRows(plan, [numeric, int8, int8], [[[null, null, "0"]], [[null, null, "0"]]])).toEqual([
      [null],
    ]);
  });

  it("GROUP BY combines each group's rows from every shard, then sorts and limits the groups", () => {
    const plan: MergePlan = {
      ...none,
      groupBy: [0],
      aggregates: [{ column: 1, fn: "count" }],
      orderBy: [desc(1)],
      limit: 2,
    };
    const shards = [
      [
        ["a", "1"],
        ["b", "5"],
        [null, "1"],
      ],
      [
        ["a", "3"],
        ["c", "2"],
        [null, "1"],
      ],
    ];
    expect(mergeRows(plan, [text, int8], shards)).toEqual([
      ["b", "5"],
      ["a", "4"],
    ]);
    expect(mergeRows({ ...plan, limit: undefined }, [text, int8], shards)).toContainEqual([null, "2"]);
  });

  it("groups equal numeric values written differently together", () => {
    const plan: MergePlan = { ...none, groupBy: [0], aggregates: [{ column: 1, fn: "sum" }] };
    expect(mergeRows(plan, [numeric, int8], [[["1.50", "1"]], [["1.5", "2"]]])).toEqual([["1.50", "3"]]);
  });

  it("refuses to sum a type it cannot add exactly, with 0A000", () => {
    const plan = { ...none, aggregates: [{ column: 0, fn: "sum" as const }] };
    const interval = 1186;
    expect(() => mergeRows(plan, [interval], [[["1 day"]], [["2 days"]]])).toThrow(PlanError);
    try {
      mergeRows(plan, [interval], [[["1 day"]], [["2 days"]]]);
    } catch (error) {
      expect(error).toMatchObject({ code: "0A000" });
    }
  });
});

describe("mergeRows: DISTINCT", () => {
  it("keeps one of each visible row across shards", () => {
    const plan = { ...none, distinct: true, orderBy: [asc(0)], limit: 3 };
    expect(
      mergeRows(
        plan,
        [int4],
        [
          [["1"], ["2"], ["4"]],
          [["2"], ["3"], ["4"]],
        ],
      ),
    ).toEqual([["1"], ["2"], ["3"]]);
  });
});
