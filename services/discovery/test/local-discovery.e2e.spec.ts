import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectBus } from "@dbplane/bus";
import { databaseDeleted, databaseReady } from "@dbplane/contracts";
import { createLogger } from "@dbplane/service-kit";
import { createTestDatabase, testServerUrls, waitFor } from "@dbplane/testkit";
import { afterEach, beforeEach, describe, expect, it, onTestFailed } from "vitest";
import { createDiscoveryWorld, type DiscoveryWorld, shortType } from "./discovery-world.ts";

let world: DiscoveryWorld;
beforeEach(async () => {
  world = await createDiscoveryWorld();
});
afterEach(() => world.dispose());

const server = new URL(testServerUrls().postgres);
const host = server.hostname;
const port = Number(server.port || 5432);
const idOf = (dbname: string) => `local:${host}:${port}/${dbname}`;
const has = async (type: string, id: string) =>
  (await world.events()).some((e) => shortType(e.type) === type && e.subject === id);

describe("discovery on this machine (local driver, real PostgreSQL)", () => {
  it("lists the databases of a configured server: a new one is discovered, a dropped one lost", async () => {
    // Twice in today's fresh-clone runs this hit vitest's 60 s timeout, which does not say which
    // step was slow: on failure, print how far it got and when.
    const started = Date.now();
    const steps: string[] = [];
    const step = (what: string) => steps.push(`${Date.now() - started} ms ${what}`);
    onTestFailed(() => console.error(`local discovery test stood at:\n  ${steps.join("\n  ")}`));
    const replica = await world.startReplica({
      env: {
        DBPLANE_DISCOVERY_DRIVER: "local",
        DBPLANE_DISCOVERY_POSTGRES_URLS: testServerUrls().postgres,
        DBPLANE_DISCOVERY_POLL_MS: "200",
        // Resync every second and forget lost facts at once, so the pruning shows below.
        DBPLANE_DISCOVERY_RESYNC_MS: "1000",
        DBPLANE_DISCOVERY_LOST_RETENTION_MS: "0",
      },
    });
    step("replica ready");
    const db = await createTestDatabase("disc");
    step(`created ${db.name}`);
    try {
      await waitFor(() => has("database.discovered", idOf(db.name)), { what: "the new database" });
      step("discovered");
      const listed = await replica.get("/v1/databases");
      const found = (listed.json as { items: { id: string; dbname?: string; driver: string }[] }).items.find(
        (d) => d.id === idOf(db.name),
      );
      expect(found).toMatchObject({ driver: "local", dbname: db.name, endpoint: { host, port } });
    } finally {
      await db.drop();
      step("dropped");
    }
    await waitFor(() => has("database.lost", idOf(db.name)), { what: "the dropped database lost" });
    step("lost");
    const events = (await world.events())
      .filter((e) => e.subject === idOf(db.name))
      .map((e) => shortType(e.type));
    expect(events).toEqual(["database.discovered", "database.lost"]);
    // The lost fact's record leaves the bucket at the next resync; nothing more is published.
    const key = Buffer.from(idOf(db.name)).toString("base64url");
    await waitFor(async () => !(await world.bucketText("discovery_facts")).includes(key), {
      what: "the lost fact pruned from the bucket",
      timeoutMs: 15_000,
    });
    step("pruned");
    // At least this one: other tests create and drop databases on the same server meanwhile.
    expect(await replica.metric("dbplane_discovery_facts_pruned_total")).toBeGreaterThanOrEqual(1);
    expect((await world.events()).filter((e) => e.subject === idOf(db.name))).toHaveLength(2);
  });

  it("lists the provisioner's clusters it hears of, and never prints a configured server's password", async () => {
    const dir = await mkdtemp(join(tmpdir(), "discovery-"));
    const passwordFile = join(dir, "password");
    await writeFile(passwordFile, "File-Pw-31337\n");
    await chmod(passwordFile, 0o600);
    const replica = await world.startReplica({
      env: {
        DBPLANE_DISCOVERY_DRIVER: "local",
        // Nothing listens on port 1: the failure is logged, the URL's password is not.
        DBPLANE_DISCOVERY_POSTGRES_URLS: "postgres://watcher:Unreach-Pw-42@127.0.0.1:1/postgres",
        DBPLANE_DISCOVERY_POLL_MS: "200",
      },
    });
    // The test plays the provisioner, the only service discovery takes its events from.
    const bus = await connectBus({
      servers: world.nats.url,
      name: "provisioner",
      logger: createLogger({ name: "test", level: "silent" }),
      namespace: world.nats.namespace,
    });
    try {
      const shard = {
        shard: 0,
        primary: { host, port },
        replicas: [],
        dbname: "postgres",
        user: server.username || "postgres",
        passwordRef: { kind: "file" as const, path: passwordFile },
      };
      await bus.publish(
        databaseReady,
        { name: "orders", version: 1, postgresVersion: 17, shards: [shard] },
        { subject: "orders" },
      );
      await waitFor(() => has("database.discovered", idOf("postgres")), { what: "the shard's databases" });
      const [event] = (await world.events()).filter((e) => e.subject === idOf("postgres"));
      expect(event?.data).toMatchObject({
        managedBy: "dbplane",
        labels: { "dbplane.io/database": "orders", "dbplane.io/shard": "0" },
      });
      expect((await replica.get("/v1/databases?label=dbplane.io%2Fdatabase%3Dorders")).json).toMatchObject({
        items: expect.arrayContaining([expect.objectContaining({ id: idOf("postgres") })]),
      });

      await bus.publish(databaseDeleted, { name: "orders", volumesKept: true }, { subject: "orders" });
      await waitFor(() => has("database.lost", idOf("postgres")), { what: "the shard's databases lost" });
      expect(world.output()).toContain("cannot list databases");
      const seen = world.output() + (await world.events()).map((e) => e.raw).join("\n");
      expect(seen).not.toContain("Unreach-Pw-42");
      expect(seen).not.toContain("File-Pw-31337");
    } finally {
      await bus.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
