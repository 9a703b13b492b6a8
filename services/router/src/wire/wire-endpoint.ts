import type { PasswordResolver } from "@dbplane/kube";
import {
  type BackendKey,
  createWireServer,
  type RoleLookup,
  type StartupParameters,
  WireError,
} from "@dbplane/pgwire";
import type { Logger } from "@dbplane/service-kit";
import { loadParser } from "@dbplane/sqlroute";
import type { WriteFence } from "../fence/write-fence.ts";
import type { LiveMap } from "../shards/live-map.ts";
import { ClientSession } from "./client-session.ts";
import { defaultShard } from "./key-routing.ts";
import { Planners, type WireMetrics } from "./wire-context.ts";
import { WirePools } from "./wire-pools.ts";

export interface WireEndpointOptions {
  readonly port: number;
  readonly host?: string;
  readonly tls?: { readonly cert: string; readonly key: string };
  readonly poolSize: number;
  readonly connectTimeoutMs: number;
  /** A CA file for shard connections (verify-full); unset: plain connections. */
  readonly shardCa?: string | undefined;
  readonly maxReplicaLagMs: number;
  readonly maps: { get(database: string): LiveMap | undefined; all(): LiveMap[] };
  /** Holds writes to a fenced shard (sessions ask it before each write). */
  readonly fence: WriteFence;
  readonly passwords: PasswordResolver;
  readonly metrics: WireMetrics;
  readonly logger: Logger;
}

/** The running endpoint: its port, its pools and planners (for metrics), and how to stop it. */
export interface WireEndpoint {
  readonly port: number;
  readonly pools: WirePools;
  readonly planners: Planners;
  close(): Promise<void>;
}

const applicationOf = (map: LiveMap) => map.application;

const POOL_PRUNE_MS = 10_000;

// Greeting values that describe the client's session, not the shard's.
const ownParameters = new Set(["application_name", "session_authorization", "is_superuser"]);

/**
 * The PostgreSQL wire endpoint: a client logs in to a dbplane database (the startup's
 * `database`) as its application role, with SCRAM-SHA-256 against the role's verifier, and its
 * statements are routed to the shards by a ClientSession.
 */
export async function startWireEndpoint(options: WireEndpointOptions): Promise<WireEndpoint> {
  await loadParser();
  const pools = new WirePools(
    { size: options.poolSize, connectTimeoutMs: options.connectTimeoutMs, shardCa: options.shardCa },
    options.passwords,
  );
  const planners = new Planners();
  const sessions = new Map<string, ClientSession>();
  const keyOf = (key: BackendKey) => `${key.processId}:${key.secretKey}`;
  const onError = (err: unknown) => options.logger.error({ err }, "wire session failed");

  async function authenticate(parameters: StartupParameters): Promise<RoleLookup> {
    const map = options.maps.get(parameters.database);
    // Roles are per database here; an application role of another database still authenticates,
    // then learns the database does not exist — PostgreSQL's order (28P01 before 3D000).
    const role =
      map === undefined
        ? options.maps
            .all()
            .map(applicationOf)
            .find((a) => a?.user === parameters.user)
        : applicationOf(map);
    if (role === undefined || role.user !== parameters.user)
      return { verifier: undefined, databaseExists: map !== undefined };
    const verifier = (await options.passwords.resolve(role.verifierRef)).trim();
    return { verifier, databaseExists: map !== undefined };
  }

  const server = createWireServer({
    authenticate,
    async onSession(session) {
      const map = options.maps.get(session.parameters.database);
      if (!map)
        throw new WireError({
          severity: "FATAL",
          code: "3D000",
          message: `database "${session.parameters.database}" does not exist`,
        });
      const pool = pools.primary(map, map.shards.get(defaultShard(map))!);
      if (pool.parameters === undefined) {
        try {
          pool.release(await pool.checkout());
        } catch (error) {
          throw new WireError({
            severity: "FATAL",
            code: "08006",
            message: `cannot reach the database's shards: ${(error as Error).message}`,
          });
        }
      }
      const announced = Object.fromEntries(
        Object.entries(pool.parameters ?? {}).filter(([name]) => !ownParameters.has(name)),
      );
      const key = keyOf(session.backendKey);
      const client = new ClientSession(
        session,
        {
          maps: options.maps,
          fence: options.fence,
          pools,
          planners,
          metrics: options.metrics,
          maxReplicaLagMs: options.maxReplicaLagMs,
          onClosed: () => sessions.delete(key),
          onError,
        },
        announced,
      );
      sessions.set(key, client);
      options.metrics.clientOpened(session.parameters.database);
      return client;
    },
    onCancel(key) {
      sessions.get(keyOf(key))?.cancel();
    },
    onError,
    ...(options.tls === undefined ? {} : { tls: options.tls }),
    serverParameters: { server_version: "15.0" },
  });
  const address = await server.listen(options.port, options.host ?? "0.0.0.0");
  // Pools of servers no map names any more (a deleted database) close within a prune period.
  const pruning = setInterval(() => pools.prune(options.maps.all()), POOL_PRUNE_MS);
  pruning.unref();
  return {
    port: address.port,
    pools,
    planners,
    async close() {
      clearInterval(pruning);
      await server.close();
      pools.closeAll();
    },
  };
}
