import type { BusKv } from "@dbplane/bus";
import { type Logger, redactUrl } from "@dbplane/service-kit";
import type { DiscoveryDriver } from "../discovery-driver.ts";
import type { DatabaseRecord } from "../domain/inventory-types.ts";
import { type LocalServer, localServers, type ProvisionerCluster } from "./local-targets.ts";
import { listServerDatabases } from "./server-listing.ts";

export interface LocalDriverOptions {
  /** PostgreSQL servers from config; URLs may carry credentials and are logged redacted. */
  readonly urls: readonly string[];
  /** The provisioner's local clusters, as the `database.ready` handler records them. */
  readonly clusters: BusKv<ProvisionerCluster>;
  readonly pollMs: number;
  readonly logger: Logger;
}

function describe(server: LocalServer): string {
  return "url" in server.connect ? redactUrl(server.connect.url) : `${server.host}:${server.port}`;
}

/**
 * Lists the databases of every configured server and provisioner cluster, every `pollMs`. A
 * server that does not answer keeps its last listing (an outage is not a loss); a server that
 * leaves the configuration or the provisioner's clusters takes its databases with it.
 */
export function createLocalDriver(options: LocalDriverOptions): DiscoveryDriver {
  const listings = new Map<string, DatabaseRecord[]>();
  const failing = new Set<string>();
  let watermark = 0;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let first: Promise<void> | undefined;
  let current: Promise<void> | undefined;
  let synced = false;

  async function clusters(): Promise<ProvisionerCluster[]> {
    const keys = await options.clusters.keys();
    const values = await Promise.all(keys.map((key) => options.clusters.get(key)));
    return values.flatMap((v) => (v ? [v.value] : []));
  }

  async function poll(): Promise<void> {
    const servers = localServers(options.urls, await clusters());
    const wanted = new Map(servers.map((s) => [`${s.host}:${s.port}`, s]));
    for (const key of listings.keys()) if (!wanted.has(key)) listings.delete(key);
    await Promise.all(
      [...wanted].map(async ([key, server]) => {
        try {
          listings.set(key, await listServerDatabases(server));
          if (failing.delete(key))
            options.logger.info({ server: describe(server) }, "PostgreSQL server answers again");
        } catch (err) {
          if (!failing.has(key))
            options.logger.warn(
              { server: describe(server), err: { message: (err as Error).message } },
              "cannot list databases; keeping the last listing",
            );
          failing.add(key);
        }
      }),
    );
    watermark = Date.now();
  }

  return {
    kind: "local",
    start(onChange) {
      const loop = async () => {
        try {
          await poll();
          synced = true;
          onChange();
        } catch (err) {
          options.logger.warn({ err }, "local discovery pass failed");
        }
        if (!stopped) timer = setTimeout(() => (current = loop()), options.pollMs);
      };
      first = loop();
      current = first;
    },
    async synced() {
      await first;
    },
    isSynced: () => synced,
    inventory: () => ({ databases: [...listings.values()].flat(), apps: [] }),
    watermark: () => watermark,
    watched: () => ({ PostgreSQLServer: listings.size }),
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await current;
    },
  };
}
