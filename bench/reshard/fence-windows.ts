// When the split's write fences were up, from the router's own fence documents (KV bucket
// `router_fences`, `raisedAt`/`liftedAt` of each raise): a write that overlaps one was held.
import type { Bus } from "@dbplane/bus";

export interface FenceWindow {
  /** ms since the epoch, the coordinator's clock (same machine). */
  readonly raisedAt: number;
  readonly liftedAt: number;
}

interface FenceDoc {
  readonly state: "raised" | "lifted";
  readonly raisedAt: string;
  readonly liftedAt?: string;
}

export interface FenceWatch {
  windows(): FenceWindow[];
  stop(): void;
}

export async function watchFences(bus: Bus, database: string): Promise<FenceWatch> {
  const kv = await bus.kv<FenceDoc>("router_fences");
  const abort = new AbortController();
  const seen = new Map<string, FenceWindow>();
  const watch = kv.watch(`${database}.>`, { signal: abort.signal });
  void (async () => {
    for await (const change of watch) {
      const doc = change.value;
      if (doc?.state !== "lifted" || !doc.liftedAt) continue;
      seen.set(doc.raisedAt, { raisedAt: Date.parse(doc.raisedAt), liftedAt: Date.parse(doc.liftedAt) });
    }
  })().catch(() => {});
  return {
    windows: () => [...seen.values()].sort((a, b) => a.raisedAt - b.raisedAt),
    stop: () => abort.abort(),
  };
}
