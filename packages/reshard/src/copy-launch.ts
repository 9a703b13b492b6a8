import type { Logger } from "@dbplane/service-kit";
import type pg from "pg";
import { CopyRun, registerCopyRun } from "./copy-run.ts";
import { COPY_STREAMS, copyApplicationName, copyParts, estimateRows, planCopy } from "./initial-copy.ts";
import type { RangeMoveSpec } from "./range-move-spec.ts";
import { withShard } from "./shard-client.ts";
import { createSnapshotSlot } from "./snapshot-slot.ts";
import { readMoveRecord, writeMoveRecord } from "./source-objects.ts";
import { createSubscription, enableSubscription, type PublisherLogin } from "./subscription.ts";

/**
 * On the caller's connections to both sides: makes the slot (exporting its snapshot) and the
 * disabled subscription, and starts the initial copy in the background meanwhile; returns once
 * the subscription exists: the copy pipes every part of the range from the snapshot
 * into the target, records `copied` with the exact totals on the publication, and enables the
 * subscription, whose stream begins where the snapshot ends. Call with no slot and no
 * subscription of the move left (start() clears them).
 */
export async function launchCopy(
  source: pg.Client,
  target: pg.Client,
  spec: RangeMoveSpec,
  name: string,
  login: PublisherLogin,
  logger: Logger,
): Promise<void> {
  const applicationName = copyApplicationName(name);
  const began = performance.now();
  const parts = await planCopy(source, spec, COPY_STREAMS);
  const estimates = await estimateRows(source, spec);
  const planned = performance.now();
  const slot = await createSnapshotSlot(spec.source, name, applicationName);
  const slotMade = performance.now();
  // The copy starts at once; the subscription (a round trip from the target to the source) is made
  // meanwhile: it only has to exist when the copy ends.
  const subscribed = createSubscription(target, name, login);
  const run = new CopyRun(estimates, async (signal, onRows) => {
    try {
      await copyParts({
        spec,
        parts,
        snapshot: slot.snapshot,
        applicationName,
        streams: COPY_STREAMS,
        onImported: () => void slot.release(),
        onRows,
        signal,
      });
    } finally {
      await slot.release();
    }
    await subscribed;
    const rowsTotal = Object.fromEntries(spec.tables.map((t) => [t.table, run.rowsCopied(t.table)]));
    if (signal.aborted) throw signal.reason;
    await withShard(spec.source, async (source) => {
      const record = await readMoveRecord(source, name);
      if (!record) throw new Error(`publication ${name} disappeared during the initial copy`);
      await writeMoveRecord(source, name, { ...record, rowsTotal, copied: true });
    });
    await withShard(spec.target, (target) => enableSubscription(target, name));
    logger.info(
      { rowsTotal, parts: parts.length, ms: Math.round(performance.now() - slotMade) },
      "initial copy done: replicating",
    );
  });
  try {
    await subscribed;
  } catch (err) {
    // Nothing may commit on the target after start() failed: the next start() clears the range first.
    await run.abort();
    throw err;
  }
  registerCopyRun(name, run);
  run.finished().then(() => {
    const failure = run.failure;
    if (failure) logger.warn({ err: failure.error }, "initial copy failed");
  });
  logger.info(
    {
      parts: parts.length,
      streams: COPY_STREAMS,
      consistentPoint: slot.consistentPoint,
      planMs: Math.round(planned - began),
      slotMs: Math.round(slotMade - planned),
      subscriptionMs: Math.round(performance.now() - slotMade),
    },
    "slot created, copy started",
  );
}
