import { Redis } from "ioredis";
import { redisObservation } from "../domain/redis-info.ts";
import { withPassword } from "../domain/target-spec.ts";
import type { Receiver } from "./receiver.ts";

/**
 * Redis: one connection per target (commands are pipelined on it, so it is its own concurrency
 * cap). No automatic reconnect and no offline queue: a collection against a down server fails at
 * once with the reason, and the next collection connects again.
 */
export const redisReceiver: Receiver = (spec, password, limits) => {
  const url = new URL(withPassword(spec.url, password));
  const dbIndex = Number(url.pathname.slice(1) || 0);
  const client = new Redis(url.toString(), {
    lazyConnect: true,
    connectTimeout: limits.connectTimeoutMs,
    commandTimeout: limits.statementTimeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    connectionName: "dbplane-collector",
  });
  client.on("error", () => {});
  return {
    async collect() {
      if (client.status === "wait" || client.status === "end" || client.status === "close") {
        await client.connect();
      }
      return redisObservation(await client.info(), dbIndex);
    },
    async close() {
      client.disconnect();
    },
  };
};
