import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  cloudEventType,
  commandSubject,
  defineCommand,
  defineEvent,
  eventSubject,
  InvalidMessageNameError,
  type ServiceName,
} from "../src/index.ts";

describe("subject and type builders", () => {
  it("build the documented shapes", () => {
    expect(commandSubject("provisioner", "create-database")).toBe("dbplane.cmd.provisioner.create-database");
    expect(eventSubject("provisioner", "shard.ready")).toBe("dbplane.evt.provisioner.shard.ready");
    expect(cloudEventType("provisioner", "shard.ready", 2)).toBe("io.dbplane.provisioner.shard.ready.v2");
  });

  it.each([
    "",
    "Create-Database",
    "create_database",
    "create.database",
    "create database",
    "1st",
    "a.*",
    ">",
  ])("commandSubject rejects the name %j", (name) => {
    expect(() => commandSubject("provisioner", name)).toThrow(InvalidMessageNameError);
  });

  it.each(["ready", "shard.Ready", "shard..ready", "shard.ready.now", "shard.*", "shard.>", "shard ready.x"])(
    "eventSubject rejects the name %j",
    (name) => {
      expect(() => eventSubject("provisioner", name)).toThrow(InvalidMessageNameError);
    },
  );

  it("rejects unknown services and bad versions", () => {
    expect(() => commandSubject("billing" as ServiceName, "pay-invoice")).toThrow(
      /unknown service "billing"/,
    );
    expect(() => eventSubject("x.y" as ServiceName, "a.b")).toThrow(InvalidMessageNameError);
    expect(() => cloudEventType("router", "shard.hot", 0)).toThrow(/version 0/);
    expect(() => cloudEventType("router", "shard.hot", 1.5)).toThrow(/version 1.5/);
    expect(() => cloudEventType("router", "Shard.hot", 1)).toThrow(InvalidMessageNameError);
  });

  it("define* produce frozen definitions with derived subject and type", () => {
    const cmd = defineCommand({ service: "router", name: "split-shard", schema: z.object({}), summary: "s" });
    const evt = defineEvent({
      service: "router",
      name: "shard.hot",
      version: 3,
      schema: z.object({}),
      summary: "s",
    });
    expect(cmd).toMatchObject({ kind: "command", subject: "dbplane.cmd.router.split-shard", version: 1 });
    expect(evt).toMatchObject({ kind: "event", type: "io.dbplane.router.shard.hot.v3" });
    expect(Object.isFrozen(cmd)).toBe(true);
  });
});
