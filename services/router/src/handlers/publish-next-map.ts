import { RetryableError } from "@dbplane/bus";
import type { ShardMapDocument } from "../domain/shard-map.ts";
import type { ShardMapPublisher } from "../shards/shard-map-publisher.ts";
import { ShardMapVersionConflictError } from "../store/router-store.ts";

/**
 * Publishes the next map version a provisioner event handler computed. Another replica writing
 * the same version from the same event a moment ago is a conflict: retried, the handler then
 * finds nothing new.
 */
export async function publishNextMap(
  publisher: ShardMapPublisher,
  next: ShardMapDocument,
  causation: string,
): Promise<void> {
  try {
    await publisher.publish(next, causation);
  } catch (err) {
    if (err instanceof ShardMapVersionConflictError) throw new RetryableError(err.message, { cause: err });
    throw err;
  }
}
