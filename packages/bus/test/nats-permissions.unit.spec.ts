import { SERVICES } from "@dbplane/contracts";
import { describe, expect, it } from "vitest";
import { servicePermissions } from "../src/index.ts";

describe("servicePermissions", () => {
  const perms = servicePermissions();
  const mayPublish = (service: keyof typeof perms, subject: string) =>
    perms[service].publish.allow.includes(subject);

  it("gives delete-database to the provisioner only, and each command to its declared producers", () => {
    const senders = SERVICES.filter((s) => mayPublish(s, "dbplane.cmd.provisioner.delete-database"));
    expect(senders).toEqual(["provisioner"]);
    expect(mayPublish("scheduler", "dbplane.cmd.provisioner.run-backup")).toBe(true);
    expect(mayPublish("router", "dbplane.cmd.provisioner.add-shard")).toBe(true);
    expect(mayPublish("router", "dbplane.cmd.scheduler.schedule-job")).toBe(true);
    expect(mayPublish("collector", "dbplane.cmd.scheduler.schedule-job")).toBe(false);
  });

  it("lets a service publish its own events only, never delete a stream, and write its own buckets", () => {
    for (const service of SERVICES) {
      const events = perms[service].publish.allow.filter((s) => s.startsWith("dbplane.evt."));
      expect(events).toEqual([`dbplane.evt.${service}.>`]);
      expect(perms[service].publish.allow.some((s) => /STREAM\.DELETE|^>$|^\$JS\.API\.>$/.test(s))).toBe(
        false,
      );
      expect(perms[service].subscribe.allow).toEqual([`_INBOX_${service}.>`]);
    }
    const writers = SERVICES.filter((s) => mayPublish(s, "$KV.dbplane_shardmaps.>"));
    expect(writers).toEqual(["router"]);
    const pullers = SERVICES.filter(
      (s) => !perms[s].publish.deny.includes("$JS.API.CONSUMER.MSG.NEXT.DBPLANE_CMD.provisioner"),
    );
    expect(pullers).toEqual(["provisioner"]);
  });

  it("lets a service dead-letter on its own DLQ subjects only, and read no dead letters", () => {
    for (const service of SERVICES) {
      const dlq = perms[service].publish.allow.filter((s) => s.startsWith("dbplane.dlq."));
      expect(dlq).toEqual([`dbplane.dlq.${service}.>`]);
      expect(perms[service].publish.deny).toContain("$JS.API.CONSUMER.*.DBPLANE_DLQ.>");
      expect(perms[service].publish.deny).toContain("$JS.API.STREAM.MSG.GET.DBPLANE_DLQ");
    }
  });

  it("keeps the router's event durables and fence buckets to the router", () => {
    const pullers = SERVICES.filter(
      (s) => !perms[s].publish.deny.includes("$JS.API.CONSUMER.MSG.NEXT.DBPLANE_EVT.router"),
    );
    expect(pullers).toEqual(["router"]);
    const fenceReaders = SERVICES.filter(
      (s) => !perms[s].publish.deny.includes("$JS.API.CONSUMER.*.KV_dbplane_router_fences.>"),
    );
    expect(fenceReaders).toEqual(["router"]);
    // shardmaps stays readable by all (the provisioner and the collector follow it).
    expect(perms.collector.publish.deny.some((s) => s.includes("KV_dbplane_shardmaps"))).toBe(false);
  });

  it("names the namespaced subjects, streams and buckets", () => {
    const ns = servicePermissions({ namespace: "stack_a" });
    expect(ns.provisioner.publish.allow).toContain("stack_a.dbplane.cmd.provisioner.delete-database");
    expect(ns.provisioner.publish.allow).toContain("$JS.API.STREAM.CREATE.STACK_A_DBPLANE_CMD");
    expect(ns.router.publish.allow).toContain("$KV.stack_a_dbplane_shardmaps.>");
  });
});
