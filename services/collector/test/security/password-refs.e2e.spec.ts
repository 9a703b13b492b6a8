// Issue 16, item 4 (review finding 2) in the collector: a provisioned shard's passwordRef travels
// in `shard.ready` / `database.ready`, which anyone on the bus could forge. One that points at the
// collector's own environment or a Secret the provisioner never issued is refused (DLQ with the
// reason) before any target exists, so the collector never sends it to the server the event names.

import { type Bus, connectBus } from "@dbplane/bus";
import { databaseReady, serviceSource, shardReady } from "@dbplane/contracts";
import { createLogger } from "@dbplane/service-kit";
import { uniqueName, waitFor } from "@dbplane/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CollectorWorld, createCollectorWorld } from "../collector-world.ts";

// The test plays the provisioner: only its ce-source gets past the source check to the ref check.
const PROVISIONER = serviceSource("provisioner");

let world: CollectorWorld;
let bus: Bus;
let base: string;

beforeAll(async () => {
  world = await createCollectorWorld({ DBPLANE_COLLECTOR_INTERVAL_MS: "500" });
  bus = await connectBus({
    servers: world.nats.url,
    name: "collector-security-test",
    logger: createLogger({ name: "collector-security-test", level: "silent" }),
    namespace: world.nats.namespace,
  });
  await bus.ensureTopology();
  base = (await world.startReplica()).base;
});
afterAll(async () => {
  await bus?.close();
  await world?.dispose();
});

/** Errors of the dead letters whose CloudEvents subject is `subject`. */
function deadLetters(subject: string): { errors: string[]; stop(): void } {
  const errors: string[] = [];
  const sub = world.nats.nc.subscribe(`${world.nats.namespace}.dbplane.dlq.>`, {
    callback: (_err, m) => {
      if (m.headers?.get("ce-subject") === subject) errors.push(m.headers.get("dbplane-dlq-error"));
    },
  });
  return { errors, stop: () => sub.unsubscribe() };
}

const targetsOf = async (database: string) => {
  const res = await fetch(`${base}/v1/targets`);
  const body = (await res.json()) as { items: { id: string }[] };
  return body.items.filter((t) => t.id.startsWith(`shard:${database}:`));
};

describe("password references the provisioner did not issue", () => {
  it("refuses a shard.ready whose passwordRef is /proc/self/environ", async () => {
    const database = uniqueName("evil")
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, "-");
    const subject = `database/${database}/shard/0`;
    const dlq = deadLetters(subject);
    await world.nats.nc.flush();
    await bus.publish(
      shardReady,
      {
        database,
        shard: 0,
        primary: { host: "127.0.0.1", port: 5432 },
        replicas: [],
        dbname: "x",
        user: "x",
        passwordRef: { kind: "file", path: "/proc/self/environ" },
      },
      { subject, source: PROVISIONER },
    );
    const error = await waitFor(() => dlq.errors[0], { what: "the forged shard.ready in the DLQ" });
    dlq.stop();
    expect(error).toContain("a password file must lie inside DBPLANE_DATA_DIR");
    expect(await targetsOf(database)).toEqual([]);
  });

  it("refuses a database.ready naming a Secret that is not that shard's", async () => {
    const database = uniqueName("evil")
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, "-");
    const dlq = deadLetters(database);
    await world.nats.nc.flush();
    await bus.publish(
      databaseReady,
      {
        name: database,
        version: 1,
        postgresVersion: 15,
        shards: [
          {
            shard: 0,
            primary: { host: "127.0.0.1", port: 5432 },
            replicas: [],
            dbname: "x",
            user: "x",
            passwordRef: {
              kind: "secret",
              namespace: "default",
              name: "dbplane-secrets",
              key: "DBPLANE_PG_URL",
            },
          },
        ],
      },
      { subject: database, source: PROVISIONER },
    );
    const error = await waitFor(() => dlq.errors[0], { what: "the forged database.ready in the DLQ" });
    dlq.stop();
    expect(error).toContain("Secret default/dbplane-secrets is not a provisioner's credentials Secret");
    expect(await targetsOf(database)).toEqual([]);
  });
});
