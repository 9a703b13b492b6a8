import { Redis } from "ioredis";
import type { Logger } from "pino";

/** The parsed `redisEnv` (or `localRedisEnv`) fragment. */
export interface RedisEnv {
  readonly DBPLANE_REDIS_URL: string;
}

/**
 * A Redis client, connected before it is returned. A command fails after two reconnection
 * attempts instead of waiting out an outage, and connection errors are logged, not thrown:
 * ioredis reconnects on its own, and an unheard `error` event would crash the process.
 */
export async function redisClient(config: RedisEnv, options: { readonly logger: Logger }): Promise<Redis> {
  const redis = new Redis(config.DBPLANE_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 2 });
  redis.on("error", (err) => options.logger.warn({ err }, "Redis connection error"));
  await redis.connect();
  return redis;
}
