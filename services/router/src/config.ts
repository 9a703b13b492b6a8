import {
  authEnv,
  baseEnv,
  configLoader,
  envVar,
  postgresEnv,
  redisEnv,
  redisTlsEnv,
  shardTlsEnv,
} from "@dbplane/service-kit";
import { z } from "zod";

/**
 * The router's environment. Pool and timeout defaults suit a few dozen shards per replica; the
 * load and hot-shard knobs are shortened by tests to observe detection within seconds.
 */
export const configSchema = z
  .object({
    ...baseEnv,
    ...authEnv,
    ...postgresEnv,
    ...shardTlsEnv,
    ...redisTlsEnv,
    DBPLANE_REDIS_URL: redisEnv.DBPLANE_REDIS_URL.describe(
      "Redis the router replicas share (load windows, hot-shard claims).",
    ),
    DBPLANE_ROUTER_SCHEMA: envVar
      .identifier()
      .default("router")
      .describe("PostgreSQL schema the router owns in the platform database (shard maps, migrations)."),
    DBPLANE_KUBECONFIG: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Kubeconfig for reading shard passwords from Secrets; unset: the pod's service account, else Secret references answer 503.",
      ),
    // Shard maps name passwords only by reference; these bound where a reference may point.
    DBPLANE_DATA_DIR: z
      .string()
      .min(1)
      .default("./.data")
      .describe(
        "Local driver's data directory: a shard's password file is read only from inside it (the provisioner's DBPLANE_DATA_DIR).",
      ),
    DBPLANE_KUBE_NAMESPACE: envVar
      .dnsLabel()
      .optional()
      .describe(
        "Namespace of the shards' credentials Secrets (the provisioner's); unset: the pod's own, or `default` outside a cluster.",
      ),
    DBPLANE_PG_POOL_SIZE: envVar
      .int(2, 200)
      .default(5)
      .describe("Connections of the platform database pool."),
    // A replica server has one pool, a primary two (read-write, and read-only sessions for reads
    // that fall back to it).
    DBPLANE_ROUTER_SHARD_POOL_SIZE: envVar
      .int(1, 500)
      .default(20)
      .describe("Most connections per shard server pool per router replica."),
    DBPLANE_ROUTER_STATEMENT_TIMEOUT_MS: envVar
      .ms(100, 3_600_000)
      .default(30_000)
      .describe(
        "statement_timeout on every shard connection; 2 s past it the router cancels a statement whose server has not answered.",
      ),
    // 16 MiB of rows become several times that in the heap (pg row objects, then the JSON text),
    // so a few such answers at once still fit the pod's 512 MiB limit; bulk reads belong to COPY.
    DBPLANE_ROUTER_MAX_RESULT_BYTES: envVar
      .int(1_024, 1_073_741_824)
      .default(16_777_216)
      .describe(
        "Most bytes of rows one HTTP query or transaction may return (all shards of a scatter together); larger answers 413.",
      ),
    // pgJDBC's prepareThreshold is 5 as well; PgBouncer keeps up to 200 per server connection.
    DBPLANE_ROUTER_HTTP_PREPARE_AFTER: envVar
      .int(0, 1_000_000)
      .default(5)
      .describe(
        "An HTTP API statement text run this many times is prepared on each shard connection that runs it (at most 100 per connection) and only bound and executed from then on; 0 prepares nothing.",
      ),
    DBPLANE_ROUTER_CONNECT_TIMEOUT_MS: envVar
      .ms(100, 120_000)
      .default(5_000)
      .describe(
        "How long to wait for a shard connection (new or from the pool) before answering 503; also each health probe's deadline.",
      ),
    DBPLANE_ROUTER_MAX_REPLICA_LAG_MS: envVar
      .ms(0, 3_600_000)
      .default(5_000)
      .describe("A replica lagging more than this serves no reads until it catches up."),
    DBPLANE_ROUTER_HEALTH_INTERVAL_MS: envVar
      .ms(100, 600_000)
      .default(2_000)
      .describe("How often every shard server is probed (health, replica lag)."),
    DBPLANE_ROUTER_MAP_BEHIND_MAX_MS: envVar
      .ms(1_000, 3_600_000)
      .default(15_000)
      .describe(
        "Readiness fails when this replica has seen the shard map bucket hold a change it has not received for longer than this (its watch re-subscribes by itself after DBPLANE_ROUTER_MAP_STALL_MS).",
      ),
    DBPLANE_ROUTER_MAP_STALL_MS: envVar
      .ms(200, 60_000)
      .default(1_000)
      .describe(
        "The shard map watch re-subscribes once the bucket has been ahead of it this long (writes held by a fence wait for the next map).",
      ),
    DBPLANE_ROUTER_POOL_RETIRE_MS: envVar
      .ms(0, 600_000)
      .default(65_000)
      .describe(
        "A pool left out of a new map version closes this long after the swap (in-flight work ends first).",
      ),
    DBPLANE_ROUTER_REDIS_PREFIX: z
      .string()
      .min(1)
      .default("dbplane:router:")
      .describe("Prefix of every Redis key the router writes (load windows, hot-shard claims)."),
    DBPLANE_ROUTER_LOAD_WINDOW_S: envVar
      .int(1, 3_600)
      .default(60)
      .describe("Sliding window in seconds over which per-shard rates are computed, across all replicas."),
    DBPLANE_ROUTER_LOAD_FLUSH_MS: envVar
      .ms(50, 60_000)
      .default(1_000)
      .describe("How often local counts are added to Redis (shorter than the load window)."),
    DBPLANE_ROUTER_HOT_MULTIPLE: z.coerce
      .number()
      .min(1)
      .max(1_000)
      .default(3)
      .describe("A shard is hot above this multiple of the median shard rate (and the minimum rate)."),
    DBPLANE_ROUTER_HOT_MIN_RATE: z.coerce
      .number()
      .min(0)
      .default(10)
      .describe("Least rate (queries/s) of a hot shard, so idle databases never look hot."),
    DBPLANE_ROUTER_HOT_SUSTAIN_MS: envVar
      .ms(0, 3_600_000)
      .default(60_000)
      .describe("How long a shard's rate must stay above both thresholds before it is reported hot."),
    DBPLANE_ROUTER_HOT_COOLDOWN_MS: envVar
      .ms(1_000, 86_400_000)
      .default(600_000)
      .describe("After a `shard.hot`, the same shard is not reported again for this long."),
    DBPLANE_ROUTER_RESHARD_LEASE_MS: envVar
      .ms(1_000, 600_000)
      .default(30_000)
      .describe(
        "A replica running a reshard renews its claim this often (a third of it); a replica that died holding one is replaced after this long.",
      ),
    DBPLANE_ROUTER_RESHARD_POLL_MS: envVar
      .ms(50, 60_000)
      .default(250)
      .describe("Between looks at a reshard's copy and replication progress (and for new reshards to run)."),
    DBPLANE_ROUTER_RESHARD_FENCE_TIMEOUT_MS: envVar
      .ms(100, 60_000)
      .default(5_000)
      .describe(
        "How long every router replica has to acknowledge a reshard's write fence, and the target to apply the source's last writes under it; longer and the cut-over is retried later.",
      ),
    DBPLANE_ROUTER_RESHARD_ADD_SHARD_TIMEOUT_MS: envVar
      .ms(1_000, 86_400_000)
      .default(600_000)
      .describe(
        "How long a split waits for the shard it asked the provisioner for (add-shard) before it fails; a refused add-shard (a provisioner quota) is dead-lettered and announces nothing.",
      ),
    DBPLANE_ROUTER_RESHARD_HOLD_FILE: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Tests only: a file naming a point of the reshard machine (a phase, `cutting-over:publishing` or `cutting-over:published`); a runner reaching it writes `<file>.held` with its pid and waits while the file names it, so a test can kill -9 it there. Unset: never held.",
      ),
    DBPLANE_ROUTER_REBALANCE_CHECK_MS: envVar
      .ms(0, 86_400_000)
      .default(300_000)
      .describe(
        "The router schedules its rebalance check (the autoSplit policy applied to current load) with the scheduler this often; 0: it does not.",
      ),
    DBPLANE_ROUTER_HOT_CHECK_MS: envVar
      .ms(50, 600_000)
      .default(5_000)
      .describe("How often the detector looks at the load windows."),
    DBPLANE_ROUTER_PG_PORT: envVar
      .int(0, 65_535)
      .default(6432)
      .describe("Port of the PostgreSQL wire endpoint (0 picks a free one, logged at start)."),
    DBPLANE_ROUTER_TLS_CERT: z
      .string()
      .min(1)
      .optional()
      .describe(
        "PEM certificate file for the wire endpoint's TLS (with DBPLANE_ROUTER_TLS_KEY); unset: SSLRequest answered N.",
      ),
    DBPLANE_ROUTER_TLS_KEY: z
      .string()
      .min(1)
      .optional()
      .describe("PEM private key file for the wire endpoint's TLS (with DBPLANE_ROUTER_TLS_CERT)."),
    DBPLANE_ROUTER_WIRE_POOL_SIZE: envVar
      .int(1, 1_000)
      .default(20)
      .describe("Most wire-endpoint connections per shard server per router replica (transaction mode)."),
    DBPLANE_ROUTER_FENCE_MAX_HOLD_MS: envVar
      .ms(100, 600_000)
      .default(10_000)
      .describe(
        "Longest a write waits for a write fence (a shard being split) before it fails: HTTP 503 WRITE_FENCED, wire SQLSTATE 40001.",
      ),
    DBPLANE_ROUTER_FENCE_HEARTBEAT_MS: envVar
      .ms(100, 60_000)
      .default(2_000)
      .describe("How often this replica renews its heartbeat in the router_replicas bucket (write fences)."),
    // Half a lease without a renewal and the replica holds writes by itself; a whole lease and a
    // coordinator raising a fence stops waiting for it. The half in between lets running writes end.
    DBPLANE_ROUTER_FENCE_LEASE_MS: envVar
      .ms(1_000, 600_000)
      .default(10_000)
      .describe(
        "A replica whose heartbeat is older than this is not waited for by a write fence; it holds writes after half of it.",
      ),
  })
  .refine(
    (env) => (env.DBPLANE_ROUTER_TLS_CERT === undefined) === (env.DBPLANE_ROUTER_TLS_KEY === undefined),
    {
      path: ["DBPLANE_ROUTER_TLS_KEY"],
      message: "DBPLANE_ROUTER_TLS_CERT and DBPLANE_ROUTER_TLS_KEY go together: set both or neither",
    },
  )
  .refine((env) => env.DBPLANE_ROUTER_FENCE_HEARTBEAT_MS * 4 <= env.DBPLANE_ROUTER_FENCE_LEASE_MS, {
    path: ["DBPLANE_ROUTER_FENCE_HEARTBEAT_MS"],
    message:
      "must be at most a quarter of DBPLANE_ROUTER_FENCE_LEASE_MS, or one slow renewal lapses the lease",
  })
  .refine((env) => env.DBPLANE_ROUTER_LOAD_FLUSH_MS < env.DBPLANE_ROUTER_LOAD_WINDOW_S * 1000, {
    path: ["DBPLANE_ROUTER_LOAD_FLUSH_MS"],
    message: "must be shorter than the load window, or the window never holds a full count",
  });

/** Parses the environment once; exits 78 listing every problem. */
export const loadRouterConfig = configLoader(configSchema);
export type RouterConfig = ReturnType<typeof loadRouterConfig>;
