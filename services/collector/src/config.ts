import { readFileSync } from "node:fs";
import { passwordRef } from "@dbplane/contracts";
import {
  baseEnv,
  CONFIG_EXIT_CODE,
  envVar,
  loadConfig,
  localRedisEnv,
  readOnlyAuthEnv,
  redisTlsEnv,
  shardTlsEnv,
} from "@dbplane/service-kit";
import { z } from "zod";
import { staticTargetList } from "./domain/static-targets.ts";

/**
 * The collector's environment. Every variable has a default that runs on a developer machine
 * (Redis and NATS on localhost); tests shorten the timing knobs and isolate by key prefix.
 */
export const configSchema = z
  .object({
    ...baseEnv,
    DBPLANE_REDIS_URL: localRedisEnv.DBPLANE_REDIS_URL.describe(
      "Redis the collector replicas coordinate in (membership, lease, assignment, registry, samples).",
    ),
    // Only GET routes exist, so no token is ever checked.
    ...readOnlyAuthEnv,
    ...shardTlsEnv,
    ...redisTlsEnv,
    DBPLANE_COLLECTOR_REDIS_PREFIX: z
      .string()
      .min(1)
      .default("dbplane:collector:")
      .describe("Prefix of every Redis key of the group."),
    DBPLANE_COLLECTOR_INTERVAL_MS: envVar
      .ms(100, 3_600_000)
      .default(15_000)
      .describe("How often each target is collected."),
    DBPLANE_COLLECTOR_TIMEOUT_MS: envVar
      .ms(50, 600_000)
      .default(5_000)
      .describe("A collection (connect and queries) taking longer fails the target with `timed out`."),
    DBPLANE_COLLECTOR_CONNECT_TIMEOUT_MS: envVar
      .ms(50, 120_000)
      .default(3_000)
      .describe("Connect timeout of a target connection."),
    DBPLANE_COLLECTOR_STATEMENT_TIMEOUT_MS: envVar
      .ms(50, 600_000)
      .default(3_000)
      .describe("Timeout of each statement on a target connection."),
    DBPLANE_COLLECTOR_CONCURRENCY: envVar
      .int(1, 1_000)
      .default(16)
      .describe("Collections running at once in one replica (targets not known to be up may hold half)."),
    DBPLANE_COLLECTOR_TARGET_CONNECTIONS: envVar
      .int(1, 20)
      .default(1)
      .describe("Connections one replica opens to one target at most."),
    DBPLANE_COLLECTOR_MAX_OPEN_TARGETS: envVar
      .int(1, 100_000)
      .default(64)
      .describe("Target pools one replica keeps open; beyond it the least recently used idle pool closes."),
    DBPLANE_COLLECTOR_TOP_STATEMENTS: envVar
      .int(0, 50)
      .default(5)
      .describe("pg_stat_statements entries reported per target (0 turns it off)."),
    DBPLANE_COLLECTOR_HEARTBEAT_MS: envVar
      .ms(20, 60_000)
      .default(1_000)
      .describe("How often a member writes its heartbeat (and the leader renews its lease)."),
    DBPLANE_COLLECTOR_NODE_TIMEOUT_MS: envVar
      .ms(100, 600_000)
      .default(10_000)
      .describe("A member silent this long is removed and its targets reassigned (> 2 heartbeats)."),
    DBPLANE_COLLECTOR_LEASE_MS: envVar
      .ms(100, 600_000)
      .default(5_000)
      .describe("Leader lease; a dead leader is replaced within about this long (> 2 heartbeats)."),
    DBPLANE_COLLECTOR_MAX_LAG_SECONDS: z.coerce
      .number()
      .min(0)
      .default(30)
      .describe("Replication lag in seconds above which a target is degraded."),
    DBPLANE_COLLECTOR_MAX_LAG_BYTES: envVar
      .int(0)
      .default(64 * 1024 * 1024)
      .describe("Replication lag in bytes above which a target is degraded."),
    DBPLANE_COLLECTOR_CONNECTIONS_NEAR_MAX: z.coerce
      .number()
      .gt(0)
      .max(1)
      .default(0.9)
      .describe("Share of the server's maximum connections in use at which a target is degraded."),
    DBPLANE_COLLECTOR_MEMORY_NEAR_MAX: z.coerce
      .number()
      .gt(0)
      .max(1)
      .default(0.9)
      .describe("Share of Redis maxmemory in use at which a Redis target is degraded."),
    DBPLANE_COLLECTOR_TARGETS: envVar
      .json(staticTargetList)
      .prefault("[]")
      .describe("Static targets: a JSON array of `{name, url, engine?, passwordFile?}`."),
    DBPLANE_COLLECTOR_TARGETS_FILE: z
      .string()
      .min(1)
      .optional()
      .describe("A JSON file of static targets in the same shape, added to DBPLANE_COLLECTOR_TARGETS."),
    DBPLANE_COLLECTOR_DISCOVERED_USER: z
      .string()
      .min(1)
      .default("postgres")
      .describe("Role the collector connects to discovered PostgreSQL servers as."),
    DBPLANE_COLLECTOR_DISCOVERED_PASSWORD_REF: envVar
      .json(passwordRef)
      .optional()
      .describe('That role\'s password: a passwordRef as JSON (`{"kind":"file","path":…}` or a Secret).'),
    DBPLANE_COLLECTOR_DISCOVERED_PASSWORD_HOSTS: envVar
      .list(
        z.string().regex(/^(\*\.)?[A-Za-z0-9]([-.A-Za-z0-9]*[A-Za-z0-9])?$/),
        "must be comma-separated host names, each optionally starting with `*.`",
      )
      .prefault("")
      .describe(
        "Hosts the discovered-servers password may be sent to (`pg.prod.svc`, or `*.prod.svc` for a domain); other discovered servers get the user only. Required with DBPLANE_COLLECTOR_DISCOVERED_PASSWORD_REF.",
      ),
    DBPLANE_KUBECONFIG: z
      .string()
      .min(1)
      .optional()
      .describe("Kubeconfig for reading Secret passwordRefs; unset: the pod's service account, else none."),
    // Provisioned shards' passwordRefs travel in events; these bound where one may point.
    DBPLANE_DATA_DIR: z
      .string()
      .min(1)
      .default("./.data")
      .describe(
        "Local driver's data directory: a provisioned shard's password file is read only from inside it (the provisioner's DBPLANE_DATA_DIR).",
      ),
    DBPLANE_KUBE_NAMESPACE: envVar
      .dnsLabel()
      .optional()
      .describe(
        "Namespace of the shards' credentials Secrets (the provisioner's); unset: the pod's own, or `default` outside a cluster.",
      ),
  })
  .superRefine((env, ctx) => {
    // Discovery finds servers by image name and Service, which any tenant can imitate: the
    // password goes only where the operator says a real server is.
    if (
      env.DBPLANE_COLLECTOR_DISCOVERED_PASSWORD_REF &&
      env.DBPLANE_COLLECTOR_DISCOVERED_PASSWORD_HOSTS.length === 0
    ) {
      ctx.addIssue({
        code: "custom",
        path: ["DBPLANE_COLLECTOR_DISCOVERED_PASSWORD_HOSTS"],
        message:
          "must name the hosts the discovered-servers password may be sent to when DBPLANE_COLLECTOR_DISCOVERED_PASSWORD_REF is set",
      });
    }
    if (env.DBPLANE_COLLECTOR_NODE_TIMEOUT_MS <= 2 * env.DBPLANE_COLLECTOR_HEARTBEAT_MS) {
      ctx.addIssue({
        code: "custom",
        path: ["DBPLANE_COLLECTOR_NODE_TIMEOUT_MS"],
        message:
          "must be more than twice DBPLANE_COLLECTOR_HEARTBEAT_MS, or one late heartbeat evicts a member",
      });
    }
    if (env.DBPLANE_COLLECTOR_LEASE_MS <= 2 * env.DBPLANE_COLLECTOR_HEARTBEAT_MS) {
      ctx.addIssue({
        code: "custom",
        path: ["DBPLANE_COLLECTOR_LEASE_MS"],
        message:
          "must be more than twice DBPLANE_COLLECTOR_HEARTBEAT_MS, or the leader loses its lease between renewals",
      });
    }
  });

export type CollectorConfig = z.output<typeof configSchema>;

/** Parses the environment once (and the static targets file); exits 78 listing every problem. */
export function loadCollectorConfig(env: NodeJS.ProcessEnv = process.env): CollectorConfig {
  const file = env.DBPLANE_COLLECTOR_TARGETS_FILE;
  if (!file) return loadConfig(configSchema, env);
  let fileTargets: unknown[] = [];
  try {
    fileTargets = JSON.parse(readFileSync(file, "utf8")) as unknown[];
  } catch (err) {
    process.stderr.write(
      `invalid configuration:\n  - DBPLANE_COLLECTOR_TARGETS_FILE: cannot read JSON (${(err as NodeJS.ErrnoException).code ?? "parse error"})\n`,
    );
    process.exit(CONFIG_EXIT_CODE);
  }
  let inline: unknown[] = [];
  try {
    inline = env.DBPLANE_COLLECTOR_TARGETS ? (JSON.parse(env.DBPLANE_COLLECTOR_TARGETS) as unknown[]) : [];
  } catch {
    // Not JSON: let the schema report it, naming the variable.
    return loadConfig(configSchema, env);
  }
  return loadConfig(configSchema, {
    ...env,
    DBPLANE_COLLECTOR_TARGETS: JSON.stringify([...inline, ...fileTargets]),
  });
}
