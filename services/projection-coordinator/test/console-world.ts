import { createFleetWorld, type FleetWorld, type ServiceReplica } from "@dbplane/testkit";

/**
 * What the console shows: the provisioner (local driver: real clusters), the router, the
 * scheduler, the collector and the coordinator (fleet and audit, linked to the others) on one
 * bus, every one with anonymous reads off, so the console must present a token for everything.
 */
export interface ConsoleWorld extends FleetWorld {
  readonly collector: ServiceReplica;
}

export async function createConsoleWorld(): Promise<ConsoleWorld> {
  const world = await createFleetWorld({
    label: "console",
    // One key for every service, as in a real installation: one token works everywhere.
    jwtSecret: "console-tests-secret-that-is-long-enough-0123456789",
    collector: true,
    linkCoordinator: true,
    env: { DBPLANE_ANONYMOUS_READ: "false" },
    serviceEnv: {
      "projection-coordinator": { DBPLANE_PROJECTION_MAX_ATTEMPTS: "1", DBPLANE_PG_POOL_SIZE: "4" },
    },
  });
  return { ...world, collector: world.collector! };
}
