import { findMessageByType } from "@dbplane/contracts";
import { Counter, Histogram, type Registry } from "prom-client";

/** How a delivered message ended. */
export const HANDLE_OUTCOMES = {
  /** Handler succeeded, message acked. */
  acked: "acked",
  /** Handler failed retryably, message nak'ed with backoff. */
  retried: "retried",
  /** Terminated and copied to the DLQ. */
  deadLettered: "dead_lettered",
  /** Not one of the consumer's types (only on a shared-prefix event consumer): acked unhandled. */
  skipped: "skipped",
  /** Handed back (nak without delay) because the consumer was stopping. */
  released: "released",
} as const;
export type HandleOutcome = (typeof HANDLE_OUTCOMES)[keyof typeof HANDLE_OUTCOMES];

export interface BusMetrics {
  readonly published: Counter<"type" | "outcome">;
  readonly handled: Counter<"durable" | "type" | "outcome">;
  readonly handlerDuration: Histogram<"durable" | "type" | "outcome">;
  readonly deadLettered: Counter<"durable" | "reason">;
}

/**
 * The bus's prom-client metrics, registered on `registry` (a service passes the registry its
 * `/metrics` serves). Several buses in one process share the same metric objects.
 */
export function createBusMetrics(registry: Registry): BusMetrics {
  return {
    published: counter(registry, {
      name: "dbplane_bus_published_total",
      help: "Messages published, by CloudEvents type and outcome (stored, duplicate, failed).",
      labelNames: ["type", "outcome"],
    }),
    handled: counter(registry, {
      name: "dbplane_bus_handled_total",
      help: "Deliveries handled by consumers, by durable, type and outcome.",
      labelNames: ["durable", "type", "outcome"],
    }),
    handlerDuration: histogram(registry, {
      name: "dbplane_bus_handler_duration_seconds",
      help: "Time spent in message handlers.",
      labelNames: ["durable", "type", "outcome"],
      buckets: [0.005, 0.025, 0.1, 0.25, 1, 2.5, 10, 30, 120],
    }),
    deadLettered: counter(registry, {
      name: "dbplane_bus_dlq_total",
      help: "Messages copied to the dead-letter stream, by durable and reason.",
      labelNames: ["durable", "reason"],
    }),
  };
}

function counter<L extends string>(
  registry: Registry,
  config: { name: string; help: string; labelNames: L[] },
) {
  const existing = registry.getSingleMetric(config.name);
  if (existing) return existing as Counter<L>;
  return new Counter<L>({ ...config, registers: [registry] });
}

function histogram<L extends string>(
  registry: Registry,
  config: { name: string; help: string; labelNames: L[]; buckets: number[] },
) {
  const existing = registry.getSingleMetric(config.name);
  if (existing) return existing as Histogram<L>;
  return new Histogram<L>({ ...config, registers: [registry] });
}

/** The `type` label of a message whose `ce-type` is none of the known ones. */
export const UNKNOWN_TYPE_LABEL = "unknown";

/**
 * The `type` label for a `ce-type` read off the wire: the type itself when the consumer or the
 * contracts catalog knows it, else `unknown`. Anyone who can publish could otherwise mint a new
 * time series per message and exhaust Prometheus.
 */
export function typeLabel(type: string | undefined, known: ReadonlyMap<string, unknown>): string {
  if (!type) return UNKNOWN_TYPE_LABEL;
  return known.has(type) || findMessageByType(type) ? type : UNKNOWN_TYPE_LABEL;
}

/** A label combination's child metrics, resolved once: prom-client hashes labels on every call. */
export interface HandledSeries {
  readonly handled: { inc(): void };
  readonly duration: { observe(seconds: number): void };
}

/** Per-consumer cache of `HandledSeries` by `type` and `outcome`. */
export function handledSeriesCache(metrics: BusMetrics, durable: string) {
  const cache = new Map<string, HandledSeries>();
  return (type: string, outcome: HandleOutcome): HandledSeries => {
    const key = `${type}\u0000${outcome}`;
    let series = cache.get(key);
    if (!series) {
      const labels = { durable, type, outcome };
      series = { handled: metrics.handled.labels(labels), duration: metrics.handlerDuration.labels(labels) };
      cache.set(key, series);
    }
    return series;
  };
}
