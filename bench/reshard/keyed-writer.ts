// A steady keyed write load on `orders` through every router replica (HTTP query API): inserts,
// updates and deletes by key at a fixed total rate, each write's start and latency recorded, and a
// model of what was committed to compare the shards with afterwards.
import { Agent, request } from "node:http";
import { loadedAmount } from "./shop-data.ts";

/** One write as the client saw it: wall-clock start (ms since the epoch) and latency. */
export interface WriteSample {
  readonly startedAt: number;
  readonly ms: number;
  readonly ok: boolean;
}

export interface KeyedWriterOptions {
  /** The routers' `http://127.0.0.1:<port>`: worker i writes through bases[i % length]. */
  readonly bases: readonly string[];
  readonly token: string;
  readonly database: string;
  /** Orders 1..orders exist with loadedAmount(id). */
  readonly orders: number;
  readonly workers: number;
  /** Writes per second over all workers; a held write is not made up for afterwards. */
  readonly ratePerS: number;
}

export interface KeyedWriter {
  /** id → amount of every order the writer knows committed (loaded ones included). */
  readonly model: ReadonlyMap<number, number>;
  readonly samples: readonly WriteSample[];
  readonly errors: readonly string[];
  /** Writes answered so far. */
  ops(): number;
  stop(): Promise<void>;
}

type Post = (path: string, body: string) => Promise<{ status: number; text: string }>;

function poster(base: string, token: string, agent: Agent): Post {
  const { hostname, port } = new URL(base);
  return (path, body) =>
    new Promise((resolve, reject) => {
      const req = request(
        {
          host: hostname,
          port,
          path,
          method: "POST",
          agent,
          headers: {
            authorization: `Bearer ${token}`,
            "content-type": "application/json",
            "content-length": Buffer.byteLength(body),
          },
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (c: string) => {
            text += c;
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on("error", reject);
      req.end(body);
    });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function startKeyedWriter(o: KeyedWriterOptions): KeyedWriter {
  const model = new Map<number, number>();
  for (let id = 1; id <= o.orders; id++) model.set(id, loadedAmount(id));
  const samples: WriteSample[] = [];
  const errors: string[] = [];
  // One write per key at a time: the model's order is then the database's.
  const busy = new Set<number>();
  const agent = new Agent({ keepAlive: true, maxSockets: o.workers });
  const posts = o.bases.map((b) => poster(b, o.token, agent));
  const path = `/v1/databases/${o.database}/query`;
  const intervalMs = (1000 * o.workers) / o.ratePerS;
  let stopping = false;
  let next = o.orders + 1;

  async function worker(index: number): Promise<void> {
    const post = posts[index % posts.length]!;
    // Spread the workers' first writes over one interval.
    let due = performance.now() + (intervalMs * index) / o.workers;
    while (!stopping) {
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      due = Math.max(due + intervalMs, performance.now());
      const roll = Math.random();
      let id: number;
      let sql: string;
      let params: unknown[];
      let apply: () => void;
      if (roll < 0.4) {
        id = next++;
        const amount = 1 + Math.floor(Math.random() * 100_000);
        sql = "INSERT INTO orders (id, customer, amount, note) VALUES ($1, $2, $3, 'bench')";
        params = [id, id % 50_000, amount];
        apply = () => model.set(id, amount);
      } else {
        id = 1 + Math.floor(Math.random() * (next - 1));
        if (!model.has(id) || busy.has(id)) continue;
        if (roll < 0.8) {
          const amount = 1 + Math.floor(Math.random() * 100_000);
          sql = "UPDATE orders SET amount = $2 WHERE id = $1";
          params = [id, amount];
          apply = () => model.set(id, amount);
        } else {
          sql = "DELETE FROM orders WHERE id = $1";
          params = [id];
          apply = () => model.delete(id);
        }
      }
      busy.add(id);
      const startedAt = performance.timeOrigin + performance.now();
      const t = performance.now();
      let ok = false;
      try {
        const res = await post(path, JSON.stringify({ sql, params, key: { type: "bigint", value: id } }));
        ok = res.status === 200;
        if (ok) apply();
        else errors.push(`${res.status} ${res.text.slice(0, 300)}`);
      } catch (err) {
        errors.push((err as Error).message);
      }
      samples.push({ startedAt, ms: performance.now() - t, ok });
      busy.delete(id);
    }
  }

  const running = Array.from({ length: o.workers }, (_, i) => worker(i));
  return {
    model,
    samples,
    errors,
    ops: () => samples.length,
    async stop() {
      stopping = true;
      await Promise.all(running);
      agent.destroy();
    },
  };
}
