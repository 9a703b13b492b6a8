import { authEnv, baseEnv, configLoader, envVar, localPostgresEnv } from "@dbplane/service-kit";
import { z } from "zod";

const httpUrl = envVar.url(["http:", "https:"]);
/** Where the console's same-origin proxy (`/console/api/<service>/…`) finds the other services. */
const consoleUpstreamEnv = {
  DBPLANE_DISCOVERY_URL: httpUrl
    .default("http://127.0.0.1:7101")
    .describe("Discovery's HTTP API, for the console."),
  DBPLANE_PROVISIONER_URL: httpUrl
    .default("http://127.0.0.1:7102")
    .describe("The provisioner's HTTP API, for the console."),
  DBPLANE_ROUTER_URL: httpUrl
    .default("http://127.0.0.1:7103")
    .describe("The router's HTTP API, for the console."),
  DBPLANE_SCHEDULER_URL: httpUrl
    .default("http://127.0.0.1:7104")
    .describe("The scheduler's HTTP API, for the console."),
  DBPLANE_COLLECTOR_URL: httpUrl
    .default("http://127.0.0.1:7106")
    .describe("The collector's HTTP API, for the console."),
};

/**
 * The projection-coordinator's environment. Besides the JWT secret every variable has a default
 * that runs on a developer machine (local NATS and PostgreSQL); a pod sets the URLs.
 */
export const configSchema = z
  .object({
    ...baseEnv,
    ...localPostgresEnv,
    // Required, as in every service with mutating routes (rebuild, retry of parked events).
    ...authEnv,
    DBPLANE_PROJECTION_SCHEMA: envVar
      .identifier()
      .default("projections")
      .describe("PostgreSQL schema of the coordination tables and the read models."),
    DBPLANE_PROJECTIONS: envVar
      .list()
      .prefault("fleet,audit")
      .describe(
        "Projections this replica runs, comma-separated: built-ins (fleet, audit) and those from modules.",
      ),
    DBPLANE_PROJECTION_MODULES: envVar
      .list()
      .prefault("")
      .describe("Module paths, comma-separated, whose exported `defineProjection` values are added."),
    DBPLANE_PROJECTION_MEMBER_ID: z
      .string()
      .min(1)
      .max(200)
      .optional()
      .describe("This replica's member id; unset: `<hostname>:<pid>:<random>`."),
    DBPLANE_PROJECTION_HEARTBEAT_MS: envVar
      .ms(50, 60_000)
      .default(1_000)
      .describe("How often each replica upserts its member row."),
    DBPLANE_PROJECTION_MEMBER_TTL_MS: envVar
      .ms(200, 600_000)
      .default(10_000)
      .describe("A replica silent this long is removed and its units move (at least 3 heartbeats)."),
    DBPLANE_PROJECTION_BATCH_SIZE: envVar
      .int(1, 10_000)
      .default(500)
      .describe("Most events a unit applies in one transaction."),
    DBPLANE_PROJECTION_MAX_ATTEMPTS: envVar
      .int(1, 100)
      .default(5)
      .describe("Attempts of a failing event before it is parked."),
    DBPLANE_PROJECTION_IDLE_FLUSH_MS: envVar
      .ms(10, 60_000)
      .default(500)
      .describe("How soon an idle unit checkpoints the reader's position."),
    DBPLANE_PROJECTION_RETIRED_TTL_MS: envVar
      .ms(0, 86_400_000)
      .default(60_000)
      .describe("How long a replaced generation's tables stay for reads in flight."),
    ...consoleUpstreamEnv,
    DBPLANE_PG_POOL_SIZE: envVar.int(2, 200).default(10).describe("PostgreSQL connections per replica."),
  })
  .refine((env) => env.DBPLANE_PROJECTION_MEMBER_TTL_MS >= 3 * env.DBPLANE_PROJECTION_HEARTBEAT_MS, {
    path: ["DBPLANE_PROJECTION_MEMBER_TTL_MS"],
    message: "must be at least 3 heartbeats, or a busy replica is taken for dead",
  });

/** Parses the environment once; exits 78 listing every problem. */
export const loadCoordinatorConfig = configLoader(configSchema);
export type CoordinatorConfig = ReturnType<typeof loadCoordinatorConfig>;
