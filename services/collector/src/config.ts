import { readFileSync } from "node:fs";
import { passwordRef } from "@dbplane/contracts";
import {
  httpEnv,
  loadConfig,
  logEnv,
  MIN_JWT_SECRET_LENGTH,
  natsEnv,
  redisEnv,
  shutdownEnv,
} from "@dbplane/service-kit";
import { z } from "zod";
import { staticTargetList } from "./domain/static-targets.ts";

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const jsonOf = <T extends z.ZodType>(schema: T) =>
  z.string().transform((text, ctx) => {
    try {
      const parsed = schema.safeParse(JSON.parse(text));
      if (parsed.success) return parsed.data as z.output<T>;
      for (const issue of parsed.error.issues) {
        ctx.addIssue({ code: "custom", message: `${issue.path.join(".") || "(value)"}: ${issue.message}` });
      }
    } catch {
      ctx.addIssue({ code: "custom", message: "must be JSON" });
    }
    return z.NEVER;
  });

/**
 * The collector's environment. Every variable has a default that runs on a developer machine
 * (Redis and NATS on localhost); tests shorten the timing knobs and isolate by key prefix.
 */
export const collectorEnv = z
  .object({
    ...httpEnv,
    ...logEnv,
    ...shutdownEnv,
    ...natsEnv,
    DBPLANE_REDIS_URL: redisEnv.DBPLANE_REDIS_URL.default("redis://127.0.0.1:6379"),
    /** Only GET routes exist, so no token is ever checked; a random key stands in when unset. */
    DBPLANE_JWT_SECRET: z.string().min(MIN_JWT_SECRET_LENGTH).optional(),
    /** Prefix of every Redis key of the group (membership, lease, assignment, registry, samples). */
    DBPLANE_COLLECTOR_REDIS_PREFIX: z.string().min(1).default("dbplane:collector:"),
    /** How often each target is collected. */
    DBPLANE_COLLECTOR_INTERVAL_MS: int(100, 3_600_000).default(15_000),
    /** A collection (connect + queries) that takes longer fails the target with "timed out". */
    DBPLANE_COLLECTOR_TIMEOUT_MS: int(50, 600_000).default(5_000),
    DBPLANE_COLLECTOR_CONNECT_TIMEOUT_MS: int(50, 120_000).default(3_000),
    DBPLANE_COLLECTOR_STATEMENT_TIMEOUT_MS: int(50, 600_000).default(3_000),
    /** Collections running at once in one replica. */
    DBPLANE_COLLECTOR_CONCURRENCY: int(1, 1_000).default(16),
    /** Connections one replica opens to one target at most. */
    DBPLANE_COLLECTOR_TARGET_CONNECTIONS: int(1, 20).default(1),
    /** Target pools one replica keeps open; beyond it the least recently used idle pool closes. */
    DBPLANE_COLLECTOR_MAX_OPEN_TARGETS: int(1, 100_000).default(64),
    /** pg_stat_statements entries reported per target (0 turns it off). */
    DBPLANE_COLLECTOR_TOP_STATEMENTS: int(0, 50).default(5),
    DBPLANE_COLLECTOR_HEARTBEAT_MS: int(20, 60_000).default(1_000),
    /** A member silent this long is removed and its targets reassigned. */
    DBPLANE_COLLECTOR_NODE_TIMEOUT_MS: int(100, 600_000).default(10_000),
    /** Leader lease; a dead leader is replaced within about this long. */
    DBPLANE_COLLECTOR_LEASE_MS: int(100, 600_000).default(5_000),
    DBPLANE_COLLECTOR_MAX_LAG_SECONDS: z.coerce.number().min(0).default(30),
    DBPLANE_COLLECTOR_MAX_LAG_BYTES: z.coerce
      .number()
      .int()
      .min(0)
      .default(64 * 1024 * 1024),
    DBPLANE_COLLECTOR_CONNECTIONS_NEAR_MAX: z.coerce.number().gt(0).max(1).default(0.9),
    DBPLANE_COLLECTOR_MEMORY_NEAR_MAX: z.coerce.number().gt(0).max(1).default(0.9),
    /** Static targets: a JSON array of {name, url, engine?, passwordFile?}. */
    DBPLANE_COLLECTOR_TARGETS: jsonOf(staticTargetList).default([]),
    /** Static targets from a JSON file of the same shape (added to DBPLANE_COLLECTOR_TARGETS). */
    DBPLANE_COLLECTOR_TARGETS_FILE: z.string().min(1).optional(),
    /** Role the collector connects to discovered PostgreSQL servers as. */
    DBPLANE_COLLECTOR_DISCOVERED_USER: z.string().min(1).default("postgres"),
    /** Where that role's password is: a passwordRef as JSON ({"kind":"file","path":…} or a Secret). */
    DBPLANE_COLLECTOR_DISCOVERED_PASSWORD_REF: jsonOf(passwordRef).optional(),
    /** Kubeconfig for reading Secret passwordRefs; unset: the pod's service account, else none. */
    DBPLANE_KUBECONFIG: z.string().min(1).optional(),
  })
  .superRefine((env, ctx) => {
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

export type CollectorConfig = z.output<typeof collectorEnv>;

/** Parses the environment once (and the static targets file); exits 78 listing every problem. */
export function loadCollectorConfig(env: NodeJS.ProcessEnv = process.env): CollectorConfig {
  const file = env.DBPLANE_COLLECTOR_TARGETS_FILE;
  if (!file) return loadConfig(collectorEnv, env);
  let fileTargets: unknown[] = [];
  try {
    fileTargets = JSON.parse(readFileSync(file, "utf8")) as unknown[];
  } catch (err) {
    process.stderr.write(
      `invalid configuration:\n  - DBPLANE_COLLECTOR_TARGETS_FILE: cannot read JSON (${(err as NodeJS.ErrnoException).code ?? "parse error"})\n`,
    );
    process.exit(78);
  }
  let inline: unknown[] = [];
  try {
    inline = env.DBPLANE_COLLECTOR_TARGETS ? (JSON.parse(env.DBPLANE_COLLECTOR_TARGETS) as unknown[]) : [];
  } catch {
    // Not JSON: let the schema report it, naming the variable.
    return loadConfig(collectorEnv, env);
  }
  return loadConfig(collectorEnv, {
    ...env,
    DBPLANE_COLLECTOR_TARGETS: JSON.stringify([...inline, ...fileTargets]),
  });
}
