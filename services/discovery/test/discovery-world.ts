import { join } from "node:path";
import { busNames } from "@dbplane/bus";
import {
  type ChildService,
  createTestNats,
  freePort,
  startChildService,
  type TestNats,
} from "@dbplane/testkit";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";

const entry = join(import.meta.dirname, "../src/main.ts");

/** An event as it arrived in the namespace's DBPLANE_EVT stream. */
export interface SeenEvent {
  readonly type: string;
  readonly id: string;
  readonly subject: string;
  readonly data: Record<string, unknown>;
  /** Payload and every header, for checks that nothing secret travelled. */
  readonly raw: string;
}

export interface Replica {
  readonly svc: ChildService;
  readonly base: string;
  /** GET a path; the body as text, for checks, and parsed when JSON. */
  get(
    path: string,
    headers?: Record<string, string>,
  ): Promise<{ status: number; text: string; json: unknown }>;
  /** A counter or gauge from /metrics, summed over the label sets that contain `labels`. */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
}

/** One test's world: a NATS namespace and discovery replicas started as processes. */
export interface DiscoveryWorld {
  readonly nats: TestNats;
  /** Starts a replica and, unless `waitReady` is false, waits for `/health/ready` to answer 200. */
  startReplica(env: Record<string, string>, options?: { waitReady?: boolean }): Promise<Replica>;
  /** Discovery events in the stream so far, in order. */
  events(): Promise<SeenEvent[]>;
  /** Every value in a KV bucket of the namespace (`discovery_facts`), as text. */
  bucketText(name: string): Promise<string>;
  /** Everything every replica printed. */
  output(): string;
  dispose(): Promise<void>;
}

function replicaOf(svc: ChildService, base: string): Replica {
  const get: Replica["get"] = async (path, headers = {}) => {
    const res = await fetch(`${base}${path}`, { headers });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, text, json };
  };
  return {
    svc,
    base,
    get,
    async metric(name, labels = {}) {
      const { text } = await get("/metrics");
      let sum = 0;
      for (const line of text.split("\n")) {
        if (!line.startsWith(name) || !/^[^{ ]+(\{| )/.test(line) || line.split(/[{ ]/)[0] !== name) continue;
        if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
          sum += Number(line.split(" ").at(-1));
      }
      return sum;
    },
  };
}

export async function createDiscoveryWorld(): Promise<DiscoveryWorld> {
  const nats = await createTestNats();
  const replicas: ChildService[] = [];
  const names = busNames(nats.namespace);
  return {
    nats,
    async startReplica(env, { waitReady = true } = {}) {
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      const svc = await startChildService({
        entry,
        name: `discovery-${replicas.length}`,
        ...(waitReady && { readyUrl: `${base}/health/ready`, readyTimeoutMs: 30_000 }),
        env: {
          DBPLANE_HTTP_HOST: "127.0.0.1",
          DBPLANE_HTTP_PORT: String(port),
          DBPLANE_NATS_URL: nats.url,
          DBPLANE_NATS_NAMESPACE: nats.namespace,
          DBPLANE_SHUTDOWN_DELAY_MS: "0",
          DBPLANE_DISCOVERY_DEBOUNCE_MS: "20",
          DBPLANE_LOG_LEVEL: "debug",
          ...env,
        },
      });
      replicas.push(svc);
      return replicaOf(svc, base);
    },
    async events() {
      const stream = names.stream("evt");
      const jsm = await jetstreamManager(nats.nc);
      const info = await jsm.streams.info(stream).catch(() => undefined);
      if (!info || info.state.messages === 0) return [];
      const consumer = await jetstream(nats.nc).consumers.get(stream);
      const out: SeenEvent[] = [];
      let done = false;
      const messages = await consumer.consume({ max_messages: 500 });
      for await (const m of messages) {
        const raw = m.string();
        if (m.seq >= info.state.last_seq) done = true;
        if (!m.subject.startsWith(names.subject("dbplane.evt.discovery."))) {
          if (done) break;
          continue;
        }
        const headers = [...(m.headers ?? [])].map(([k, v]) => `${k}: ${v.join(",")}`).join("\n");
        out.push({
          type: m.headers?.get("ce-type") ?? "",
          id: m.headers?.get("ce-id") ?? "",
          subject: m.headers?.get("ce-subject") ?? "",
          data: JSON.parse(raw),
          raw: `${headers}\n${raw}`,
        });
        if (done) break;
      }
      await messages.close();
      return out;
    },
    async bucketText(name) {
      const kv = await new Kvm(jetstream(nats.nc)).open(names.bucket(name));
      const values: string[] = [];
      for await (const key of await kv.keys()) values.push(`${key} ${(await kv.get(key))?.string() ?? ""}`);
      return values.join("\n");
    },
    output: () => replicas.map((r) => r.output()).join("\n"),
    async dispose() {
      await Promise.all(replicas.map((r) => r.dispose()));
      await nats.cleanup();
    },
  };
}

/** `io.dbplane.discovery.app.changed.v1` → `app.changed`. */
export const shortType = (type: string) =>
  type.replace(/^io\.dbplane\.discovery\./, "").replace(/\.v\d+$/, "");
