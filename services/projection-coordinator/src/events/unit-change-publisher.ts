import type { Bus } from "@dbplane/bus";
import { unitAssigned, unitReleased } from "@dbplane/contracts";
import type { UnitChange } from "@dbplane/projections";

/**
 * Publishes `unit.assigned` / `unit.released`. The id is derived from the fact (unit, fencing
 * token, kind), so a repeated announcement is absorbed by the stream's duplicate window.
 */
export function unitChangePublisher(bus: Bus): (change: UnitChange) => Promise<void> {
  return async (change) => {
    const { key } = change;
    const unit = {
      projection: key.projection,
      partition: key.partition,
      worker: change.worker,
      generation: key.generation,
      token: change.token,
      version: change.version,
      checkpoint: change.checkpoint,
    };
    const options = {
      subject: `${key.projection}/${key.generation}/${key.partition}`,
      id: `${key.projection}/${key.generation}/${key.partition}:${change.token}:${change.kind}`,
    };
    if (change.kind === "assigned")
      await bus.publish(unitAssigned, { ...unit, assignedAt: change.at.toISOString() }, options);
    else await bus.publish(unitReleased, { ...unit, releasedAt: change.at.toISOString() }, options);
  };
}
