// A write fence world against a NATS server of the test's own: the fence buckets, a coordinator
// and one started replica fence ("r1"); helpers to watch a promise and to ask what a fence follows.
import { type Bus, connectBus } from "@dbplane/bus";
import { createLogger } from "@dbplane/service-kit";
import { type PrivateNatsServer, startPrivateNatsServer, uniqueName } from "@dbplane/testkit";
import { KvFenceCoordinator } from "../src/fence/fence-coordinator.ts";
import { type FenceBuckets, openFenceBuckets } from "../src/fence/fence-documents.ts";
import { noFenceMetrics } from "../src/fence/fence-metrics.ts";
import { WriteFence } from "../src/fence/write-fence.ts";

export const fenceLogger = createLogger({ name: "write-fence-test", level: "silent" });

export interface FenceWorld {
  nats: PrivateNatsServer;
  bus: Bus;
  buckets: FenceBuckets;
  coordinator: KvFenceCoordinator;
  /** Replica "r1", started. */
  fence: WriteFence;
  /** A replica fence with the world's settings, not started. */
  replicaFence(replica: string): WriteFence;
  stop(): Promise<void>;
}

export async function startFenceWorld(): Promise<FenceWorld> {
  const nats = await startPrivateNatsServer();
  const bus = await connectBus({
    servers: nats.url,
    name: "fence-test",
    logger: fenceLogger,
    namespace: uniqueName("t"),
  });
  const buckets = await openFenceBuckets(bus);
  const coordinator = new KvFenceCoordinator({
    buckets,
    metrics: noFenceMetrics,
    logger: fenceLogger,
    pollMs: 20,
  });
  const replicaFence = (replica: string) =>
    new WriteFence({
      buckets,
      replica,
      heartbeatMs: 100,
      leaseMs: 1_000,
      maxHoldMs: 30_000,
      metrics: noFenceMetrics,
      logger: fenceLogger,
    });
  const fence = replicaFence("r1");
  await fence.start();
  return {
    nats,
    bus,
    buckets,
    coordinator,
    fence,
    replicaFence,
    async stop() {
      await fence.stop();
      await bus.close();
      await nats.dispose();
    },
  };
}

/** Whether `promise` settled yet, and how. */
export function watch<T>(promise: Promise<T>) {
  const seen: { settled: boolean; value?: T; error?: unknown } = { settled: false };
  promise.then(
    (value) => Object.assign(seen, { settled: true, value }),
    (error: unknown) => Object.assign(seen, { settled: true, error }),
  );
  return seen;
}

export const follows = (f: WriteFence, id: string, state: string) =>
  f.known().some((k) => k.id === id && k.state === state);
