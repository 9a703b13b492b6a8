// The firing thread: a worker thread whose event loop only arms timers and publishes target
// messages (see `FiringThread`). Started by the main thread with `FiringThreadData`.
import { type MessagePort, parentPort, workerData } from "node:worker_threads";
import {
  connectRawPublisher,
  type EncodedPublish,
  isTransientPublishError,
} from "@dbplane/bus/raw-publisher";
import type { Logger } from "@dbplane/service-kit";
import { MsgHdrsImpl } from "@nats-io/transport-node";
import { DueTimers } from "./due-timers.ts";
import type {
  FiringThreadData,
  FromThread,
  ThreadArm,
  ThreadResult,
  ToThread,
} from "./firing-thread-protocol.ts";

/** One attempt waits at most this long for the stream's ack (as `publishTarget`'s). */
const ATTEMPT_TIMEOUT_MS = 5_000;
/** Arming a batch looks for occurrences come due meanwhile this often (a claim round is thousands). */
const CHECK_EVERY = 64;

/** Headers already encoded by the main thread: the frame is built from their bytes as they are. */
class EncodedHeaders extends MsgHdrsImpl {
  readonly #bytes: Uint8Array;
  constructor(bytes: Uint8Array) {
    super();
    this.#bytes = bytes;
  }
  override encode(): Uint8Array {
    return this.#bytes;
  }
}

interface Armed {
  readonly item: ThreadArm;
  readonly message: EncodedPublish;
  state: "armed" | "waiting" | "started" | "cancelled";
  timerKey: number | undefined;
}

if (!parentPort) throw new Error("firing-thread.ts runs as a worker thread");
const port: MessagePort = parentPort;
const data = workerData as FiringThreadData;
const send = (m: FromThread) => port.postMessage(m);
const LEVELS = ["trace", "debug", "info", "warn", "error", "fatal"] as const;
/**
 * Lines are logged by the main thread's logger (its redaction, its destination): the thread
 * loads neither pino nor the service kit, and keeps a small heap.
 */
const logger = Object.fromEntries(
  LEVELS.map((level, i) => [
    level,
    (fields: object | string, msg?: string) => {
      if (i < LEVELS.indexOf(data.logLevel as (typeof LEVELS)[number])) return;
      const [f, m] = typeof fields === "string" ? [{}, fields] : [fields, msg ?? ""];
      send({ t: "log", level, fields: f, msg: m });
    },
  ]),
) as unknown as Logger;

let publisher: Awaited<ReturnType<typeof connectRawPublisher>>;
try {
  publisher = await connectRawPublisher({ servers: data.servers, name: data.name, logger, auth: data.auth });
} catch (err) {
  send({ t: "failed", error: err instanceof Error ? err.message : String(err) });
  port.close();
  throw err;
}

let offset = 0;
let inFlight = 0;
let stopping = false;
const armed = new Map<number, Armed>();
/** Due but over the concurrency limit, in due order. */
const waiting: Armed[] = [];
let waitingHead = 0;
let results: ThreadResult[] = [];
let flushScheduled = false;
let stopped: (() => void) | undefined;

const timers = new DueTimers<Armed>((due) => {
  // Everything due by now starts in this one callback: its publishes share one socket write.
  for (const a of due) fire(a);
});

function result(r: ThreadResult): void {
  results.push(r);
  report();
}

/** Sends the results so far and where the occurrences are, after this turn's I/O. */
function report(): void {
  if (flushScheduled) return;
  flushScheduled = true;
  // After this turn's I/O: every ack read from the socket in it goes in one message.
  setImmediate(flushResults);
}

function flushResults(): void {
  flushScheduled = false;
  const items = results;
  results = [];
  send({
    t: "results",
    items,
    stages: { timerBuckets: timers.buckets, waiting: waiting.length - waitingHead, inFlight },
  });
}

function schedule(a: Armed): void {
  a.timerKey = timers.add(a.item.dueAt - offset, a);
}

function fire(a: Armed): void {
  a.timerKey = undefined;
  if (a.state !== "armed") return;
  const now = Date.now();
  // The clock estimate can move between arming and firing; never publish early.
  if (a.item.dueAt > now + offset) {
    schedule(a);
    return;
  }
  if (inFlight >= data.publishConcurrency) {
    a.state = "waiting";
    waiting.push(a);
    return;
  }
  start(a, now);
}

function start(a: Armed, now: number): void {
  armed.delete(a.item.id);
  const remaining = a.item.deadline - (now + offset);
  if (remaining <= 0) {
    a.state = "cancelled";
    result({ id: a.item.id, kind: "late", startedAt: now, at: now });
    return;
  }
  a.state = "started";
  inFlight++;
  const timeout = Math.max(1, Math.min(remaining, ATTEMPT_TIMEOUT_MS));
  publisher.publishEncoded(a.message, timeout).then(
    (ack) => {
      settled();
      result({
        id: a.item.id,
        kind: "acked",
        startedAt: now,
        at: Date.now(),
        seq: ack.seq,
        duplicate: ack.duplicate,
      });
    },
    (err: unknown) => {
      settled();
      const kind = isTransientPublishError(err) ? "failed" : "refused";
      result({
        id: a.item.id,
        kind,
        startedAt: now,
        at: Date.now(),
        error: err instanceof Error ? err.message : String(err),
      });
    },
  );
}

function settled(): void {
  inFlight--;
  while (inFlight < data.publishConcurrency && waitingHead < waiting.length) {
    const next = waiting[waitingHead++]!;
    if (next.state === "waiting") start(next, Date.now());
  }
  if (waitingHead === waiting.length) {
    waiting.length = 0;
    waitingHead = 0;
  }
  if (stopping && inFlight === 0) stopped?.();
}

function arm(item: ThreadArm): void {
  const message = publisher.encode(item.subject, item.payload, new EncodedHeaders(item.headers));
  const a: Armed = { item, message, state: "armed", timerKey: undefined };
  armed.set(item.id, a);
  schedule(a);
}

function cancel(id: number): void {
  const a = armed.get(id);
  if (!a || a.state === "started") return; // its result is on its way
  armed.delete(id);
  if (a.timerKey !== undefined) timers.cancel(a.timerKey, a);
  a.state = "cancelled";
  result({ id, kind: "cancelled", at: Date.now() });
}

async function stop(): Promise<void> {
  stopping = true;
  const unstarted: number[] = [];
  for (const [id, a] of armed) {
    if (a.state === "started") continue;
    if (a.timerKey !== undefined) timers.cancel(a.timerKey, a);
    a.state = "cancelled";
    unstarted.push(id);
  }
  armed.clear();
  if (inFlight > 0) await new Promise<void>((resolve) => (stopped = resolve));
  flushResults();
  send({ t: "stopped", unstarted });
  await publisher.close();
  port.close();
}

port.on("message", (m: ToThread) => {
  switch (m.t) {
    case "arm":
      offset = m.offset;
      if (stopping) return;
      for (const [i, item] of m.items.entries()) {
        arm(item);
        if (i % CHECK_EVERY === CHECK_EVERY - 1 && timers.fireDue()) publisher.flush();
      }
      // Armed already due (claimed late): their publishes leave with this turn's write.
      timers.fireDue();
      report();
      return;
    case "cancel":
      for (const id of m.ids) cancel(id);
      return;
    case "offset":
      offset = m.offset;
      return;
    case "stop":
      stop().catch((err: unknown) => {
        logger.error({ err }, "firing thread stop failed");
        send({ t: "stopped", unstarted: [] });
      });
      return;
  }
});
send({ t: "ready" });
