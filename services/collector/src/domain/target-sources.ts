import type { DiscoveredDatabase, ShardReady } from "@dbplane/contracts";
import type { Credential, TargetSpec } from "./target-spec.ts";

/** Target id prefix of every server of one dbplane database's shards. */
export function shardTargetPrefix(database: string): string {
  return `shard:${database}:`;
}

/** `shard:<db>:<n>:` — the prefix of one shard's servers. */
export function shardServerPrefix(database: string, shard: number): string {
  return `${shardTargetPrefix(database)}${shard}:`;
}

const postgresUrl = (host: string, port: number, dbname: string, user?: string) =>
  `postgresql://${user ? `${encodeURIComponent(user)}@` : ""}${host.includes(":") ? `[${host}]` : host}:${port}/${encodeURIComponent(dbname)}`;

/**
 * One target per server of a provisioned shard: the primary and each replica, each id naming its
 * address so a replica keeps its id when the list is reordered. The collector logs in as the
 * shard's monitoring role (pg_monitor only); only a shard announced by a provisioner that made
 * no such role is reached as its `user`.
 */
export function shardTargets(shard: ShardReady): TargetSpec[] {
  const login = shard.monitoring ?? { user: shard.user, passwordRef: shard.passwordRef };
  const servers = [
    { role: "primary" as const, endpoint: shard.primary },
    ...shard.replicas.map((endpoint) => ({ role: "replica" as const, endpoint })),
  ];
  return servers.map(({ role, endpoint }) => ({
    id: `${shardServerPrefix(shard.database, shard.shard)}${endpoint.host}:${endpoint.port}`,
    engine: "postgresql",
    source: "provisioner",
    url: postgresUrl(endpoint.host, endpoint.port, shard.dbname, login.user),
    credential: login.passwordRef,
    shard: { database: shard.database, shard: shard.shard, role },
  }));
}

/** Credentials the collector uses for discovered servers (discovery never reads Secret values). */
export interface DiscoveredCredentials {
  readonly user: string;
  readonly credential?: Credential;
  /** Where `credential` may be sent: exact hosts, or `*.domain` for any host under it. */
  readonly credentialHosts?: readonly string[];
}

/** Whether `host` is one of `patterns` (`*.domain` matches any host under the domain). */
export function hostAllowed(host: string, patterns: readonly string[]): boolean {
  const h = host.toLowerCase().replace(/\.$/, "");
  return patterns.some((p) => {
    const pattern = p.toLowerCase();
    return pattern.startsWith("*.") ? h.endsWith(pattern.slice(1)) : h === pattern;
  });
}

/**
 * The target for a discovered database, or undefined for one dbplane manages itself (the
 * provisioner's events describe it, with its credentials). A server known without a database
 * is probed through its `postgres` database. The credential goes only to `credentialHosts`: a
 * workload that merely looks like PostgreSQL (an image named `postgres`, a forged
 * `database.discovered`) would otherwise receive it in a cleartext-password request.
 */
export function discoveredTarget(
  found: DiscoveredDatabase,
  creds: DiscoveredCredentials,
): TargetSpec | undefined {
  if (found.managedBy === "dbplane") return undefined;
  return {
    id: found.id,
    engine: "postgresql",
    source: "discovery",
    url: postgresUrl(found.endpoint.host, found.endpoint.port, found.dbname ?? "postgres", creds.user),
    ...(creds.credential &&
      hostAllowed(found.endpoint.host, creds.credentialHosts ?? []) && { credential: creds.credential }),
  };
}
