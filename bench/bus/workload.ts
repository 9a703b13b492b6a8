// What bench/bus/main.ts and the profilers beside it publish, in one place so the profile is of
// exactly the work the bench measures.

import { Socket } from "node:net";
import { defineEvent, toBinaryHeaders } from "@dbplane/contracts";
import type { JetStreamClient } from "@nats-io/jetstream";
import { headers } from "@nats-io/transport-node";
import { z } from "zod";

export const sampled = defineEvent({
  service: "collector",
  name: "bench.sampled",
  schema: z.object({ target: z.string(), value: z.number(), at: z.string() }),
  summary: "Benchmark event.",
});

/** Publishes in flight, and messages buffered by each consumer. */
export const WINDOW = 256;

export function payload(i: number) {
  return { target: `db-${i % 100}`, value: i, at: new Date().toISOString() };
}

/** Calls `publishOne` for 0 … total-1 with `WINDOW` calls in flight. */
export async function inWindow(total: number, publishOne: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: WINDOW }, async () => {
    while (next < total) await publishOne(next++);
  });
  await Promise.all(lanes);
}

/**
 * The baseline: what any careful raw nats.js publisher of a binary-mode CloudEvent sends — the
 * `ce-*` headers, the JSON body, `Nats-Msg-Id` = `ce-id` — and its wait for the stream's ack.
 */
export function rawPublisher(js: JetStreamClient, subject: string) {
  return async (i: number) => {
    const id = `raw-${i}`;
    const h = headers();
    const attrs = toBinaryHeaders({
      id,
      type: sampled.type,
      source: "dbplane/bench",
      subject: "bench",
      time: new Date().toISOString(),
      specversion: "1.0",
      datacontenttype: "application/json",
    });
    for (const [k, v] of Object.entries(attrs)) h.set(k, v);
    await js.publish(subject, JSON.stringify(payload(i)), { headers: h, msgID: id });
  };
}

/** Counts every socket write of this process from now on (profilers: how well messages share a write). */
export function countSocketWrites(): () => number {
  let writes = 0;
  const write = Socket.prototype.write;
  Socket.prototype.write = function (this: Socket, ...args: unknown[]) {
    writes++;
    return (write as (...a: unknown[]) => boolean).apply(this, args);
  } as typeof write;
  return () => writes;
}
