import type { CoordinationTables, ProjectionRuntime } from "@dbplane/projections";
import type { HttpApp } from "@dbplane/service-kit";
import type pg from "pg";
import type { ReadModelChanges } from "./console/read-model-changes.ts";
import { type ConsoleUpstreams, registerConsoleProxyRoutes } from "./http/console-proxy-routes.ts";
import { registerConsoleRoutes } from "./http/console-routes.ts";
import { registerLiveRoutes } from "./http/live-routes.ts";
import { registerParkedRoutes } from "./http/parked-routes.ts";
import { registerProjectionRoutes } from "./http/projection-routes.ts";
import { registerReadModelRoutes } from "./http/read-model-routes.ts";

export interface CoordinatorAppDeps {
  readonly pool: pg.Pool;
  readonly tables: CoordinationTables;
  readonly runtime: ProjectionRuntime;
  readonly changes: ReadModelChanges;
  readonly upstreams: ConsoleUpstreams;
}

/** The coordinator's HTTP API and the web console, as a plugin on the service-kit app (health, metrics, docs, auth come with it). */
export async function coordinatorApp(app: HttpApp, deps: CoordinatorAppDeps): Promise<void> {
  registerProjectionRoutes(app, deps);
  registerParkedRoutes(app, deps);
  registerReadModelRoutes(app, deps);
  registerLiveRoutes(app, deps);
  registerConsoleProxyRoutes(app, deps);
  await registerConsoleRoutes(app);
}
