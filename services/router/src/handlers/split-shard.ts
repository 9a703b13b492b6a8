import { type EventOf, type HandlerContext, PermanentError } from "@dbplane/bus";
import type { splitShard } from "@dbplane/contracts";
import { HttpError, type Logger } from "@dbplane/service-kit";
import type { ReshardService } from "../reshard/reshard-service.ts";

/**
 * `split-shard`: the same as `POST /v1/databases/:db/splits`, with the command's id as the
 * reshard's id seed, so a redelivered command finds the reshard it started. A refusal (unknown
 * database or shard, a split point outside the range: an HttpError 4xx) is dead-lettered at
 * once with its reason; anything else is retried.
 */
export function splitShardHandler(reshards: ReshardService, logger: Logger) {
  return async (event: EventOf<typeof splitShard>, ctx: HandlerContext): Promise<void> => {
    const { database, shard, at, toShard } = event.data;
    const { reshard, created } = await reshards
      .split({
        database,
        shard,
        ...(at === undefined ? {} : { at }),
        ...(toShard === undefined ? {} : { toShard }),
        trigger: { by: "command" },
        idSeed: event.id,
      })
      .catch((err: unknown) => {
        // What the HTTP API would answer 4xx is the command's fault: dead-letter it with the reason.
        if (err instanceof HttpError && err.status < 500) {
          const fields = err.errors?.map((e) => `${e.field}: ${e.message}`).join("; ");
          throw new PermanentError(fields ? `${err.message}: ${fields}` : err.message);
        }
        throw err;
      });
    logger.info({ reshard: reshard.id, database, shard, created, msgId: ctx.msgId }, "split-shard handled");
  };
}
