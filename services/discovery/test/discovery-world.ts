import { join } from "node:path";
import { busNames } from "@dbplane/bus";
import {
  type KubeApiDouble,
  type ServiceReplica,
  type ServiceWorld,
  serviceWorld,
  startKubeApiDouble,
} from "@dbplane/testkit";
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { afterEach, beforeEach } from "vitest";

/** What a discovery test asks a replica over HTTP. */
export interface ReplicaHttp {
  /** GET a path; the body as text, for checks, and parsed when JSON. */
  get(
    path: string,
    headers?: Record<string, string>,
  ): Promise<{ status: number; text: string; json: unknown }>;
}

/** A discovery world: replicas that answer `get`, and only discovery's own events. */
export interface DiscoveryWorld extends ServiceWorld<ReplicaHttp> {
  /** Every value in a KV bucket of the namespace (`discovery_facts`), as text. */
  bucketText(name: string): Promise<string>;
}

function replicaHttp({ base }: ServiceReplica): ReplicaHttp {
  return {
    async get(path, headers = {}) {
      const res = await fetch(`${base}${path}`, { headers });
      const text = await res.text();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: res.status, text, json };
    },
  };
}

export async function createDiscoveryWorld(): Promise<DiscoveryWorld> {
  const world = await serviceWorld({
    entry: join(import.meta.dirname, "../src/main.ts"),
    name: "discovery",
    jwtSecret: "discovery-test-secret-0123456789abcdef",
    env: { DBPLANE_DISCOVERY_DEBOUNCE_MS: "20", DBPLANE_LOG_LEVEL: "debug" },
    extend: replicaHttp,
  });
  const { nats } = world;
  return {
    ...world,
    // Tests publish the provisioner's events too; count only what discovery said.
    events: (subjectPrefix = "dbplane.evt.discovery.") => world.events(subjectPrefix),
    async bucketText(name) {
      const kv = await new Kvm(jetstream(nats.nc)).open(busNames(nats.namespace).bucket(name));
      const values: string[] = [];
      for await (const key of await kv.keys()) values.push(`${key} ${(await kv.get(key))?.string() ?? ""}`);
      return values.join("\n");
    },
  };
}

/** `io.dbplane.discovery.app.changed.v1` → `app.changed`. */
export const shortType = (type: string) =>
  type.replace(/^io\.dbplane\.discovery\./, "").replace(/\.v\d+$/, "");

/**
 * For the Kubernetes driver's specs: a fresh Kubernetes API double and world for each test,
 * through `assign`, both disposed after it.
 */
export function eachTestKubeWorld(assign: (double: KubeApiDouble, world: DiscoveryWorld) => void): void {
  let current: { double: KubeApiDouble; world: DiscoveryWorld } | undefined;
  beforeEach(async () => {
    current = { double: await startKubeApiDouble(), world: await createDiscoveryWorld() };
    assign(current.double, current.world);
  });
  afterEach(async () => {
    await current?.world.dispose();
    await current?.double.close();
    current = undefined;
  });
}
