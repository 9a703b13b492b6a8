import { readFile } from "node:fs/promises";
import { Redis } from "ioredis";
import type { Logger } from "pino";

/** The parsed `redisEnv` (or `localRedisEnv`) fragment, with `redisTlsEnv` where the service has it. */
export interface RedisEnv {
  readonly DBPLANE_REDIS_URL: string;
  readonly DBPLANE_REDIS_TLS_CA?: string | undefined;
}

/** A Redis connection cannot be configured as asked (a CA for a plain-text URL, an unreadable CA). */
export class RedisTlsConfigError extends Error {
  override readonly name = "RedisTlsConfigError";
  readonly code = "REDIS_TLS_CONFIG";
}

/**
 * A Redis client, connected before it is returned. A command fails after two reconnection
 * attempts instead of waiting out an outage, and connection errors are logged, not thrown:
 * ioredis reconnects on its own, and an unheard `error` event would crash the process.
 * `rediss://` is TLS with the certificate and host name checked, against DBPLANE_REDIS_TLS_CA
 * when it is set.
 */
export async function redisClient(config: RedisEnv, options: { readonly logger: Logger }): Promise<Redis> {
  const redis = new Redis(config.DBPLANE_REDIS_URL, {
    lazyConnect: true,
    maxRetriesPerRequest: 2,
    ...(await tlsOptions(config)),
  });
  redis.on("error", (err) => options.logger.warn({ err }, "Redis connection error"));
  try {
    await redis.connect();
  } catch (err) {
    // Otherwise it keeps reconnecting in the background of a process that is about to exit.
    redis.disconnect();
    throw err;
  }
  return redis;
}

async function tlsOptions(config: RedisEnv): Promise<{ tls?: { ca: string; rejectUnauthorized: true } }> {
  const path = config.DBPLANE_REDIS_TLS_CA;
  if (path === undefined) return {};
  if (new URL(config.DBPLANE_REDIS_URL).protocol !== "rediss:") {
    throw new RedisTlsConfigError("DBPLANE_REDIS_TLS_CA is set but DBPLANE_REDIS_URL is not rediss://");
  }
  try {
    return { tls: { ca: await readFile(path, "utf8"), rejectUnauthorized: true } };
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? "error";
    throw new RedisTlsConfigError(`DBPLANE_REDIS_TLS_CA: cannot read ${path} (${code})`, { cause });
  }
}
