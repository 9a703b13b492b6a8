import { join } from "node:path";
import { type Bus, connectBus, handle, serviceInboxPrefix } from "@dbplane/bus";
import {
  databaseReady,
  deleteDatabase,
  type MessageDefinition,
  runBackup,
  serviceSource,
} from "@dbplane/contracts";
import { REPO_ROOT, renderChart, renderedNatsUsers } from "@dbplane/deploy-checks";
import { type PrivateNatsServer, startPrivateNatsServer, waitFor } from "@dbplane/testkit";
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, headers, type NatsConnection } from "@nats-io/transport-node";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Issue 16, item 1: anyone who reached NATS could publish any command. Here a private
// nats-server runs with exactly the users and permissions the Helm chart renders into its
// auth.conf, and each service connects as its own user.
const logger = pino({ level: process.env.DBPLANE_TEST_LOG ?? "silent" });
const SECRET = "dbplane-nats-auth";

describe("the chart's NATS users", () => {
  let server: PrivateNatsServer;
  let users: Map<string, string>;
  const open: { close(): Promise<unknown> }[] = [];

  beforeAll(async () => {
    const objects = renderChart(join(REPO_ROOT, "helm/dbplane"));
    const rendered = renderedNatsUsers(objects, SECRET);
    if (!rendered) throw new Error(`the chart rendered no ${SECRET} Secret with auth.conf`);
    users = new Map(rendered.map((u) => [u.user, u.password]));
    const secret = objects.find((o) => o.kind === "Secret" && o.metadata.name === SECRET)!;
    const authConf = Buffer.from((secret.data as Record<string, string>)["auth.conf"]!, "base64").toString();
    server = await startPrivateNatsServer({
      config: authConf,
      probe: () => ({ user: "provisioner", pass: users.get("provisioner")! }),
    });
  });
  afterAll(async () => {
    for (const o of open.reverse()) await o.close();
    await server?.dispose();
  });

  async function busOf(service: string): Promise<Bus> {
    const password = users.get(service);
    if (!password) throw new Error(`auth.conf has no user ${service}`);
    const bus = await connectBus({
      servers: server.url,
      name: service,
      logger,
      waitOnFirstConnect: false,
      publishTimeoutMs: 2_000,
      auth: { user: service, password },
    });
    open.push(bus);
    await bus.ensureTopology();
    return bus;
  }

  async function connectionOf(service: string): Promise<NatsConnection> {
    const nc = await connect({
      servers: server.url,
      user: service,
      pass: users.get(service)!,
      // As the bus connects: a user may subscribe to its own inboxes only.
      inboxPrefix: serviceInboxPrefix(service),
    });
    open.push(nc);
    return nc;
  }

  async function storedOn(nc: NatsConnection, def: MessageDefinition): Promise<number> {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info("DBPLANE_CMD", { subjects_filter: def.subject });
    return info.state.subjects?.[def.subject] ?? 0;
  }

  it("refuses a connection without credentials", async () => {
    await expect(connect({ servers: server.url, reconnect: false })).rejects.toThrow(/authorization/i);
  });

  it("refuses a forged delete-database from any user but the provisioner's", async () => {
    const provisioner = await busOf("provisioner");
    const provisionerNc = await connectionOf("provisioner");
    for (const service of ["collector", "router", "scheduler", "discovery", "projection-coordinator"]) {
      const bus = await busOf(service);
      await expect(
        bus.publish(deleteDatabase, { name: "shop", keepVolumes: false }, { subject: "shop" }),
        `${service} publishing delete-database`,
      ).rejects.toThrow(
        /refused: Permissions Violation for Publish to "dbplane.cmd.provisioner.delete-database"/,
      );
    }
    expect(await storedOn(provisionerNc, deleteDatabase)).toBe(0);

    // The provisioner's own command and the scheduler's run-backup (a declared producer) pass.
    const handled: string[] = [];
    const consumer = await provisioner.consume({
      durable: "provisioner",
      handlers: [
        handle(deleteDatabase, (event) => void handled.push(event.source)),
        handle(runBackup, (event) => void handled.push(event.source)),
      ],
    });
    await provisioner.publish(deleteDatabase, { name: "shop", keepVolumes: false }, { subject: "shop" });
    const scheduler = await busOf("scheduler");
    await scheduler.publish(runBackup, { name: "shop", backupId: "nightly" }, { subject: "shop" });
    await waitFor(() => handled.length === 2, { what: "the provisioner's and the scheduler's commands" });
    await consumer.stop();
    expect(handled.sort()).toEqual(["dbplane/provisioner", "dbplane/scheduler"]);

    // Nor may another service take the provisioner's commands off its durable, or delete it.
    const collector = await connectionOf("collector");
    const pull = JSON.stringify({ batch: 1, expires: 1_000_000_000 });
    await expect(
      collector.request("$JS.API.CONSUMER.MSG.NEXT.DBPLANE_CMD.provisioner", pull, { timeout: 2_000 }),
    ).rejects.toThrow(/Permissions Violation/);
    await expect(
      (await jetstreamManager(collector)).consumers.delete("DBPLANE_CMD", "provisioner"),
    ).rejects.toThrow(/Permissions Violation/);
  });

  it("refuses another service's events", async () => {
    const collector = await connectionOf("collector");
    await expect(
      jetstream(collector).publish("dbplane.evt.provisioner.database.ready", "{}", { timeout: 2_000 }),
    ).rejects.toThrow(/Permissions Violation/);
  });

  it("lets only the router write the shardmaps bucket; others may read it", async () => {
    const router = await busOf("router");
    const maps = await router.kv<{ v: number }>("shardmaps");
    await maps.put("shop", { v: 1 });
    const collector = await connectionOf("collector");
    await expect(
      jetstream(collector).publish("$KV.dbplane_shardmaps.shop", JSON.stringify({ v: 666 }), {
        timeout: 2_000,
      }),
    ).rejects.toThrow();
    const jsm = await jetstreamManager(collector);
    await expect(jsm.streams.purge("KV_dbplane_shardmaps")).rejects.toThrow();
    await expect(jsm.streams.delete("KV_dbplane_shardmaps")).rejects.toThrow();
    const last = await jsm.streams.getMessage("KV_dbplane_shardmaps", {
      last_by_subj: "$KV.dbplane_shardmaps.shop",
    });
    expect(last?.json()).toEqual({ v: 1 });
  });

  it("lets a service dead-letter on its own DLQ subjects only, and none read the DLQ", async () => {
    // The provisioner dead-letters a run-backup the scheduler sent with a payload that is no JSON.
    const provisioner = await busOf("provisioner");
    const consumer = await provisioner.consume({
      durable: "provisioner",
      handlers: [handle(runBackup, () => {})],
    });
    const scheduler = await connectionOf("scheduler");
    const h = headers();
    for (const [k, v] of Object.entries({
      "ce-specversion": "1.0",
      "ce-id": "dlq-probe",
      "ce-type": runBackup.type,
      "ce-source": serviceSource("scheduler"),
      "ce-subject": "shop",
      "ce-time": new Date().toISOString(),
    }))
      h.set(k, v);
    await jetstream(scheduler).publish(runBackup.subject, "not json", { headers: h, msgID: "dlq-probe" });
    const own = `dbplane.dlq.provisioner.provisioner.${runBackup.subject}`;
    const jsm = await jetstreamManager(await connectionOf("collector"));
    await waitFor(
      async () =>
        (await jsm.streams.info("DBPLANE_DLQ", { subjects_filter: own })).state.subjects?.[own] === 1,
      { what: `the provisioner's dead letter on ${own}` },
    );
    await consumer.stop();

    // The collector may not forge the provisioner's dead letters, only publish its own.
    const collector = jetstream(await connectionOf("collector"));
    await expect(
      collector.publish(`dbplane.dlq.provisioner.provisioner.${deleteDatabase.subject}`, "{}", {
        timeout: 2_000,
      }),
    ).rejects.toThrow(/Permissions Violation/);
    await expect(
      collector.publish(`dbplane.dlq.collector-provisioner.${deleteDatabase.subject}`, "{}", {
        timeout: 2_000,
      }),
    ).rejects.toThrow(/Permissions Violation/);
    await collector.publish(`dbplane.dlq.collector.collector-provisioner.${databaseReady.subject}`, "{}");

    // Dead letters copy every service's messages: no service user reads them back.
    await expect(jsm.streams.getMessage("DBPLANE_DLQ", { seq: 1 })).rejects.toThrow(/Permissions Violation/);
    await expect(
      jsm.consumers.add("DBPLANE_DLQ", { ack_policy: AckPolicy.None, inactive_threshold: 10_000_000_000 }),
    ).rejects.toThrow(/Permissions Violation/);
  });

  it("keeps the router's event durable and write-fence watchers to the router", async () => {
    const router = await busOf("router");
    const routerEvents = await router.consume({
      durable: "router",
      ordered: true,
      handlers: [handle(databaseReady, () => {})],
    });
    // The router's fence watch (services/router/src/fence/fence-book.ts watches this bucket).
    const fences = await router.kv<{ state: string }>("router_fences");
    await fences.put("shop.f1", { state: "raised" });
    const watching = new AbortController();
    const seen: string[] = [];
    const watch = (async () => {
      for await (const change of fences.watch(undefined, { signal: watching.signal })) seen.push(change.key);
    })();
    await waitFor(() => seen.includes("shop.f1"), { what: "the router's fence watch" });
    const routerJsm = await jetstreamManager(await connectionOf("router"));
    const watchers = await routerJsm.consumers.list("KV_dbplane_router_fences").next();
    expect(watchers.length).toBeGreaterThan(0);

    const collector = await connectionOf("collector");
    const jsm = await jetstreamManager(collector);
    const pull = JSON.stringify({ batch: 1, expires: 1_000_000_000 });
    await expect(
      collector.request("$JS.API.CONSUMER.MSG.NEXT.DBPLANE_EVT.router", pull, { timeout: 2_000 }),
    ).rejects.toThrow(/Permissions Violation/);
    await expect(jsm.consumers.delete("DBPLANE_EVT", "router")).rejects.toThrow(/Permissions Violation/);
    // Nor find, delete or shadow the fence watchers, nor read the fences.
    await expect(jsm.consumers.list("KV_dbplane_router_fences").next()).rejects.toThrow(
      /Permissions Violation/,
    );
    await expect(jsm.consumers.delete("KV_dbplane_router_fences", watchers[0]!.name)).rejects.toThrow(
      /Permissions Violation/,
    );
    await expect(
      jsm.consumers.add("KV_dbplane_router_fences", {
        name: "router-fence-watch",
        ack_policy: AckPolicy.None,
      }),
    ).rejects.toThrow(/Permissions Violation/);
    await expect(
      jsm.streams.getMessage("KV_dbplane_router_fences", {
        last_by_subj: "$KV.dbplane_router_fences.shop.f1",
      }),
    ).rejects.toThrow(/Permissions Violation/);

    // Nor listen to what JetStream delivers to the router's inboxes (the watch's changes).
    for (const subject of ["_INBOX.>", "_INBOX_router.>"]) {
      const sub = collector.subscribe(subject);
      // The server answers the SUB before the flush's PING: a refused subscription is closed by then.
      await collector.flush();
      expect(sub.isClosed(), subject).toBe(true);
      expect(String(await sub.closed), subject).toMatch(/Permissions Violation for Subscription/);
    }

    // The router's own watch lives on: a later change still reaches it.
    await fences.put("shop.f2", { state: "raised" });
    await waitFor(() => seen.includes("shop.f2"), { what: "the router's fence watch after the attempts" });
    watching.abort();
    await watch;
    await routerEvents.stop();
  });
});
