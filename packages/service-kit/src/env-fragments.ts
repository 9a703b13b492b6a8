import { z } from "zod";

/**
 * Reusable pieces of a service's env schema, as zod shapes to spread into its own object:
 * `z.object({ ...httpEnv, ...logEnv, ...authEnv, ...shutdownEnv, MY_VAR: z.string() })`.
 */

const port = z.coerce.number().int().min(0).max(65_535);

/** Where the HTTP server listens. Port 0 picks any free port (tests). */
export const httpEnv = {
  DBPLANE_HTTP_HOST: z.string().min(1).default("0.0.0.0"),
  DBPLANE_HTTP_PORT: port.default(8080),
} as const;

/** pino levels, `silent` included. */
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const logEnv = {
  DBPLANE_LOG_LEVEL: z.enum(LOG_LEVELS).default("info"),
} as const;

/** HS256 needs a key at least as long as its 256-bit output to be worth anything. */
export const MIN_JWT_SECRET_LENGTH = 32;

export const authEnv = {
  DBPLANE_JWT_SECRET: z
    .string()
    .min(MIN_JWT_SECRET_LENGTH, `must be at least ${MIN_JWT_SECRET_LENGTH} characters`),
} as const;

/**
 * Graceful shutdown timing. The delay lets Kubernetes take the pod out of its Service endpoints
 * after readiness turns 503 and before we stop serving (5 s in a pod, 0 in local/test runs);
 * the timeout (45 s) stays below the pod's 60 s termination grace so we exit on our own terms.
 */
export const shutdownEnv = {
  DBPLANE_SHUTDOWN_DELAY_MS: z.coerce.number().int().min(0).max(60_000).default(5_000),
  DBPLANE_SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(1_000).max(600_000).default(45_000),
} as const;

const NATS_SCHEMES = new Set(["nats:", "tls:", "ws:", "wss:"]);

function isNatsUrl(value: string): boolean {
  try {
    return NATS_SCHEMES.has(new URL(value).protocol);
  } catch {
    return false;
  }
}

/** Comma-separated server URLs (a cluster's seed list), parsed to an array for `connect`. */
const natsServers = z
  .string()
  .transform((value) =>
    value
      .split(",")
      .map((part) => part.trim())
      .filter(Boolean),
  )
  .refine((urls) => urls.length > 0 && urls.every(isNatsUrl), {
    message: "must be one or more comma-separated nats://, tls://, ws:// or wss:// URLs",
  });

export const natsEnv = {
  DBPLANE_NATS_URL: natsServers.default(["nats://127.0.0.1:4222"]),
  /** Prefix isolating one deployment's (or one test's) streams, subjects and buckets. */
  DBPLANE_NATS_NAMESPACE: z
    .string()
    .regex(/^[a-z][a-z0-9_]*$/, "must be lower-case letters, digits and underscores, starting with a letter")
    .optional(),
  DBPLANE_STREAM_REPLICAS: z.coerce.number().int().min(1).max(5).default(1),
} as const;

function urlWithScheme(schemes: readonly string[]) {
  return z.string().refine(
    (value) => {
      try {
        return schemes.includes(new URL(value).protocol);
      } catch {
        return false;
      }
    },
    { message: `must be a ${schemes.map((s) => `${s}//`).join(" or ")} URL` },
  );
}

/** The platform PostgreSQL database (each service owns one schema in it). No default: it carries credentials. */
export const postgresEnv = {
  DBPLANE_PG_URL: urlWithScheme(["postgres:", "postgresql:"]),
} as const;

export const redisEnv = {
  DBPLANE_REDIS_URL: urlWithScheme(["redis:", "rediss:"]),
} as const;
