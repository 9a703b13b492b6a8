import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { testServerUrls } from "./env.ts";
import { uniqueName } from "./unique-name.ts";

export interface TestNats {
  /** Pass as the bus namespace: streams `<NS>_DBPLANE_*`, subjects `<ns>.dbplane.…`, buckets `<ns>_…`. */
  readonly namespace: string;
  readonly url: string;
  readonly nc: NatsConnection;
  /** Deletes every stream and KV bucket of the namespace, then closes the connection. */
  cleanup(): Promise<void>;
}

export async function createTestNats(url = testServerUrls().nats): Promise<TestNats> {
  const namespace = uniqueName("t");
  const nc = await connect({ servers: url, name: `test-${namespace}` });
  return {
    namespace,
    url,
    nc,
    async cleanup() {
      try {
        await deleteNamespace(nc, namespace);
      } finally {
        await nc.close();
      }
    },
  };
}

/** Removes the streams (and so the KV buckets) that belong to a namespace. */
export async function deleteNamespace(nc: NatsConnection, namespace: string): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const prefixes = [`${namespace.toUpperCase()}_`, `KV_${namespace}_`];
  const doomed: string[] = [];
  for await (const info of jsm.streams.list()) {
    if (prefixes.some((p) => info.config.name.startsWith(p))) doomed.push(info.config.name);
  }
  await Promise.all(doomed.map((name) => jsm.streams.delete(name)));
}
