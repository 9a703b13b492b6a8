import {
  authEnv,
  httpEnv,
  loadConfig,
  logEnv,
  natsEnv,
  postgresEnv,
  redisEnv,
  shutdownEnv,
} from "@dbplane/service-kit";
import { z } from "zod";

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/**
 * The router's environment. Pool and timeout defaults suit a few dozen shards per replica; the
 * load and hot-shard knobs are shortened by tests to observe detection within seconds.
 */
export const routerEnv = z
  .object({
    ...httpEnv,
    ...logEnv,
    ...authEnv,
    ...shutdownEnv,
    ...natsEnv,
    ...postgresEnv,
    ...redisEnv,
    /** PostgreSQL schema the router owns in the platform database (shard maps, migrations). */
    DBPLANE_ROUTER_SCHEMA: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,62}$/, "must be a lower-case PostgreSQL identifier")
      .default("router"),
    /**
     * Kubeconfig used to read shard passwords from Kubernetes Secrets. Unset: the pod's service
     * account when running in a pod, else Secret references answer 503 (no Kubernetes access).
     */
    DBPLANE_KUBECONFIG: z.string().min(1).optional(),
    /** Connections of the platform database pool. */
    DBPLANE_PG_POOL_SIZE: int(2, 200).default(5),
    /**
     * Most connections per pool per router replica: a replica server has one pool, a primary two
     * (read-write, and read-only sessions for reads that fall back to it).
     */
    DBPLANE_ROUTER_SHARD_POOL_SIZE: int(1, 500).default(20),
    /** statement_timeout on every shard connection. */
    DBPLANE_ROUTER_STATEMENT_TIMEOUT_MS: int(100, 3_600_000).default(30_000),
    /** How long to wait for a shard connection (new or from the pool) before answering 503. */
    DBPLANE_ROUTER_CONNECT_TIMEOUT_MS: int(100, 120_000).default(5_000),
    /** A replica lagging more than this serves no reads until it catches up. */
    DBPLANE_ROUTER_MAX_REPLICA_LAG_MS: int(0, 3_600_000).default(5_000),
    /** How often every shard server is probed (health, replica lag). */
    DBPLANE_ROUTER_HEALTH_INTERVAL_MS: int(100, 600_000).default(2_000),
    /**
     * Readiness fails when this replica has seen the shard map bucket hold a change it has not
     * received for longer than this (the watch re-subscribes by itself after 5 s): a replica must
     * not route by a map the others have left behind.
     */
    DBPLANE_ROUTER_MAP_BEHIND_MAX_MS: int(1_000, 3_600_000).default(15_000),
    /** A pool left out of a new map version is closed this long after the swap (in-flight work ends first). */
    DBPLANE_ROUTER_POOL_RETIRE_MS: int(0, 600_000).default(65_000),
    /** Prefix of every Redis key the router writes (load windows, hot-shard claims). */
    DBPLANE_ROUTER_REDIS_PREFIX: z.string().min(1).default("dbplane:router:"),
    /** Sliding window over which per-shard rates are computed, across all replicas. */
    DBPLANE_ROUTER_LOAD_WINDOW_S: int(1, 3_600).default(60),
    /** How often local counts are added to Redis. */
    DBPLANE_ROUTER_LOAD_FLUSH_MS: int(50, 60_000).default(1_000),
    /** A shard is hot above this multiple of the median shard rate… */
    DBPLANE_ROUTER_HOT_MULTIPLE: z.coerce.number().min(1).max(1_000).default(3),
    /** …and above this absolute rate (queries/s), so idle databases never look hot… */
    DBPLANE_ROUTER_HOT_MIN_RATE: z.coerce.number().min(0).default(10),
    /** …for at least this long. */
    DBPLANE_ROUTER_HOT_SUSTAIN_MS: int(0, 3_600_000).default(60_000),
    /** After a `shard.hot`, the same shard is not reported again for this long. */
    DBPLANE_ROUTER_HOT_COOLDOWN_MS: int(1_000, 86_400_000).default(600_000),
    /** How often the detector looks at the windows. */
    DBPLANE_ROUTER_HOT_CHECK_MS: int(50, 600_000).default(5_000),
  })
  .superRefine((env, ctx) => {
    if (env.DBPLANE_ROUTER_LOAD_FLUSH_MS >= env.DBPLANE_ROUTER_LOAD_WINDOW_S * 1000) {
      ctx.addIssue({
        code: "custom",
        path: ["DBPLANE_ROUTER_LOAD_FLUSH_MS"],
        message: "must be shorter than the load window, or the window never holds a full count",
      });
    }
  });

export type RouterConfig = z.output<typeof routerEnv>;

/** Parses the environment once; exits 78 listing every problem. */
export function loadRouterConfig(env: NodeJS.ProcessEnv = process.env): RouterConfig {
  return loadConfig(routerEnv, env);
}
