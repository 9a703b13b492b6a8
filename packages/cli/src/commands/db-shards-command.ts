import type { Command } from "commander";
import { apiClient } from "../api-client.ts";
import { globalOptions, targetOf } from "../command-options.ts";
import { keyspaceBar } from "../keyspace-bar.ts";
import { printResult, renderTable } from "../output-format.ts";

interface ServerView {
  readonly host: string;
  readonly port: number;
  readonly status: string;
  readonly lagMs?: number | null;
}
interface ShardView {
  readonly shard: number;
  readonly ranges: readonly { readonly from: string; readonly to: string }[];
  readonly primary: ServerView;
  readonly replicas: readonly ServerView[];
  readonly load?: { readonly queryRate: number; readonly errorRate: number; readonly meanLatencyMs: number };
}
interface ShardsResult {
  readonly database: string;
  readonly version: number;
  readonly shards: readonly ShardView[];
}

/** Share of the keyspace a shard owns, in percent. */
function share(ranges: ShardView["ranges"]): string {
  const owned = ranges.reduce((sum, r) => sum + (BigInt(r.to) - BigInt(r.from)), 0n);
  return `${Number((owned * 10_000n) / 2n ** 64n) / 100}%`;
}

function shardsView(result: ShardsResult): string {
  const bar = keyspaceBar(
    result.shards.map((s) => ({ shard: s.shard, ranges: s.ranges, down: s.primary.status !== "up" })),
    64,
    process.stdout.isTTY === true,
  );
  const table = renderTable({
    columns: ["SHARD", "KEYSPACE", "PRIMARY", "HEALTH", "REPLICAS", "QUERIES/S", "ERRORS/S", "LATENCY"],
    rows: result.shards.map((s) => [
      s.shard,
      share(s.ranges),
      `${s.primary.host}:${s.primary.port}`,
      s.primary.status,
      s.replicas.map((r) => `${r.status}${r.lagMs != null ? ` (${r.lagMs} ms)` : ""}`).join(", ") || "-",
      s.load?.queryRate.toFixed(1),
      s.load?.errorRate.toFixed(1),
      s.load && `${s.load.meanLatencyMs.toFixed(1)} ms`,
    ]),
  });
  return `${result.database} — shard map version ${result.version}\n${bar}\n\n${table}`;
}

/** `dbplane db shards <db>`: the router's shard map with health and load, and a keyspace bar. */
export function registerShardsCommand(db: Command): void {
  db.command("shards")
    .description("a database's shards as the router sees them: ranges, health, load")
    .argument("<db>", "database name")
    .action(async (name: string, _o, command: Command) => {
      const router = apiClient(await targetOf(command), "router");
      const result = (
        await router.request<ShardsResult>("GET", `/v1/databases/${encodeURIComponent(name)}/shards`)
      ).body;
      printResult(globalOptions(command).output, result, () => shardsView(result));
    });
}
