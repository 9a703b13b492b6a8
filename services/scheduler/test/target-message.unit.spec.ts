import { runBackup } from "@dbplane/contracts";
import type { MsgHdrsImpl } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import type { NatsTarget } from "../src/domain/job-definition.ts";
import { TargetKind } from "../src/domain/limits.ts";
import { targetNamespace } from "../src/domain/target-namespace.ts";
import { buildsAhead, targetMessage } from "../src/firing/target-message.ts";

const ns = targetNamespace("stack");
const resolved = (subject: string) => {
  const r = ns.resolve(subject);
  if ("problem" in r) throw new Error(r.problem);
  return r;
};
const at = new Date("2030-01-02T03:04:05.000Z");
const decoder = new TextDecoder();

describe("target messages", () => {
  it("carry the job id, the due time and the occurrence id as Nats-Msg-Id, on the wire subject", () => {
    const target: NatsTarget = {
      kind: TargetKind.nats,
      subject: "orders.tick",
      payload: { n: 1 },
      headers: { "x-tenant": "a" },
    };
    const m = targetMessage("job-1", target, resolved("orders.tick"), at, "job-1:occ");
    expect(m.subject).toBe("stack.orders.tick");
    expect(decoder.decode(m.payload)).toBe('{"n":1}');
    expect(m.headers.get("dbplane-job-id")).toBe("job-1");
    expect(m.headers.get("dbplane-scheduled-at")).toBe(at.toISOString());
    expect(m.headers.get("Nats-Msg-Id")).toBe("job-1:occ");
    expect(m.headers.get("x-tenant")).toBe("a");
  });

  it("encode their headers once, and again after a header changed", () => {
    const target: NatsTarget = { kind: TargetKind.nats, subject: "orders.tick", payload: null };
    const m = targetMessage("job-1", target, resolved("orders.tick"), at, "job-1:occ");
    // What nats.js calls when it sends the message.
    const headers = m.headers as MsgHdrsImpl;
    const first = headers.encode();
    expect(headers.encode()).toBe(first);
    headers.set("x-extra", "1");
    const changed = decoder.decode(headers.encode());
    expect(changed).toContain("x-extra: 1");
    expect(changed).toContain("Nats-Msg-Id: job-1:occ");
  });

  it("are built ahead unless they are CloudEvents, whose time is the firing's", () => {
    expect(buildsAhead(resolved("orders.tick"))).toBe(true);
    const command = resolved(runBackup.subject);
    expect(buildsAhead(command)).toBe(false);
    const before = Date.now();
    const target: NatsTarget = {
      kind: TargetKind.nats,
      subject: runBackup.subject,
      payload: { name: "shop", backupId: "b1" },
    };
    const m = targetMessage("job-2", target, command, at, "job-2:occ");
    expect(m.headers.get("ce-type")).toBe(runBackup.type);
    expect(m.headers.get("ce-id")).toBe("job-2:occ");
    expect(Date.parse(m.headers.get("ce-time"))).toBeGreaterThanOrEqual(before);
  });
});
