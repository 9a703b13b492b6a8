import {
  authEnv,
  httpEnv,
  loadConfig,
  logEnv,
  natsEnv,
  postgresEnv,
  shutdownEnv,
} from "@dbplane/service-kit";
import { z } from "zod";

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const identifier = z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, "must be a lower-case PostgreSQL identifier");
const list = z.string().transform((value) =>
  value
    .split(",")
    .map((part) => part.trim())
    .filter(Boolean),
);

/**
 * The projection-coordinator's environment. Besides the JWT secret every variable has a default
 * that runs on a developer machine (local NATS and PostgreSQL); a pod sets the URLs.
 */
export const coordinatorEnv = z
  .object({
    ...httpEnv,
    ...logEnv,
    ...shutdownEnv,
    ...natsEnv,
    /** The local platform database, no password: the default carries no credentials. */
    DBPLANE_PG_URL: postgresEnv.DBPLANE_PG_URL.default("postgres://postgres@127.0.0.1:5432/postgres"),
    // Required, as in every service with mutating routes (rebuild, retry of parked events).
    ...authEnv,
    /** Schema of the coordination tables and the read models. */
    DBPLANE_PROJECTION_SCHEMA: identifier.default("projections"),
    /** Which projections this replica runs: built-ins (fleet, audit) and those from modules. */
    DBPLANE_PROJECTIONS: list.default(["fleet", "audit"]),
    /** Comma-separated module paths whose exported `defineProjection` values are added. */
    DBPLANE_PROJECTION_MODULES: list.default([]),
    /** This replica's member id; `<hostname>:<pid>:<random>` by default. */
    DBPLANE_PROJECTION_MEMBER_ID: z.string().min(1).max(200).optional(),
    DBPLANE_PROJECTION_HEARTBEAT_MS: int(50, 60_000).default(1_000),
    /** A replica silent this long is removed and its units move. */
    DBPLANE_PROJECTION_MEMBER_TTL_MS: int(200, 600_000).default(10_000),
    DBPLANE_PROJECTION_BATCH_SIZE: int(1, 10_000).default(500),
    /** Attempts of a failing event before it is parked. */
    DBPLANE_PROJECTION_MAX_ATTEMPTS: int(1, 100).default(5),
    DBPLANE_PROJECTION_IDLE_FLUSH_MS: int(10, 60_000).default(500),
    /** How long a replaced generation's tables stay for reads in flight. */
    DBPLANE_PROJECTION_RETIRED_TTL_MS: int(0, 86_400_000).default(60_000),
    DBPLANE_PG_POOL_SIZE: int(2, 200).default(10),
  })
  .superRefine((env, ctx) => {
    if (env.DBPLANE_PROJECTION_MEMBER_TTL_MS < 3 * env.DBPLANE_PROJECTION_HEARTBEAT_MS) {
      ctx.addIssue({
        code: "custom",
        path: ["DBPLANE_PROJECTION_MEMBER_TTL_MS"],
        message: "must be at least 3 heartbeats, or a busy replica is taken for dead",
      });
    }
  });

export type CoordinatorConfig = z.output<typeof coordinatorEnv>;

/** Parses the environment once; exits 78 listing every problem. */
export function loadCoordinatorConfig(env: NodeJS.ProcessEnv = process.env): CoordinatorConfig {
  return loadConfig(coordinatorEnv, env);
}
