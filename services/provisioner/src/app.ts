import type { HttpApp } from "@dbplane/service-kit";
import type { DatabaseAdmin } from "./databases/database-admin.ts";
import { registerDatabaseRoutes } from "./http/database-routes.ts";
import { registerOperationRoutes } from "./http/operation-routes.ts";
import { registerRestoreRoutes } from "./http/restore-routes.ts";
import type { Queries } from "./store/queries.ts";

export interface ProvisionerAppDeps {
  readonly admin: DatabaseAdmin;
  readonly queries: Queries;
}

/** The provisioner's HTTP API, as a plugin on the service-kit app (health, metrics, docs, auth come with it). */
export async function provisionerApp(app: HttpApp, deps: ProvisionerAppDeps): Promise<void> {
  registerDatabaseRoutes(app, deps);
  registerOperationRoutes(app, deps);
  registerRestoreRoutes(app, deps);
}
