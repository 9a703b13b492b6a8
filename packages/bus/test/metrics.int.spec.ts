import { createTestNats, type TestNats, waitFor } from "@dbplane/testkit";
import { Registry } from "prom-client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Bus, handle, PermanentError } from "../src/index.ts";
import { openTestBus } from "./test-bus.ts";
import { widgetCreated } from "./test-messages.ts";

describe("metrics", () => {
  let t: TestNats;
  let bus: Bus;
  const registry = new Registry();
  beforeEach(async () => {
    t = await createTestNats();
    bus = await openTestBus(t.url, t.namespace, { registry });
  });
  afterEach(async () => {
    await bus.close();
    await t.cleanup();
  });

  async function value(name: string, labels: Record<string, string>): Promise<number> {
    const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
    const match = metric?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l));
    return match?.value ?? 0;
  }

  it("counts publishes, outcomes, dead letters and handler time on the given registry", async () => {
    const type = widgetCreated.type;
    await bus.publish(widgetCreated, { widgetId: "ok", size: 1 }, { subject: "ok", id: "ok" });
    await bus.publish(widgetCreated, { widgetId: "ok", size: 1 }, { subject: "ok", id: "ok" });
    await bus.publish(widgetCreated, { widgetId: "bad", size: 1 }, { subject: "bad", id: "bad" });
    const consumer = await bus.consume({
      durable: "counted",
      handlers: [
        handle(widgetCreated, (event) => {
          if (event.data.widgetId === "bad") throw new PermanentError("no");
        }),
      ],
    });
    await waitFor(
      async () =>
        (await value("dbplane_bus_handled_total", { durable: "counted" })) >= 1 &&
        (await value("dbplane_bus_dlq_total", { durable: "counted" })) === 1,
    );
    await consumer.stop();
    expect(await value("dbplane_bus_published_total", { type, outcome: "stored" })).toBe(2);
    expect(await value("dbplane_bus_published_total", { type, outcome: "duplicate" })).toBe(1);
    expect(await value("dbplane_bus_handled_total", { durable: "counted", outcome: "acked" })).toBe(1);
    expect(await value("dbplane_bus_handled_total", { durable: "counted", outcome: "dead_lettered" })).toBe(
      1,
    );
    expect(await value("dbplane_bus_dlq_total", { durable: "counted", reason: "permanent" })).toBe(1);
    const histogram = (await registry.getMetricsAsJSON()).find(
      (m) => m.name === "dbplane_bus_handler_duration_seconds",
    );
    // prom-client reports histogram series with their suffixed name in `metricName`.
    const count = histogram?.values.find(
      (v) => (v as { metricName?: string }).metricName?.endsWith("_count") && v.labels.outcome === "acked",
    );
    expect(count?.value).toBe(1);
  });
});
