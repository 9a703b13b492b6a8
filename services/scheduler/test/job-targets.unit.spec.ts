import { describe, expect, it } from "vitest";
import { serviceTargetProblem, subjectMatches } from "../src/domain/service-targets.ts";
import { targetNamespace } from "../src/domain/target-namespace.ts";
import { ownerTargetProblem } from "../src/domain/target-privilege.ts";

describe("targetNamespace", () => {
  it("publishes logical subjects inside the namespace; its own prefix counts as already applied", () => {
    const ns = targetNamespace("blue");
    expect(ns.resolve("dbplane.cmd.provisioner.run-backup")).toEqual({
      logical: "dbplane.cmd.provisioner.run-backup",
      wire: "blue.dbplane.cmd.provisioner.run-backup",
    });
    expect(ns.resolve("blue.dbplane.cmd.router.rebalance-check")).toEqual({
      logical: "dbplane.cmd.router.rebalance-check",
      wire: "blue.dbplane.cmd.router.rebalance-check",
    });
    expect(ns.resolve("orders.tick")).toEqual({ logical: "orders.tick", wire: "blue.orders.tick" });
  });

  it("without a namespace, subjects are published as written", () => {
    expect(targetNamespace(undefined).resolve("dbplane.evt.router.x.y")).toEqual({
      logical: "dbplane.evt.router.x.y",
      wire: "dbplane.evt.router.x.y",
    });
  });

  it("refuses another installation's dbplane subjects, with or without a namespace of its own", () => {
    for (const ns of [undefined, "blue"]) {
      const resolved = targetNamespace(ns).resolve("green.dbplane.cmd.provisioner.delete-database");
      expect(resolved).toMatchObject({ problem: expect.stringContaining('namespace "green"') });
    }
    expect(targetNamespace("blue").resolve("blue.green.dbplane.evt.x.y")).toHaveProperty("problem");
  });
});

describe("what a service may schedule", () => {
  it("matches NATS wildcards", () => {
    expect(subjectMatches("dbplane.evt.router.>", "dbplane.evt.router.shard.hot")).toBe(true);
    expect(subjectMatches("dbplane.evt.router.>", "dbplane.evt.router")).toBe(false);
    expect(subjectMatches("a.*.c", "a.b.c")).toBe(true);
    expect(subjectMatches("a.*.c", "a.b.c.d")).toBe(false);
  });

  it("its own commands and events and the commands whose sentBy names it, nothing else", () => {
    expect(serviceTargetProblem("router", "dbplane.cmd.router.rebalance-check")).toBeNull();
    expect(serviceTargetProblem("router", "dbplane.cmd.provisioner.add-shard")).toBeNull();
    expect(serviceTargetProblem("router", "dbplane.evt.router.shard.hot")).toBeNull();
    expect(serviceTargetProblem("router", "dbplane.cmd.provisioner.delete-database")).toContain(
      "router service may not publish",
    );
    expect(serviceTargetProblem("router", "dbplane.evt.provisioner.database.ready")).not.toBeNull();
    expect(serviceTargetProblem("router", "dbplane.dlq.router.x")).not.toBeNull();
    expect(serviceTargetProblem("router", "orders.tick")).not.toBeNull();
  });

  it("a service owner is judged by what it publishes, whatever scopes were recorded", () => {
    const router = { id: "service:dbplane/router", scopes: ["admin"] };
    const gc = { kind: "nats", subject: "dbplane.cmd.provisioner.delete-database" };
    expect(ownerTargetProblem(gc, router)).toContain("router service may not publish");
    expect(ownerTargetProblem(gc, { id: "ops", scopes: ["admin"] })).toBeNull();
    expect(ownerTargetProblem({ kind: "http" }, router)).toContain("only NATS subjects");
    expect(ownerTargetProblem(gc, { id: "service:evil/attacker", scopes: ["admin"] })).toContain(
      "no dbplane service",
    );
  });
});
