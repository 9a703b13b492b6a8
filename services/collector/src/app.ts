import type { HttpApp } from "@dbplane/service-kit";
import { registerTargetRoutes } from "./http/target-routes.ts";
import type { TargetViewDeps } from "./http/target-view.ts";

export interface CollectorAppDeps extends TargetViewDeps {
  readonly nodeTimeoutMs: number;
}

/** The collector's HTTP API, as a plugin on the service-kit app (health, metrics, docs come with it). */
export async function collectorApp(app: HttpApp, deps: CollectorAppDeps): Promise<void> {
  registerTargetRoutes(app, deps);
}
