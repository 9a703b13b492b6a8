import { describe, expect, it } from "vitest";
import { busNames, commonFilterSubject } from "../src/index.ts";

describe("bus names", () => {
  it("uses the plain DESIGN.md names without a namespace", () => {
    const names = busNames();
    expect(names.stream("cmd")).toBe("DBPLANE_CMD");
    expect(names.streamSubjects("evt")).toBe("dbplane.evt.>");
    expect(names.subject("dbplane.evt.provisioner.shard.ready")).toBe("dbplane.evt.provisioner.shard.ready");
    expect(names.dlqSubject("router", "router-commands", "dbplane.cmd.router.split-shard")).toBe(
      "dbplane.dlq.router.router-commands.dbplane.cmd.router.split-shard",
    );
    expect(names.dlqSubjectsOf("router")).toBe("dbplane.dlq.router.>");
    expect(names.bucket("shardmaps")).toBe("dbplane_shardmaps");
  });

  it("prefixes everything with the namespace the testkit cleans up", () => {
    const names = busNames("t_abc");
    expect(names.stream("dlq")).toBe("T_ABC_DBPLANE_DLQ");
    expect(names.streamSubjects("cmd")).toBe("t_abc.dbplane.cmd.>");
    expect(names.contractSubject("t_abc.dbplane.evt.x.y.z")).toBe("dbplane.evt.x.y.z");
    expect(names.dlqSubject("s", "d", "t_abc.dbplane.evt.x.y.z")).toBe(
      "t_abc.dbplane.dlq.s.d.dbplane.evt.x.y.z",
    );
    expect(names.bucket("shardmaps")).toBe("t_abc_dbplane_shardmaps");
  });

  it("rejects names that would break subjects or stream names", () => {
    expect(() => busNames("Bad.ns")).toThrow(/namespace/);
    expect(() => busNames().bucket("a.b")).toThrow(/bucket/);
    // A service name with a dot or wildcard would widen the DLQ subjects its user may publish.
    expect(() => busNames().dlqSubjectsOf("router.>")).toThrow(/subject token/);
    expect(() => busNames().dlqSubject("*", "d", "dbplane.evt.x.y")).toThrow(/subject token/);
  });
});

describe("commonFilterSubject", () => {
  it("is the subject itself for one subject", () => {
    expect(commonFilterSubject(["dbplane.evt.a.b.c", "dbplane.evt.a.b.c"])).toBe("dbplane.evt.a.b.c");
  });

  it("is the longest common token prefix plus > for several", () => {
    expect(commonFilterSubject(["dbplane.evt.p.shard.ready", "dbplane.evt.p.shard.failed"])).toBe(
      "dbplane.evt.p.shard.>",
    );
    expect(commonFilterSubject(["dbplane.evt.p.shard.ready", "dbplane.evt.q.db.lost"])).toBe("dbplane.evt.>");
  });

  it("never ends in a full subject when one is a prefix of another's tokens", () => {
    expect(commonFilterSubject(["a.b", "a.b.c"])).toBe("a.>");
  });
});
