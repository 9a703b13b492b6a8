import { describe, expect, it } from "vitest";
import { buildGraph, renderMermaid } from "../src/domain/graph.ts";
import { filterRecords, parseLabelSelector } from "../src/domain/inventory-filter.ts";
import type { AppRecord, DatabaseRecord } from "../src/domain/inventory-types.ts";
import { shopDatabase } from "./records.ts";

const db: DatabaseRecord = shopDatabase({ tier: "data" });
const app: AppRecord = {
  id: "a1",
  name: "checkout",
  workload: { namespace: "shop", kind: "Deployment", name: "checkout", uid: "a1" },
  databases: [
    {
      via: "env",
      variable: "DATABASE_URL",
      databaseId: "db1",
      endpoint: { host: "pg", port: 5432 },
      target: "discovered",
      role: "any",
    },
    { via: "env", variable: "PGHOST", endpoint: { host: "db.example.com", port: 5432 }, target: "external" },
  ],
  labels: { app: "checkout", team: "pay" },
};

describe("graph", () => {
  it("links apps to databases and to external endpoints", () => {
    const graph = buildGraph({ databases: [db], apps: [app] });
    expect(graph.nodes.map((n) => [n.id, n.type])).toEqual([
      ["db1", "database"],
      ["a1", "app"],
      ["external:db.example.com:5432", "external"],
    ]);
    expect(graph.edges).toEqual([
      { from: "a1", to: "db1", via: "env DATABASE_URL", role: "any" },
      { from: "a1", to: "external:db.example.com:5432", via: "env PGHOST" },
    ]);
  });

  it("renders Mermaid with quoted, escaped labels", () => {
    const text = renderMermaid(
      buildGraph({ databases: [{ ...db, workload: { ...db.workload!, name: 'p"g' } }], apps: [app] }),
    );
    expect(text.split("\n")).toEqual([
      "flowchart LR",
      '  n0[("shop/p#34;g")]',
      '  n1["shop/checkout"]',
      '  n2{{"db.example.com:5432"}}',
      '  n1 -->|"env DATABASE_URL (any)"| n0',
      '  n1 -->|"env PGHOST"| n2',
      "",
    ]);
  });
});

describe("filters", () => {
  it.each([
    ["team=pay", ["a1"]],
    ["team==pay", ["a1"]],
    ["team!=pay", []],
    ["team", ["a1"]],
    ["!team", []],
    ["app=checkout,team=pay", ["a1"]],
  ])("label %s", (selector, ids) => {
    expect(filterRecords([app], { labels: parseLabelSelector(selector) }).map((a) => a.id)).toEqual(ids);
  });

  it.each(["=x", "a=b=c", "!a=b", "bad key=x", "a=bad value", ""])("refuses %j", (selector) => {
    expect(() => parseLabelSelector(selector)).toThrow(RangeError);
  });

  it("filters by namespace; local databases have none", () => {
    const local: DatabaseRecord = { ...db, id: "l", driver: "local", workload: undefined };
    expect(filterRecords([db, local], { namespace: "shop" }).map((d) => d.id)).toEqual(["db1"]);
  });
});
