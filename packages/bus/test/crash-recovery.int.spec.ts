import { fileURLToPath } from "node:url";
import {
  type ChildService,
  createTestNats,
  startChildService,
  type TestNats,
  waitFor,
} from "@dbplane/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Bus } from "../src/index.ts";
import { openTestBus } from "./test-bus.ts";
import { paintWidget } from "./test-messages.ts";

const entry = fileURLToPath(new URL("./fixtures/slow-consumer.ts", import.meta.url));

function handledBy(child: ChildService): { id: string; deliveryCount: number }[] {
  return child
    .logs()
    .filter((line) => typeof line.handled === "string")
    .map((line) => ({ id: line.handled as string, deliveryCount: line.deliveryCount as number }));
}

describe("a consumer process killed with SIGKILL", () => {
  let t: TestNats;
  let bus: Bus;
  const children: ChildService[] = [];
  beforeEach(async () => {
    t = await createTestNats();
    bus = await openTestBus(t.url, t.namespace);
  });
  afterEach(async () => {
    await Promise.all(children.map((c) => c.dispose()));
    await bus.close();
    await t.cleanup();
  });

  it("loses nothing: a second process handles every message the first did not ack", async () => {
    const ids = Array.from({ length: 200 }, (_, i) => `w${i}`);
    await Promise.all(
      ids.map((id) => bus.publish(paintWidget, { widgetId: id, color: "red" }, { subject: id, id })),
    );
    const env = {
      NATS_URL: t.url,
      BUS_NAMESPACE: t.namespace,
      DURABLE: "painter",
      HANDLE_MS: "25",
      ACK_WAIT_MS: "2000",
    };
    const first = await startChildService({ entry, env, name: "first" });
    children.push(first);
    await waitFor(() => handledBy(first).length >= 40, {
      what: "the first process to handle 40",
      timeoutMs: 20_000,
    });
    first.kill("SIGKILL");
    expect(await first.exited).toBe("SIGKILL");
    const beforeKill = handledBy(first);
    expect(beforeKill.length).toBeLessThan(ids.length);

    const second = await startChildService({ entry, env, name: "second" });
    children.push(second);
    const jsm = await jetstreamManager(t.nc);
    await waitFor(
      async () => {
        const all = new Set([...handledBy(first), ...handledBy(second)].map((h) => h.id));
        const stream = await jsm.streams.info(bus.names.stream("cmd"));
        return all.size === ids.length && stream.state.messages === 0;
      },
      { what: "every message handled and acked", timeoutMs: 30_000 },
    );
    const all = new Set([...beforeKill, ...handledBy(second)].map((h) => h.id));
    expect([...all].sort()).toEqual([...ids].sort());
    // The second process took over what the first had in hand when it died: redeliveries.
    expect(handledBy(second).some((h) => h.deliveryCount > 1)).toBe(true);
  });
});
