import type { HttpApp } from "@dbplane/service-kit";
import type { FenceCoordinator } from "./fence/fence-coordinator.ts";
import type { WriteFence } from "./fence/write-fence.ts";
import { registerMigrationRoutes } from "./http/migration-routes.ts";
import { registerQueryRoutes } from "./http/query-routes.ts";
import { registerReshardRoutes } from "./http/reshard-routes.ts";
import { shardProblemHandler } from "./http/shard-errors.ts";
import { registerShardRoutes } from "./http/shard-routes.ts";
import type { HotShardDetector } from "./load/hot-shard-detector.ts";
import type { QueryService } from "./query/query-service.ts";
import type { AutoSplitter } from "./reshard/auto-split.ts";
import type { ReshardService } from "./reshard/reshard-service.ts";
import type { MigrationRunner } from "./shards/migration-runner.ts";
import type { ShardMapPublisher } from "./shards/shard-map-publisher.ts";
import type { ShardMapRegistry } from "./shards/shard-map-registry.ts";
import type { RouterStore } from "./store/router-store.ts";

export interface RouterAppDeps {
  readonly service: QueryService;
  readonly maps: ShardMapRegistry;
  readonly publisher: ShardMapPublisher;
  readonly detector: HotShardDetector;
  readonly store: RouterStore;
  readonly runner: MigrationRunner;
  /** This replica's side of the write fences: holds writes to a fenced shard. */
  readonly fence: WriteFence;
  /** Raises and lifts write fences across every router replica (the online split's cut-over). */
  readonly fences: FenceCoordinator;
  readonly reshards: ReshardService;
  readonly autoSplit: AutoSplitter;
  readonly maxReplicaLagMs: number;
}

export type { FenceCoordinator } from "./fence/fence-coordinator.ts";
export { FenceTimeoutError } from "./fence/fence-errors.ts";
export type { WriteFence } from "./fence/write-fence.ts";

/** The router's HTTP API, as a plugin on the service-kit app (health, metrics, docs, auth come with it). */
export async function routerApp(app: HttpApp, deps: RouterAppDeps): Promise<void> {
  // Inside this plugin only: shard failures carry extension members (sqlstate, position, shard).
  app.setErrorHandler(shardProblemHandler(app, app.errorHandler));
  registerQueryRoutes(app, deps.service, deps.fence);
  registerShardRoutes(app, deps);
  registerMigrationRoutes(app, deps);
  registerReshardRoutes(app, deps.reshards, deps.autoSplit);
}
