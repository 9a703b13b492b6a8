import { z } from "zod";

/**
 * Field schemas shared by several messages. Each carries its own description so every message
 * that uses it documents it the same way in the AsyncAPI document.
 */

/**
 * A dbplane database name: a DNS-1123 label of at most 40 characters. 40, not 63, because
 * Kubernetes object names are derived from it (`{db}-shard-{n}-credentials` must stay a label).
 */
export const databaseName = z
  .string()
  .min(1)
  .max(40)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "must be a DNS-1123 label (lower-case letters, digits, '-')")
  .describe("dbplane database name: DNS-1123 label, at most 40 characters");

/** Zero-based index of a shard within its database. */
export const shardIndex = z.int().min(0).max(4095).describe("Zero-based shard index within the database");

/** Kubernetes resource quantity without sign (`10Gi`, `500m`, `1.5`, `2e3`). */
export const quantity = z
  .string()
  .regex(
    /^(\d+(\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$/,
    "must be a Kubernetes quantity such as 10Gi or 500m",
  );

/** RFC 3339 timestamp; an offset is allowed, dbplane itself always writes UTC (`Z`). */
export const timestamp = z.iso.datetime({ offset: true });

/**
 * An identifier chosen by a caller (job id, backup id). No `:` because ids are joined with
 * timestamps into dedup ids (`<jobId>:<scheduledAt>`), which must split back unambiguously.
 */
export const identifier = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/,
    "must be 1-128 characters of [A-Za-z0-9._-], starting alphanumeric",
  );

/** Human-readable cause of a failure; never contains secrets. */
export const reason = z
  .string()
  .min(1)
  .max(2000)
  .describe("Why it happened, for people; never contains secrets");

/** A network endpoint of a PostgreSQL server. */
export const endpoint = z
  .strictObject({
    host: z.string().min(1).max(253).describe("Host name or IP address"),
    port: z.int().min(1).max(65535).describe("TCP port"),
  })
  .describe("Network endpoint");

/** PostgreSQL identifier (table or column), optionally schema-qualified for tables. */
const sqlName = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/;
export const sqlIdentifier = z.string().regex(sqlName, "must be a PostgreSQL identifier");
export const sqlTableName = z
  .string()
  .regex(
    /^[A-Za-z_][A-Za-z0-9_$]{0,62}(\.[A-Za-z_][A-Za-z0-9_$]{0,62})?$/,
    "must be a PostgreSQL table name, optionally schema-qualified",
  );

/**
 * Where a password can be read. Messages never carry the password itself: only a reference
 * that the reader resolves with its own permissions.
 */
export const passwordRef = z
  .discriminatedUnion("kind", [
    z
      .strictObject({
        kind: z.literal("secret"),
        namespace: z.string().min(1).max(63).describe("Kubernetes namespace of the Secret"),
        name: z.string().min(1).max(253).describe("Name of the Secret"),
        key: z.string().min(1).max(253).describe("Key inside the Secret's data"),
      })
      .describe("A key of a Kubernetes Secret"),
    z
      .strictObject({
        kind: z.literal("file"),
        path: z.string().min(1).describe("Absolute path of a 0600 file that holds only the password"),
      })
      .describe("A local file (local driver)"),
  ])
  .describe("Reference to the password; the password itself never travels in a message");

/** PostgreSQL types a shard key may have; each selects the hash function of its values. */
const SHARD_KEY_TYPES = ["smallint", "integer", "bigint", "text", "uuid"] as const;

/** A table distributed across shards by the hash of one column. */
export const shardedTable = z
  .strictObject({
    table: sqlTableName.describe("Table distributed across shards, optionally schema-qualified"),
    keyColumn: sqlIdentifier.describe("Column whose hash selects the shard"),
    keyType: z.enum(SHARD_KEY_TYPES).describe("PostgreSQL type of the key column; selects the hash function"),
  })
  .describe("A table sharded by a key column");

/**
 * The database's application role: the same non-superuser owner role on every shard, which
 * applications (through the router) and the router itself use. Its password and its SCRAM
 * verifier are only referenced, never carried.
 */
export const applicationRole = z
  .strictObject({
    user: z.string().min(1).max(63).describe("Name of the application role on every shard"),
    passwordRef: passwordRef.describe("Where the application role's password can be read"),
    verifierRef: passwordRef.describe(
      "Where the role's SCRAM-SHA-256 verifier can be read (what a server needs to authenticate it)",
    ),
  })
  .describe("The database's application role (non-superuser owner of the database on every shard)");

/**
 * A shard's monitoring role: LOGIN and membership of `pg_monitor`, nothing else (no superuser, no
 * ownership), with a password of its own on each shard. The collector connects as it.
 */
export const monitoringRole = z
  .strictObject({
    user: z.string().min(1).max(63).describe("Name of the monitoring role on the shard"),
    passwordRef: passwordRef.describe("Where the monitoring role's password can be read"),
  })
  .describe("The shard's monitoring role (pg_monitor, no superuser), which the collector connects as");

/**
 * A shard's reshard role: LOGIN, REPLICATION, BYPASSRLS, a member of the database's owner role,
 * and the provisioner's SECURITY DEFINER wrappers for the subscription commands — no superuser.
 * The router moves ranges of rows as it.
 */
export const reshardRole = z
  .strictObject({
    user: z.string().min(1).max(63).describe("Name of the reshard role on the shard"),
    passwordRef: passwordRef.describe("Where the reshard role's password can be read"),
  })
  .describe(
    "The shard's reshard role (replication and table ownership, no superuser), which the router reshards as",
  );

/** A value that survives `JSON.stringify` → `JSON.parse` unchanged. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * How deep a free-form JSON value (a job's payload, a webhook body) may nest. Deeper values are
 * refused: every reader of them (validators, `JSON.stringify`, PostgreSQL's jsonb) recurses, and
 * nothing dbplane carries needs more.
 */
export const MAX_JSON_DEPTH = 64;

/**
 * True for JSON values: finite numbers, plain objects and arrays of JSON values, no cycles, at
 * most {@link MAX_JSON_DEPTH} levels of arrays and objects.
 */
export function isJsonValue(value: unknown, seen: Set<object> = new Set(), depth = 0): value is JsonValue {
  if (value === null || typeof value === "string" || typeof value === "boolean") return true;
  if (typeof value === "number") return Number.isFinite(value);
  if (typeof value !== "object" || seen.has(value) || depth >= MAX_JSON_DEPTH) return false;
  seen.add(value);
  const ok = Array.isArray(value)
    ? value.every((v) => isJsonValue(v, seen, depth + 1))
    : Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null
      ? Object.values(value).every((v) => isJsonValue(v, seen, depth + 1))
      : false;
  seen.delete(value);
  return ok;
}

/**
 * Any JSON value. A custom check rather than `z.json()`: its JSON Schema is simply `{}` (any
 * JSON), where `z.json()` would emit recursive definitions that AsyncAPI cannot resolve.
 */
export const jsonValue = z
  .custom<JsonValue>((v) => isJsonValue(v), `must be a JSON value nested at most ${MAX_JSON_DEPTH} deep`)
  .meta({
    description: "Any JSON value",
  });

/** How to reach one shard: what `shard.ready` announces and `database.ready` lists. */
export const shardEndpoint = z.strictObject({
  shard: shardIndex,
  primary: endpoint.describe("The primary, for reads and writes"),
  replicas: z.array(endpoint).describe("Streaming replicas, for read-only work; may be empty"),
  dbname: z.string().min(1).max(63).describe("Name of the database on the PostgreSQL server"),
  user: z.string().min(1).max(63).describe("Role to connect as"),
  passwordRef,
  monitoring: monitoringRole
    .optional()
    .describe("The role monitoring connects as (pg_monitor only); absent from older provisioners"),
  reshard: reshardRole
    .optional()
    .describe(
      "The role resharding connects as (no superuser); absent from older provisioners, whose shards reshard as `user`",
    ),
});

export type ShardedTable = z.output<typeof shardedTable>;
export type ApplicationRole = z.output<typeof applicationRole>;
export type MonitoringRole = z.output<typeof monitoringRole>;
export type ReshardRole = z.output<typeof reshardRole>;
