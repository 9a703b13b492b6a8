import { z } from "zod";
import { envVar } from "./env-values.ts";

/**
 * Reusable pieces of a service's env schema, as zod shapes to spread into its own object:
 * `z.object({ ...httpEnv, ...logEnv, ...authEnv, ...shutdownEnv, MY_VAR: z.string() })`.
 * Every variable carries its default and a one-line `.describe()`, from which each service's
 * env table is generated; a service that narrows one keeps `.describe()` last.
 */

/** Where the HTTP server listens. Port 0 picks any free port (tests). */
export const httpEnv = {
  DBPLANE_HTTP_HOST: z
    .string()
    .min(1)
    .default("0.0.0.0")
    .describe("Listen address (`./scripts/dev` uses 127.0.0.1)."),
  DBPLANE_HTTP_PORT: envVar
    .int(0, 65_535)
    .default(8080)
    .describe("Listen port of the API, health, metrics and docs (`./scripts/dev` uses 7101–7106)."),
  // Load shedding (@fastify/under-pressure): a service whose event loop lags this far answers
  // 503 rather than queueing more work. Tests raise it: there a process starved by a dozen
  // parallel test files on two cores is not an overloaded service.
  DBPLANE_HTTP_MAX_EVENT_LOOP_DELAY_MS: envVar
    .ms(100, 600_000)
    .default(1_000)
    .describe("Event-loop delay past which requests are answered 503 (load shedding)."),
} as const;

/** pino levels, `silent` included. */
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const logEnv = {
  DBPLANE_LOG_LEVEL: z
    .enum(LOG_LEVELS)
    .default("info")
    .describe("`fatal`…`trace` or `silent`; JSON lines, pretty only on a terminal."),
} as const;

/** HS256 needs a key at least as long as its 256-bit output to be worth anything. */
export const MIN_JWT_SECRET_LENGTH = 32;

const jwtSecret = z
  .string()
  .min(MIN_JWT_SECRET_LENGTH, `must be at least ${MIN_JWT_SECRET_LENGTH} characters`);

/**
 * How bearer tokens are checked besides the HS256 key: the claims every token must carry, an
 * identity provider's keys, and whether GETs need a token at all.
 */
const tokenEnv = {
  DBPLANE_JWT_ISSUER: z
    .string()
    .min(1)
    .optional()
    .describe("Required `iss` claim of bearer tokens; unset means any."),
  DBPLANE_JWT_AUDIENCE: z
    .string()
    .min(1)
    .optional()
    .describe("Required `aud` claim of bearer tokens (one of the token's audiences); unset means any."),
  DBPLANE_JWT_JWKS_URL: envVar
    .url(["https:", "http:"])
    .optional()
    .describe("An identity provider's JWKS: its RS256/PS256/ES256/EdDSA tokens are accepted too."),
  DBPLANE_JWT_PUBLIC_KEY: z
    .string()
    .refine((pem) => pem.includes("-----BEGIN PUBLIC KEY-----"), "must be a PEM public key (SPKI)")
    .optional()
    .describe("Instead of a JWKS, one PEM public key (RSA, EC P-256 or Ed25519) of an identity provider."),
  DBPLANE_ANONYMOUS_READ: z
    .stringbool()
    .default(false)
    .describe("GETs need no token (`./scripts/dev` only); otherwise they need the `read` scope."),
} as const;

/** The bearer-token key, required: the service has mutating routes. */
export const authEnv = {
  DBPLANE_JWT_SECRET: jwtSecret.describe(
    `HS256 key of bearer tokens (at least ${MIN_JWT_SECRET_LENGTH} characters); \`scripts/dbplane-token\` signs with it.`,
  ),
  ...tokenEnv,
} as const;

/**
 * The bearer-token key of a service whose routes only read: optional, a random key (see
 * `jwtSecretOrRandom`) stands in when unset, so no HS256 token is valid there.
 */
export const readOnlyAuthEnv = {
  DBPLANE_JWT_SECRET: jwtSecret
    .optional()
    .describe(
      "HS256 key of bearer tokens; only read routes exist, so unset means a random key (no HS256 token is valid).",
    ),
  ...tokenEnv,
} as const;

/**
 * Graceful shutdown timing. The delay lets Kubernetes take the pod out of its Service endpoints
 * after readiness turns 503 and before we stop serving (5 s in a pod, 0 in local/test runs);
 * the timeout (45 s) stays below the pod's 60 s termination grace so we exit on our own terms.
 */
export const shutdownEnv = {
  DBPLANE_SHUTDOWN_DELAY_MS: envVar
    .ms(0, 60_000)
    .default(5_000)
    .describe("After SIGTERM, how long readiness stays 503 before work stops (endpoints drop the pod)."),
  DBPLANE_SHUTDOWN_TIMEOUT_MS: envVar
    .ms(1_000, 600_000)
    .default(45_000)
    .describe("Hard limit of the whole shutdown; keep it below the pod's termination grace period."),
} as const;

const natsUrl = envVar.url(["nats:", "tls:", "ws:", "wss:"]);

/** Comma-separated server URLs (a cluster's seed list), parsed to an array for `connect`. */
const natsServers = envVar
  .list()
  .refine((urls) => urls.length > 0 && urls.every((url) => natsUrl.safeParse(url).success), {
    message: "must be one or more comma-separated nats://, tls://, ws:// or wss:// URLs",
  });

const nonEmpty = z.string().min(1);

export const natsEnv = {
  DBPLANE_NATS_URL: natsServers
    .prefault("nats://127.0.0.1:4222")
    .describe("NATS server URLs, comma-separated (a cluster's seed list)."),
  DBPLANE_NATS_NAMESPACE: z
    .string()
    .regex(/^[a-z][a-z0-9_]*$/, "must be lower-case letters, digits and underscores, starting with a letter")
    .optional()
    .describe("Prefix of streams, subjects and buckets, isolating one stack (or one test) on a shared NATS."),
  DBPLANE_STREAM_REPLICAS: envVar
    .int(1, 5)
    .default(1)
    .describe("JetStream replicas of the dbplane streams (3 on a 3-node cluster)."),
  DBPLANE_STREAM_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(16 * 1024 * 1024)
    .default(1024 * 1024 * 1024)
    .describe(
      "Byte limit of DBPLANE_EVT (oldest events go first); DBPLANE_CMD and DBPLANE_DLQ get a quarter each, and a full DBPLANE_CMD refuses new commands.",
    ),
  // Credentials: at most one kind (the bus refuses two at start). None is the local default,
  // where nats-server runs without auth; the Helm chart gives every service its own user.
  DBPLANE_NATS_USER: nonEmpty.optional().describe("NATS user (with DBPLANE_NATS_PASSWORD)."),
  DBPLANE_NATS_PASSWORD: nonEmpty.optional().describe("NATS password of DBPLANE_NATS_USER."),
  DBPLANE_NATS_TOKEN: nonEmpty.optional().describe("NATS auth token."),
  DBPLANE_NATS_NKEY_FILE: nonEmpty.optional().describe("Path of a file holding an NKey user seed (`SU…`)."),
  DBPLANE_NATS_CREDS: nonEmpty
    .optional()
    .describe("Path of a NATS `.creds` file (user JWT and seed); re-read at every reconnect."),
  DBPLANE_NATS_TLS_CA: nonEmpty
    .optional()
    .describe("Path of the CA certificate (PEM) NATS's server certificate must chain to."),
  DBPLANE_NATS_TLS_CERT: nonEmpty
    .optional()
    .describe("Path of a client certificate (PEM) for NATS mutual TLS (with DBPLANE_NATS_TLS_KEY)."),
  DBPLANE_NATS_TLS_KEY: nonEmpty.optional().describe("Path of the client certificate's private key (PEM)."),
} as const;

const postgresUrl = envVar.url(["postgres:", "postgresql:"]);
const PLATFORM_DATABASE = "The platform PostgreSQL database; each service owns one schema in it.";

/** The platform PostgreSQL database (each service owns one schema in it). No default: it carries credentials. */
export const postgresEnv = {
  DBPLANE_PG_URL: postgresUrl.describe(PLATFORM_DATABASE),
} as const;

/** The same, defaulting to the local server's `postgres` database without a password, for services that run with no config. */
export const localPostgresEnv = {
  DBPLANE_PG_URL: postgresUrl
    .default("postgres://postgres@127.0.0.1:5432/postgres")
    .describe(PLATFORM_DATABASE),
} as const;

const redisUrl = envVar.url(["redis:", "rediss:"]);
const REDIS = "Redis the service's replicas share.";

/** Redis, required: a pod's URL carries credentials. */
export const redisEnv = {
  DBPLANE_REDIS_URL: redisUrl.describe(REDIS),
} as const;

/** The same, defaulting to the local server, for services that run with no config. */
export const localRedisEnv = {
  DBPLANE_REDIS_URL: redisUrl.default("redis://127.0.0.1:6379").describe(REDIS),
} as const;

/** A private CA for `rediss://` (a managed Redis's or one's own); unset: the system's CAs. */
export const redisTlsEnv = {
  DBPLANE_REDIS_TLS_CA: z
    .string()
    .min(1)
    .optional()
    .describe(
      "PEM CA file the `rediss://` server's certificate is checked against (and its name); unset: the system's CAs.",
    ),
} as const;

/**
 * The variables every service reads — HTTP, log level, shutdown timing, NATS — so a config
 * starts `z.object({ ...baseEnv, ...authEnv, …its own })`.
 */
export const baseEnv = { ...httpEnv, ...logEnv, ...shutdownEnv, ...natsEnv } as const;

/**
 * TLS to shard servers, for every service that connects to them (router, collector): with a CA,
 * `verify-full` — TLS required, the certificate signed by the CA, its name the host connected to.
 */
export const shardTlsEnv = {
  DBPLANE_SHARD_TLS_CA: z
    .string()
    .min(1)
    .optional()
    .describe(
      "PEM CA file shard servers' certificates are checked against (verify-full); the local driver's is `<DBPLANE_DATA_DIR>/tls/ca.crt`. Unset: no TLS to shards.",
    ),
} as const;
