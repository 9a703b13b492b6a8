import type { HttpApp } from "@dbplane/service-kit";
import { registerDeliveryRoutes } from "./http/delivery-routes.ts";
import { registerJobRoutes } from "./http/job-routes.ts";
import { registerJobRunRoutes } from "./http/job-run-routes.ts";
import { registerReplicaRoutes } from "./http/replica-routes.ts";
import type { JobAdmin } from "./jobs/job-admin.ts";
import type { SchedulerStore } from "./store/scheduler-store.ts";

export interface SchedulerAppDeps {
  readonly jobs: JobAdmin;
  readonly store: SchedulerStore;
}

/** The scheduler's HTTP API, as a plugin on the service-kit app (health, metrics, docs, auth come with it). */
export async function schedulerApp(app: HttpApp, deps: SchedulerAppDeps): Promise<void> {
  registerJobRoutes(app, deps);
  registerJobRunRoutes(app, deps);
  registerReplicaRoutes(app, deps);
  registerDeliveryRoutes(app, deps);
}
