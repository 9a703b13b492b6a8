import pg from "pg";
import type { ShardConnection } from "./range-move-spec.ts";

/** node-postgres settings for a connection to `shard`, named so pg_stat_activity tells what it is. */
export function shardClientConfig(shard: ShardConnection, applicationName: string): pg.ClientConfig {
  return {
    host: shard.host,
    port: shard.port,
    database: shard.database,
    user: shard.user,
    password: shard.password,
    ...(shard.ssl && { ssl: { ...shard.ssl } }),
    application_name: applicationName,
    connectionTimeoutMillis: 10_000,
  };
}

/** A connected client to a shard primary; the caller ends it. */
export async function connectShard(
  shard: ShardConnection,
  applicationName = "dbplane-reshard",
): Promise<pg.Client> {
  const client = new pg.Client(shardClientConfig(shard, applicationName));
  // An idle client's socket error must not crash the process; the next query reports it.
  client.on("error", () => {});
  await client.connect();
  return client;
}

/** Runs `work` on a fresh connection to `shard` and closes it however `work` ends. */
export async function withShard<T>(
  shard: ShardConnection,
  work: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = await connectShard(shard);
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => {});
  }
}
