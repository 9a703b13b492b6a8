import { type DefinitionHandler, handle, type MessageHandler } from "@dbplane/bus";
import { databaseChanged, databaseDiscovered, databaseLost } from "@dbplane/contracts";
import type { Logger } from "@dbplane/service-kit";
import { type DiscoveredCredentials, discoveredTarget } from "../domain/target-sources.ts";
import type { TargetRegistry } from "../targets/target-registry.ts";

/**
 * `database.discovered` / `.changed` add or update a target; `.lost` removes it. Idempotent: the
 * registry writes nothing for a spec it already holds, and removing an absent id is a no-op.
 */
export function discoveryDatabaseHandlers(
  registry: TargetRegistry,
  credentials: DiscoveredCredentials,
  logger: Logger,
): DefinitionHandler[] {
  // One schema for both events: a change is handled as a fresh sighting.
  const register: MessageHandler<typeof databaseDiscovered | typeof databaseChanged> = async (event) => {
    const spec = discoveredTarget(event.data, credentials);
    if (!spec) return;
    if ((await registry.upsert([spec])) > 0)
      logger.info({ target: spec.id }, "discovered database: target registered");
  };
  const remove: MessageHandler<typeof databaseLost> = async (event) => {
    const removed = await registry.remove([event.data.id]);
    if (removed > 0) logger.info({ target: event.data.id }, "discovered database lost: target removed");
  };
  return [
    handle(databaseDiscovered, register),
    handle(databaseChanged, register),
    handle(databaseLost, remove),
  ];
}
