import type { HttpApp } from "@dbplane/service-kit";
import type { Inventory } from "./domain/inventory-types.ts";
import { registerInventoryRoutes } from "./http/inventory-routes.ts";

export interface DiscoveryAppDeps {
  /** The latest classified view of this replica. */
  readonly inventory: () => Inventory;
}

/** Discovery's HTTP API, as a plugin on the service-kit app (health, metrics, docs, auth come with it). */
export async function discoveryApp(app: HttpApp, deps: DiscoveryAppDeps): Promise<void> {
  registerInventoryRoutes(app, deps.inventory);
}
