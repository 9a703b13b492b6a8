import type { ConnectionHint } from "./cluster-objects.ts";

/**
 * Reads where a connection setting points — host, port, database name — and nothing else. User
 * names and passwords in URLs and conninfo strings are skipped, never copied, so a result can be
 * logged, emitted and returned.
 */

const URL_SCHEME = /^(?:jdbc:)?(?:postgres|postgresql|pgsql|postgis)(?:\+[a-z0-9]+)?:\/\//i;
const HOST_LABEL = "[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?";
const HOSTNAME = new RegExp(`^${HOST_LABEL}(\\.${HOST_LABEL})*\\.?$`, "i");
const IPV6 = /^\[[0-9a-f:.]+\]$/i;
const DBNAME = /^[^\s/?#'"]{1,63}$/;
/** Longer values are not connection settings (a whole config file in a ConfigMap key). */
const MAX_VALUE_LENGTH = 2_048;

/** A host name, IPv4 or bracketed IPv6 address, lower-cased without a trailing dot. */
export function parseHost(value: string): string | undefined {
  const host = value.trim();
  if (host.length === 0 || host.length > 253) return undefined;
  if (IPV6.test(host)) return host.toLowerCase();
  return HOSTNAME.test(host) ? host.toLowerCase().replace(/\.$/, "") : undefined;
}

export function parsePort(value: string): number | undefined {
  const text = value.trim();
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port >= 1 && port <= 65_535 ? port : undefined;
}

export function parseDbname(value: string): string | undefined {
  const name = value.trim();
  return DBNAME.test(name) ? name : undefined;
}

/** `host`, `host:port` or `[v6]:port`. */
export function parseHostPort(value: string): ConnectionHint | undefined {
  const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(value.trim());
  const host = match ? parseHost(match[1]!) : undefined;
  if (!host) return undefined;
  if (match?.[2] === undefined) return { host };
  const port = parsePort(match[2]);
  return port ? { host, port } : undefined;
}

function queryHint(query: string): ConnectionHint {
  const params = new URLSearchParams(query);
  const host = params.get("host");
  const port = params.get("port");
  const dbname = params.get("dbname");
  return {
    ...(host !== null && parseHost(host.split(",")[0]!) && { host: parseHost(host.split(",")[0]!) }),
    ...(port !== null && parsePort(port) && { port: parsePort(port) }),
    ...(dbname !== null && parseDbname(dbname) && { dbname: parseDbname(dbname) }),
  };
}

/**
 * A PostgreSQL URL (`postgres://`, `postgresql+psycopg://`, `jdbc:postgresql://`, …): its first
 * host, port and database. The user-info part is cut off before anything else is looked at.
 */
export function parseConnectionUrl(value: string): ConnectionHint | undefined {
  const text = value.trim();
  const scheme = URL_SCHEME.exec(text);
  if (!scheme || text.length > MAX_VALUE_LENGTH) return undefined;
  const rest = text.slice(scheme[0].length);
  const authorityEnd = rest.search(/[/?#]/);
  const authority = authorityEnd === -1 ? rest : rest.slice(0, authorityEnd);
  const hostList = authority.slice(authority.lastIndexOf("@") + 1);
  const afterAuthority = authorityEnd === -1 ? "" : rest.slice(authorityEnd);
  const [pathPart = "", query = ""] = afterAuthority.split("#")[0]!.split("?");
  const first = hostList.split(",")[0] ?? "";
  const hostPort = first === "" ? {} : parseHostPort(first);
  if (hostPort === undefined) return undefined;
  let dbname: string | undefined;
  try {
    dbname = pathPart.length > 1 ? parseDbname(decodeURIComponent(pathPart.slice(1))) : undefined;
  } catch {
    return undefined;
  }
  const hint = { ...hostPort, ...(dbname && { dbname }), ...queryHint(query) };
  return hint.host ? hint : undefined;
}

/** A libpq conninfo string: `host=pg port=5432 dbname=app …` (other keywords skipped unread). */
export function parseConninfo(value: string): ConnectionHint | undefined {
  if (value.length > MAX_VALUE_LENGTH || !/(^|\s)host\s*=/.test(value)) return undefined;
  const pairs = new Map<string, string>();
  for (const match of value.matchAll(/([a-z_]+)\s*=\s*('(?:[^'\\]|\\.)*'|\S+)/gi)) {
    const key = match[1]!.toLowerCase();
    if (key === "host" || key === "port" || key === "dbname") pairs.set(key, match[2]!.replace(/^'|'$/g, ""));
  }
  const host = parseHost((pairs.get("host") ?? "").split(",")[0]!);
  if (!host) return undefined;
  const port = pairs.has("port") ? parsePort(pairs.get("port")!) : undefined;
  const dbname = pairs.has("dbname") ? parseDbname(pairs.get("dbname")!) : undefined;
  return { host, ...(port && { port }), ...(dbname && { dbname }) };
}

/** A whole connection string: a URL or a conninfo string. */
export function parseConnectionString(value: string): ConnectionHint | undefined {
  return parseConnectionUrl(value) ?? parseConninfo(value);
}
