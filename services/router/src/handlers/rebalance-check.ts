import type { Bus, EventOf, HandlerContext } from "@dbplane/bus";
import { type rebalanceCheck, rebalanceCheck as rebalanceCheckDef, scheduleJob } from "@dbplane/contracts";
import type { Logger } from "@dbplane/service-kit";
import type { HotShardDetector } from "../load/hot-shard-detector.ts";
import type { AutoSplitter } from "../reshard/auto-split.ts";

/** The scheduler job's id: one per router deployment (every replica schedules the same one). */
export const REBALANCE_JOB_ID = "dbplane-router-rebalance-check";

/** `rebalance-check`, fired by the scheduler: the autoSplit policy applied to the current load. */
export function rebalanceCheckHandler(autoSplit: AutoSplitter, detector: HotShardDetector, logger: Logger) {
  return async (_event: EventOf<typeof rebalanceCheck>, ctx: HandlerContext): Promise<void> => {
    const decisions = await autoSplit.check(detector.hotNow);
    logger.info({ msgId: ctx.msgId, decisions }, "rebalance check done");
  };
}

/**
 * Schedules the rebalance check with the scheduler (`schedule-job`): every `everyMs`, skipping
 * what it missed. Every replica sends the same job, with an id of its content, so the bus
 * deduplicates repeats and the scheduler keeps one job (a changed interval replaces it).
 */
export async function scheduleRebalanceCheck(bus: Bus, everyMs: number): Promise<void> {
  await bus.publish(
    scheduleJob,
    {
      id: REBALANCE_JOB_ID,
      schedule: { kind: "every", everyMs },
      // The plain subject: the scheduler publishes targets inside its own installation's namespace.
      target: { subject: rebalanceCheckDef.subject, payload: {} },
      misfire: "skip",
    },
    { subject: REBALANCE_JOB_ID, id: `${REBALANCE_JOB_ID}:every:${everyMs}` },
  );
}
