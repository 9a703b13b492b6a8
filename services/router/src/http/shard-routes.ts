import { ConflictError, type HttpApp, ValidationError } from "@dbplane/service-kit";
import type { ShardMapDocument } from "../domain/shard-map.ts";
import { shardMapDocument } from "../domain/shard-map.ts";
import type { HotShardDetector } from "../load/hot-shard-detector.ts";
import type { QueryService } from "../query/query-service.ts";
import type { ServerPool } from "../shards/server-pool.ts";
import { eligibleReplicas } from "../shards/server-selection.ts";
import type { ShardMapPublisher } from "../shards/shard-map-publisher.ts";
import type { ShardMapRegistry } from "../shards/shard-map-registry.ts";
import {
  databaseList,
  databaseParams,
  publishedMap,
  publishMapBody,
  shardsResult,
} from "./router-schemas.ts";

export interface ShardRoutesDeps {
  readonly service: QueryService;
  readonly maps: ShardMapRegistry;
  readonly publisher: ShardMapPublisher;
  readonly detector: HotShardDetector;
  readonly maxReplicaLagMs: number;
}

function serverView(pool: ServerPool, eligible?: boolean) {
  const h = pool.health;
  return {
    host: pool.address.host,
    port: pool.address.port,
    status: h.status,
    lagMs: h.lagMs,
    ...(eligible !== undefined && { eligible }),
    ...(h.checkedAt !== undefined && { checkedAt: h.checkedAt }),
    // Health errors can carry driver text; a down shard says so without the socket details.
    ...(h.status === "down" && { error: pool.unusable ?? "not answering" }),
  };
}

/** `GET /v1/databases`, `GET …/shards`, `POST …/shard-map`. */
export function registerShardRoutes(app: HttpApp, deps: ShardRoutesDeps): void {
  const { service, maps, publisher, detector } = deps;

  app.get(
    "/v1/databases",
    {
      schema: {
        summary: "Databases this router routes, with their map versions",
        tags: ["shards"],
        response: { 200: databaseList },
      },
    },
    async () => ({
      databases: maps
        .all()
        .map((m) => ({ name: m.database, version: m.version, shards: m.shards.size }))
        .sort((a, b) => (a.name < b.name ? -1 : 1)),
    }),
  );

  app.get(
    "/v1/databases/:db/shards",
    {
      schema: {
        summary: "Shards of a database: ranges, endpoints (never passwords), health and load",
        tags: ["shards"],
        params: databaseParams,
        response: { 200: shardsResult },
      },
    },
    async (request) => {
      const map = service.map(request.params.db);
      return {
        database: map.database,
        version: map.version,
        shards: [...map.shards.values()].map((s) => {
          const eligible = new Set(eligibleReplicas(s, deps.maxReplicaLagMs));
          const load = detector.latest.get(`${map.database}:${s.index}`);
          return {
            shard: s.index,
            ranges: s.ranges.map((r) => ({ from: r.from.toString(), to: r.to.toString() })),
            dbname: s.spec.dbname,
            user: s.spec.user,
            reshardUser: (s.spec.reshard ?? s.spec).user,
            primary: serverView(s.primary),
            replicas: s.replicas.map((r) => serverView(r, eligible.has(r))),
            ...(load && {
              load: {
                queryRate: load.queryRate,
                errorRate: load.errorRate,
                meanLatencyMs: load.meanLatencyMs,
                windowSeconds: load.windowSeconds,
              },
            }),
          };
        }),
      };
    },
  );

  app.post(
    "/v1/databases/:db/shard-map",
    {
      config: { scope: "db:{db}:admin" },
      schema: {
        summary: "Publish the next shard map version (compare-and-set on expectedVersion)",
        description:
          "Changes the ranges only: endpoints and password references stay those the provisioner announced. Every router replica routes by the new version within moments. Moving a range does not move its rows: use this once the rows are where the new map says (the online split does both).",
        tags: ["shards"],
        params: databaseParams,
        body: publishMapBody,
        response: { 201: publishedMap },
      },
    },
    async (request, reply) => {
      const { db } = request.params;
      const body = request.body;
      const current = service.map(db);
      if (current.version !== body.expectedVersion) {
        throw new ConflictError(
          `shard map of ${db} is at version ${current.version}, not ${body.expectedVersion}`,
        );
      }
      const parsed = shardMapDocument.safeParse({
        database: db,
        version: body.expectedVersion + 1,
        ranges: body.ranges,
        // Ranges only: the endpoints and password references stay the provisioner's.
        shards: current.document.shards,
        // A range change keeps what the map says about tables and the application role.
        shardedTables: current.document.shardedTables,
        application: current.document.application,
        createdAt: new Date().toISOString(),
      });
      if (!parsed.success) {
        throw new ValidationError("invalid shard map", {
          errors: parsed.error.issues.map((i) => ({
            field: ["body", ...i.path].join("."),
            message: i.message,
          })),
        });
      }
      const doc: ShardMapDocument = parsed.data;
      await publisher.publish(doc, request.id);
      // Answer once this replica routes by it, so the caller's next request sees it here too.
      await maps.apply(doc);
      return reply.code(201).send({ database: db, version: doc.version });
    },
  );
}
