import type { DatabaseReady } from "@dbplane/contracts";
import { z } from "zod";

/** A PostgreSQL server the local driver lists databases on. */
export interface LocalServer {
  /** Where to connect: a URL from config (may hold a password) or a provisioner shard's primary. */
  readonly connect:
    | { readonly url: string }
    | {
        readonly host: string;
        readonly port: number;
        readonly user: string;
        readonly database: string;
        readonly passwordFile: string;
      };
  readonly host: string;
  readonly port: number;
  /** Set for the provisioner's clusters: dbplane manages them. */
  readonly managedBy?: "dbplane";
  readonly labels?: Readonly<Record<string, string>>;
}

/** What the `local_clusters` bucket holds per provisioner database: its shards as `database.ready` told. */
export const provisionerCluster = z.object({
  name: z.string(),
  version: z.number(),
  shards: z.array(
    z.object({
      shard: z.number(),
      host: z.string(),
      port: z.number(),
      dbname: z.string(),
      user: z.string(),
      passwordFile: z.string().optional(),
    }),
  ),
});
export type ProvisionerCluster = z.output<typeof provisionerCluster>;

/** `database.ready` reduced to what listing needs; the password stays in its file, referenced by path. */
export function clusterOfReady(ready: DatabaseReady): ProvisionerCluster {
  return {
    name: ready.name,
    version: ready.version,
    shards: ready.shards.map((s) => ({
      shard: s.shard,
      host: s.primary.host,
      port: s.primary.port,
      dbname: s.dbname,
      user: s.user,
      ...(s.passwordRef.kind === "file" && { passwordFile: s.passwordRef.path }),
    })),
  };
}

/** The servers of the configured URLs, then of the provisioner's clusters (their primaries). */
export function localServers(
  urls: readonly string[],
  clusters: readonly ProvisionerCluster[],
): LocalServer[] {
  const servers: LocalServer[] = urls.map((url) => {
    const parsed = new URL(url);
    return { connect: { url }, host: parsed.hostname.toLowerCase(), port: Number(parsed.port || 5432) };
  });
  for (const cluster of clusters) {
    for (const shard of cluster.shards) {
      if (!shard.passwordFile) continue;
      servers.push({
        connect: {
          host: shard.host,
          port: shard.port,
          user: shard.user,
          database: shard.dbname,
          passwordFile: shard.passwordFile,
        },
        host: shard.host.toLowerCase(),
        port: shard.port,
        managedBy: "dbplane",
        labels: {
          "app.kubernetes.io/managed-by": "dbplane",
          "dbplane.io/database": cluster.name,
          "dbplane.io/shard": String(shard.shard),
        },
      });
    }
  }
  return servers;
}
