import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { DeliverPolicy, type JetStreamClient } from "@nats-io/jetstream";
import type pg from "pg";
import { FencedError } from "./errors.ts";
import { decodeStreamMessage, refusalOf } from "./event-decoding.ts";
import type { GenerationStore } from "./generation-store.ts";
import type { OwnershipStore } from "./ownership-store.ts";
import { partitionOf } from "./partition.ts";
import { type ProjectionDefinition, type ProjectionEvent, projectionTables } from "./projection.ts";
import type { RuntimeLogger as Logger } from "./runtime-logger.ts";

/** Where a replica's cold start went, in milliseconds (`dbplane_projection_warm_up_seconds{phase}`). */
export interface WarmUpTimes {
  /** Opening the pool's connections and running the fenced checkpoint write on each. */
  readonly connections: number;
  /** Reading the newest event of each projection through an ordered consumer. */
  readonly stream: number;
  /** Running each projection's handler on that event in a rolled-back transaction. */
  readonly handlers: number;
  readonly total: number;
}

export interface WarmUpOptions {
  readonly pool: pg.Pool;
  readonly connections: number;
  readonly js: JetStreamClient;
  readonly stream: string;
  readonly filterOf: (definition: ProjectionDefinition) => string;
  readonly contractSubject: (wire: string) => string;
  readonly definitions: Iterable<ProjectionDefinition>;
  readonly generations: GenerationStore;
  readonly ownership: OwnershipStore;
  readonly readSchema: string;
  readonly memberId: string;
  readonly logger: Logger;
}

/** Thrown inside the warm-up transaction so that whatever the handler wrote rolls back. */
class WarmUpRollback extends Error {
  override readonly name = "WarmUpRollback";
}

const REPLAY_WAIT_MS = 1_000;

/**
 * A joining replica's cold start, paid before it joins rather than by the first units handed
 * to it: PostgreSQL backends started, the unit transaction's statements run once, NATS ordered
 * consumers and event decoding exercised, and every handler's code run (compiled, its
 * statements planned) on the newest real event inside a transaction that is rolled back, so the
 * read model never sees it. Best effort: a failure here is logged and the replica joins anyway.
 */
export async function warmUp(o: WarmUpOptions): Promise<WarmUpTimes> {
  const started = performance.now();
  await warmConnections(o);
  const connected = performance.now();
  const replays: { definition: ProjectionDefinition; event: ProjectionEvent }[] = [];
  for (const definition of o.definitions) {
    const event = await newestEvent(o, definition).catch((err) => {
      o.logger.warn({ err, projection: definition.name }, "warm-up could not read the newest event");
      return undefined;
    });
    if (event && !refusalOf(event)) replays.push({ definition, event });
  }
  const read = performance.now();
  for (const { definition, event } of replays) await runHandler(o, definition, event);
  const done = performance.now();
  return {
    connections: connected - started,
    stream: read - connected,
    handlers: done - read,
    total: done - started,
  };
}

async function warmConnections(o: WarmUpOptions): Promise<void> {
  const clients = await Promise.all(Array.from({ length: o.connections }, () => o.pool.connect()));
  try {
    await Promise.all(clients.map((c) => fencedDryRun(o, c)));
  } finally {
    for (const c of clients) c.release();
  }
}

/** The checkpoint write every unit transaction starts with, for a token nobody holds: no row matches. */
async function fencedDryRun(o: WarmUpOptions, tx: pg.ClientBase, partition = 0, definition?: string) {
  const own = {
    key: { projection: definition ?? "", generation: 0, partition },
    owner: o.memberId,
    token: -1,
    checkpoint: 0,
  };
  try {
    await o.ownership.advance(tx, own, { from: 0, to: 0, applied: 0, lastEventTime: undefined });
  } catch (err) {
    if (!(err instanceof FencedError)) throw err;
  }
}

async function newestEvent(
  o: WarmUpOptions,
  definition: ProjectionDefinition,
): Promise<ProjectionEvent | undefined> {
  const info = await (await o.js.streams.get(o.stream)).info();
  if (info.state.messages === 0) return undefined;
  const consumer = await o.js.consumers.get(o.stream, {
    filter_subjects: o.filterOf(definition),
    deliver_policy: DeliverPolicy.Last,
  });
  // consume(), as the units' readers do, so that is the code path exercised.
  const messages = await consumer.consume({ max_messages: 1, expires: REPLAY_WAIT_MS });
  const timer = setTimeout(() => void messages.close(), REPLAY_WAIT_MS);
  try {
    for await (const m of messages) return decodeStreamMessage(m, o.contractSubject);
    return undefined;
  } finally {
    clearTimeout(timer);
    await messages.close().catch(() => {});
  }
}

async function runHandler(o: WarmUpOptions, definition: ProjectionDefinition, event: ProjectionEvent) {
  const generations = (await o.generations.list(definition.name)).filter(
    (g) => g.version === definition.version && g.state !== "retired",
  );
  for (const g of generations) {
    const tables = projectionTables(o.readSchema, definition.name, g.generation);
    const partition = partitionOf(event.subject ?? "", definition.partitions);
    try {
      await o.ownership.inTransaction(async (tx) => {
        await fencedDryRun(o, tx, partition, definition.name);
        if (definition.handleBatch) await definition.handleBatch([event], tx, tables);
        else await definition.handle(event, tx, tables);
        throw new WarmUpRollback("warm-up only");
      });
    } catch (err) {
      if (err instanceof WarmUpRollback) continue;
      // A handler refusing this event (a poison one, say) still ran its code: warm enough.
      o.logger.info({ err, projection: definition.name, seq: event.seq }, "warm-up handler run failed");
    }
  }
}

/** Most a joiner waits for its process to calm down after the warm-up (`settle`). */
export const SETTLE_MAX_MS = 1_000;
const SETTLE_WINDOW_MS = 50;
/** Event-loop utilization below which the process counts as calm. */
const SETTLED_UTILIZATION = 0.3;

/**
 * Waits (at most `SETTLE_MAX_MS`) until the event loop has been calm for one short window: the
 * start-up's leftovers (the prefetching reader's first catch-up, the host's own start) run
 * before this replica joins, not while the units handed to it are paused. On a busy machine a
 * joiner that joined mid-start-up answered its first notification 400 ms late and each round
 * trip after it as late again: every step of the hand-over waited for CPU the start-up held.
 * @returns the milliseconds waited.
 */
export async function settle(): Promise<number> {
  const started = performance.now();
  let last = performance.eventLoopUtilization();
  while (performance.now() - started < SETTLE_MAX_MS) {
    await sleep(SETTLE_WINDOW_MS);
    const now = performance.eventLoopUtilization();
    const calm = performance.eventLoopUtilization(now, last).utilization < SETTLED_UTILIZATION;
    last = now;
    if (calm) break;
  }
  return performance.now() - started;
}
