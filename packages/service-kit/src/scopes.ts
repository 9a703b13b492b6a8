/**
 * What a bearer token may do: the space-separated `scope` claim (RFC 8693 §4.2; an array of
 * strings is accepted too, as some identity providers issue). The scopes dbplane knows:
 *
 * - `read` — every GET of every service;
 * - `db:<name>:query` — run SQL through the router against database `<name>`;
 * - `db:<name>:admin` — everything `db:<name>:query` may, plus migrate, re-map, reshard,
 *   delete, back up and restore `<name>`;
 * - `jobs:write` — create and change scheduler jobs, except those whose target is a dbplane
 *   command or event;
 * - `admin` — everything.
 */
export const Scope = {
  read: "read",
  admin: "admin",
  jobsWrite: "jobs:write",
} as const;

/** `db:<name>:query` or `db:<name>:admin`. */
export function databaseScope(db: string, level: "query" | "admin"): string {
  return `db:${db}:${level}`;
}

/** The scopes a verified claim set holds: `scope` as a space-separated string or an array. */
export function scopesOfClaim(claim: unknown): readonly string[] {
  if (typeof claim === "string") return claim.split(" ").filter((s) => s.length > 0);
  if (Array.isArray(claim)) return claim.filter((s): s is string => typeof s === "string" && s.length > 0);
  return [];
}

/**
 * Whether `held` grants `needed`: `admin` grants everything, `db:<name>:admin` grants
 * `db:<name>:query`, any other scope only itself. Matching is exact: no wildcards, so a database
 * name can never widen a scope.
 */
export function grants(held: readonly string[], needed: string): boolean {
  if (held.includes(Scope.admin) || held.includes(needed)) return true;
  const parts = needed.split(":");
  return (
    parts.length === 3 &&
    parts[0] === "db" &&
    parts[2] === "query" &&
    held.includes(databaseScope(parts[1]!, "admin"))
  );
}

const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** The path parameters a scope template names: `db:{db}:query` → `["db"]`. */
export function scopeParameters(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((m) => m[1]!);
}

/**
 * A route's scope template with the request's path parameters filled in: `db:{db}:query` for
 * `/v1/databases/shop/query` is `db:shop:query`. A missing parameter leaves an empty name,
 * which no token holds.
 */
export function resolveScope(template: string, params: unknown): string {
  const values = (typeof params === "object" && params !== null ? params : {}) as Record<string, unknown>;
  const parts = templateParts(template);
  let scope = parts[0]!;
  for (let i = 1; i < parts.length; i += 2) {
    const value = values[parts[i]!];
    scope += (typeof value === "string" ? value : "") + parts[i + 1]!;
  }
  return scope;
}

/** Templates split once (they are the routes' few): literals at even indexes, parameter names between. */
const splitTemplates = new Map<string, readonly string[]>();
const SPLIT_TEMPLATES_KEPT = 256;

function templateParts(template: string): readonly string[] {
  let parts = splitTemplates.get(template);
  if (parts === undefined) {
    parts = template.split(PLACEHOLDER);
    if (splitTemplates.size >= SPLIT_TEMPLATES_KEPT) splitTemplates.clear();
    splitTemplates.set(template, parts);
  }
  return parts;
}
