import { join } from "node:path";
import {
  type ChildService,
  createTestNats,
  freePort,
  type PrivateNatsServer,
  startChildService,
  startPrivateNatsServer,
  type TestNats,
  uniqueName,
  waitFor,
} from "@dbplane/testkit";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, headers } from "@nats-io/transport-node";
import { afterEach, describe, expect, it } from "vitest";
import { signToken } from "../src/index.ts";

const secret = "e2e-secret-e2e-secret-e2e-secret-0123";
const entry = join(import.meta.dirname, "fixtures/bus-service.ts");
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startBusService(
  natsUrl: string,
  namespace: string,
): Promise<{ svc: ChildService; base: string }> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const svc = await startChildService({
    entry,
    name: "bus-service",
    readyUrl: `${base}/health/ready`,
    env: {
      DBPLANE_HTTP_HOST: "127.0.0.1",
      DBPLANE_HTTP_PORT: String(port),
      DBPLANE_JWT_SECRET: secret,
      DBPLANE_NATS_URL: natsUrl,
      DBPLANE_NATS_NAMESPACE: namespace,
      DBPLANE_SHUTDOWN_DELAY_MS: "300",
      PUBLISH_TIMEOUT_MS: "20000",
    },
  });
  cleanups.push(() => svc.dispose());
  return { svc, base };
}

/** Publishes a fixture `do-work` command the way another service's bus would. */
async function sendWork(natsUrl: string, namespace: string, workId: string, workMs: number): Promise<void> {
  const nc = await connect({ servers: natsUrl });
  const js = jetstream(nc);
  const h = headers();
  const attrs = {
    "ce-id": workId,
    "ce-type": "io.dbplane.scheduler.do-work.v1",
    // The fixture command is the scheduler's: a consumer takes commands from declared producers only.
    "ce-source": "dbplane/scheduler",
    "ce-subject": workId,
    "ce-time": new Date().toISOString(),
    "ce-specversion": "1.0",
    "ce-datacontenttype": "application/json",
  };
  for (const [k, v] of Object.entries(attrs)) h.set(k, v);
  await js.publish(`${namespace}.dbplane.cmd.scheduler.do-work`, JSON.stringify({ workId, workMs }), {
    headers: h,
    msgID: workId,
  });
  await nc.close();
}

describe("a service built on service-kit and bus", () => {
  it("on SIGTERM turns unready at once, lets the in-flight handler finish, acks it and exits 0", async () => {
    const nats: TestNats = await createTestNats();
    cleanups.push(() => nats.cleanup());
    const { svc, base } = await startBusService(nats.url, nats.namespace);

    await sendWork(nats.url, nats.namespace, "w1", 2_000);
    await waitFor(() => svc.logs().some((l) => l.msg === "work started"), { what: "handler to start" });
    svc.kill("SIGTERM");
    await waitFor(async () => (await fetch(`${base}/health/ready`)).status === 503, {
      what: "readiness 503",
      timeoutMs: 1_000,
    });
    expect(svc.logs().some((l) => l.msg === "work finished")).toBe(false);

    expect(await svc.exited).toBe(0);
    const messages = svc.logs().map((l) => l.msg);
    expect(messages.indexOf("work finished")).toBeGreaterThan(messages.indexOf("work started"));
    // The work-queue stream is empty: the handled command was acked before the process left.
    const jsm = await jetstreamManager(nats.nc);
    const info = await jsm.streams.info(`${nats.namespace.toUpperCase()}_DBPLANE_CMD`);
    expect(info.state.messages).toBe(0);
  });

  it("survives a NATS restart: unready while NATS is down, publishes and consumes again after", async () => {
    const server: PrivateNatsServer = await startPrivateNatsServer();
    cleanups.push(() => server.dispose());
    const namespace = uniqueName("t");
    const { svc, base } = await startBusService(server.url, namespace);
    const token = await signToken(secret, { sub: "e2e", scopes: ["admin"] });
    const post = (id: string) =>
      fetch(`${base}/v1/notes`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ id, note: id }),
      });

    expect((await post("before")).status).toBe(201);
    await server.stop();
    await waitFor(async () => (await fetch(`${base}/health/ready`)).status === 503, {
      what: "readiness 503",
    });

    // A publish issued during the outage waits for the reconnect (within PUBLISH_TIMEOUT_MS)…
    const during = post("during");
    await server.start();
    const duringResponse = await during;
    expect(duringResponse.status).toBe(201);
    await waitFor(async () => (await fetch(`${base}/health/ready`)).status === 200, { what: "ready again" });
    expect((await post("after")).status).toBe(201);
    // …and a replay of it is absorbed by the duplicate window.
    expect(await (await post("during")).json()).toMatchObject({ duplicate: true });

    await sendWork(server.url, namespace, "after-restart", 10);
    await waitFor(() => svc.logs().some((l) => l.msg === "work finished" && l.workId === "after-restart"), {
      what: "consumer to handle a command sent after the restart",
      timeoutMs: 20_000,
    });
    const nc = await connect({ servers: server.url });
    const info = await (await jetstreamManager(nc)).streams.info(`${namespace.toUpperCase()}_DBPLANE_EVT`);
    expect(info.state.messages).toBe(3);
    await nc.close();
    expect(svc.logs().some((l) => String(l.msg).toLowerCase().includes("reconnect"))).toBe(true);
  });
});
