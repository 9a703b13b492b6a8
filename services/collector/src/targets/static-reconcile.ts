import type { Logger } from "@dbplane/service-kit";
import type { TargetSpec } from "../domain/target-spec.ts";
import type { TargetRegistry } from "./target-registry.ts";

/**
 * Run by a new leader: its static targets are registered, and static targets no longer in its
 * configuration are removed. Every replica registers its own at start-up; only the leader
 * removes, so replicas of a rolling update do not undo each other's lists back and forth.
 */
export async function reconcileStaticTargets(
  registry: TargetRegistry,
  configured: readonly TargetSpec[],
  logger: Logger,
): Promise<void> {
  await registry.upsert(configured);
  const wanted = new Set(configured.map((s) => s.id));
  const all = await registry.ids();
  const specs = await registry.get(all);
  const gone = all.filter((id, i) => specs[i]?.source === "static" && !wanted.has(id));
  if (gone.length > 0) {
    await registry.remove(gone);
    logger.info({ removed: gone }, "static targets no longer configured: removed");
  }
}
