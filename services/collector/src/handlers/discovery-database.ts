import type { MessageHandler } from "@dbplane/bus";
import { type databaseChanged, type databaseDiscovered, databaseLost } from "@dbplane/contracts";
import type { Logger } from "@dbplane/service-kit";
import { type DiscoveredCredentials, discoveredTarget } from "../domain/target-sources.ts";
import type { TargetRegistry } from "../targets/target-registry.ts";

type DiscoveryEvents = typeof databaseDiscovered | typeof databaseChanged | typeof databaseLost;

/**
 * `database.discovered` / `.changed` add or update a target; `.lost` removes it. Idempotent: the
 * registry writes nothing for a spec it already holds, and removing an absent id is a no-op.
 */
export function discoveryDatabaseHandler(
  registry: TargetRegistry,
  credentials: DiscoveredCredentials,
  logger: Logger,
): MessageHandler<DiscoveryEvents> {
  return async (event, ctx) => {
    if (ctx.def.type === databaseLost.type) {
      const removed = await registry.remove([event.data.id]);
      if (removed > 0) logger.info({ target: event.data.id }, "discovered database lost: target removed");
      return;
    }
    const data = event.data as Parameters<typeof discoveredTarget>[0];
    const spec = discoveredTarget(data, credentials);
    if (!spec) return;
    if ((await registry.upsert([spec])) > 0)
      logger.info({ target: spec.id }, "discovered database: target registered");
  };
}
