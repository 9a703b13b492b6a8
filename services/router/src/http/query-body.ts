import { SHARD_KEY_TYPES } from "@dbplane/sharding";
import type { z } from "zod";
import type { queryBody } from "./router-schemas.ts";

type QueryBody = z.output<typeof queryBody>;

const KEY_TYPES: ReadonlySet<string> = new Set(SHARD_KEY_TYPES);
/** The fields of the common body; any other field (scatter options, a typo) goes to zod. */
const COMMON_FIELDS: ReadonlySet<string> = new Set(["sql", "params", "key", "readOnly"]);
const MAX_SQL_LENGTH = 1_000_000;
const MAX_PARAMS = 65_535;
const MAX_KEY_TEXT_LENGTH = 10_000;

/**
 * `POST /v1/databases/:db/query`'s common body — `{ sql, params, key, readOnly }` with scalar
 * params — checked by hand, with the defaults `queryBody` fills in: zod's parse of it was ~5% of
 * the router's CPU per keyed query. Whatever this does not fully recognise (undefined) is parsed
 * by `queryBody` itself, so it accepts only what `queryBody` accepts, with the same value, and
 * every invalid body still gets zod's 400 naming the field. The limits are `queryBody`'s own
 * (router-schemas.ts); a unit test holds the two together.
 */
export function commonQueryBody(data: unknown): QueryBody | undefined {
  if (typeof data !== "object" || data === null || Array.isArray(data)) return undefined;
  const body = data as Record<string, unknown>;
  for (const field of Object.keys(body)) if (!COMMON_FIELDS.has(field)) return undefined;
  const { sql, params, key, readOnly } = body;
  if (typeof sql !== "string" || sql.length === 0 || sql.length > MAX_SQL_LENGTH) return undefined;
  if (readOnly !== undefined && typeof readOnly !== "boolean") return undefined;
  if (params !== undefined && !scalarParams(params)) return undefined;
  if (key !== undefined && !shardKey(key)) return undefined;
  const parsed: QueryBody = {
    sql,
    params: (params as QueryBody["params"] | undefined) ?? [],
    readOnly: readOnly ?? false,
    allowWrites: false,
    allowPartial: false,
    orderBy: [],
  };
  if (key !== undefined) parsed.key = key;
  return parsed;
}

function scalarParams(params: unknown): boolean {
  if (!Array.isArray(params) || params.length > MAX_PARAMS) return false;
  for (const p of params) {
    if (p === null || typeof p === "string" || typeof p === "boolean") continue;
    if (typeof p === "number" && Number.isFinite(p)) continue;
    return false;
  }
  return true;
}

function shardKey(key: unknown): key is NonNullable<QueryBody["key"]> {
  if (typeof key !== "object" || key === null || Array.isArray(key)) return false;
  for (const field of Object.keys(key)) if (field !== "type" && field !== "value") return false;
  const { type, value } = key as Record<string, unknown>;
  if (typeof type !== "string" || !KEY_TYPES.has(type)) return false;
  if (typeof value === "string") return value.length <= MAX_KEY_TEXT_LENGTH;
  return typeof value === "number" && Number.isFinite(value);
}
