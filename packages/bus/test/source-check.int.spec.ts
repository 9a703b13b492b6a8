import { deleteDatabase, runBackup, toBinaryHeaders } from "@dbplane/contracts";
import { createTestNats, type TestNats, waitFor } from "@dbplane/testkit";
import { jetstream, jetstreamManager, type StoredMsg } from "@nats-io/jetstream";
import { headers } from "@nats-io/transport-node";
import { Registry } from "prom-client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Bus, DLQ_HEADERS, handle } from "../src/index.ts";
import { openTestBus } from "./test-bus.ts";

// Issue 16, item 1: a raw publish of delete-database with `ce-source: evil/attacker` deleted a
// database. A consumer now accepts a message only from the producers its contract declares.
describe("ce-source check", () => {
  let t: TestNats;
  let provisioner: Bus;
  const registry = new Registry();
  beforeEach(async () => {
    t = await createTestNats();
    provisioner = await openTestBus(t.url, t.namespace, { name: "provisioner", registry });
  });
  afterEach(async () => {
    await provisioner.close();
    await t.cleanup();
  });

  async function dlqMessages(count: number): Promise<StoredMsg[]> {
    const jsm = await jetstreamManager(t.nc);
    const stream = provisioner.names.stream("dlq");
    await waitFor(async () => (await jsm.streams.info(stream)).state.messages >= count, {
      what: `${count} DLQ messages`,
    });
    const out: StoredMsg[] = [];
    for (let seq = 1; out.length < count; seq++) {
      const msg = await jsm.streams.getMessage(stream, { seq });
      if (msg) out.push(msg);
    }
    return out;
  }

  /** A raw JetStream publish of a well-formed command with the given `ce-source`, as `nats pub` would. */
  async function forge(source: string, id: string, type = deleteDatabase.type): Promise<void> {
    const h = headers();
    const attributes = toBinaryHeaders({
      id,
      type,
      source,
      subject: "shop",
      time: new Date().toISOString(),
      specversion: "1.0",
      datacontenttype: "application/json",
    });
    for (const [name, value] of Object.entries(attributes)) h.set(name, value);
    const subject = provisioner.names.subject(deleteDatabase.subject);
    await jetstream(t.nc).publish(subject, JSON.stringify({ name: "shop", keepVolumes: false }), {
      headers: h,
      msgID: id,
    });
  }

  it("dead-letters a delete-database whose ce-source is not the provisioner, and handles the provisioner's own", async () => {
    const deleted: string[] = [];
    const consumer = await provisioner.consume({
      durable: "provisioner",
      handlers: [handle(deleteDatabase, (event) => void deleted.push(event.id)), handle(runBackup, () => {})],
    });
    await forge("evil/attacker", "forged-1");
    await forge("dbplane/collector", "forged-2");
    await provisioner.publish(
      deleteDatabase,
      { name: "shop", keepVolumes: false },
      { subject: "shop", id: "own" },
    );

    const dead = await dlqMessages(2);
    await waitFor(() => deleted.length === 1, { what: "the provisioner's own command handled" });
    await consumer.stop();
    expect(deleted).toEqual(["own"]);
    expect(dead.map((m) => m.header.get(DLQ_HEADERS.reason))).toEqual([
      "untrusted-source",
      "untrusted-source",
    ]);
    expect(dead[0]!.header.get(DLQ_HEADERS.error)).toContain('ce-source "evil/attacker" may not send');
  });

  it("accepts a command from a declared producer other than its service (the scheduler's run-backup)", async () => {
    const scheduler = await openTestBus(t.url, t.namespace, { name: "scheduler" });
    const backups: string[] = [];
    const consumer = await provisioner.consume({
      durable: "provisioner",
      handlers: [handle(runBackup, (event) => void backups.push(event.source))],
    });
    await scheduler.publish(runBackup, { name: "shop", backupId: "b1" }, { subject: "shop" });
    await waitFor(() => backups.length === 1, { what: "the scheduler's run-backup handled" });
    await Promise.all([consumer.stop(), scheduler.close()]);
    expect(backups).toEqual(["dbplane/scheduler"]);
  });

  it("labels metrics of unknown ce-types `unknown`, so the wire cannot mint series", async () => {
    const consumer = await provisioner.consume({
      durable: "provisioner",
      handlers: [handle(deleteDatabase, () => {}), handle(runBackup, () => {})],
    });
    await forge("dbplane/provisioner", "made-up", "io.dbplane.provisioner.anything-you-like.v1");
    await dlqMessages(1);
    await consumer.stop();
    const handled = (await registry.getMetricsAsJSON()).find((m) => m.name === "dbplane_bus_handled_total");
    const types = new Set(handled?.values.map((v) => v.labels.type));
    expect(types).toContain("unknown");
    expect(types).not.toContain("io.dbplane.provisioner.anything-you-like.v1");
  });
});
