import type { FastifyInstance } from "fastify";
import { collectDefaultMetrics, Gauge, type Metric, Registry } from "prom-client";

export interface HttpMetrics {
  readonly registry: Registry;
  readonly requestDuration: CountedHistogram<"method" | "route" | "status_code">;
}

/** prom-client's default buckets, in seconds. */
const DEFAULT_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface CountedHistogramValues {
  readonly name: string;
  readonly help: string;
  readonly type: "histogram";
  readonly aggregator: "sum";
  readonly values: readonly {
    readonly labels: Readonly<Record<string, string | number>>;
    readonly value: number;
    readonly metricName: string;
  }[];
}

/** One labelled series of a {@link CountedHistogram}; keep it: `observe` is then a few additions. */
export interface HistogramSeries {
  observe(value: number): void;
}

interface SeriesCounts {
  readonly labels: Readonly<Record<string, string>>;
  /** Observations per bucket (not cumulative); values past the last bound only in `count`. */
  readonly buckets: number[];
  sum: number;
  count: number;
}

/**
 * A Prometheus histogram for the hot path, exposed exactly as prom-client's `Histogram` (same
 * `_bucket`/`_sum`/`_count` series, `le` label, a series appearing with its first observation,
 * gone after `reset()` until observed again), but counted in plain numbers per series. prom-client's
 * observe validates and hashes the labels and looks its buckets up by float keys on every call:
 * the top JS function of the router's HTTP bench profile (3.2% of its CPU, two histograms per request).
 */
export class CountedHistogram<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly type = "histogram";
  readonly aggregator = "sum";
  readonly labelNames: readonly L[];
  readonly #bounds: readonly number[];
  readonly #series = new Map<string, SeriesCounts>();

  constructor(config: {
    name: string;
    help: string;
    labelNames: readonly L[];
    buckets?: readonly number[];
    registers: readonly Registry[];
  }) {
    this.name = config.name;
    this.help = config.help;
    this.labelNames = config.labelNames;
    this.#bounds = [...(config.buckets ?? DEFAULT_BUCKETS)].sort((a, b) => a - b);
    for (const registry of config.registers) registry.registerMetric(this as unknown as Metric);
  }

  /** The series of `labels` (every label name given, as prom-client requires). */
  series(labels: Readonly<Record<L, string>>): HistogramSeries {
    let key = "";
    for (const name of this.labelNames) {
      const value = labels[name];
      if (typeof value !== "string") throw new Error(`Missing label value for ${name} of ${this.name}`);
      key += `${value}\0`;
    }
    let counts = this.#series.get(key);
    if (counts === undefined) {
      counts = { labels: { ...labels }, buckets: this.#bounds.map(() => 0), sum: 0, count: 0 };
      this.#series.set(key, counts);
    }
    const bounds = this.#bounds;
    const series = counts;
    return {
      observe(value) {
        if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
        for (let i = 0; i < bounds.length; i++) {
          if (value <= bounds[i]!) {
            series.buckets[i]!++;
            break;
          }
        }
        series.sum += value;
        series.count++;
      },
    };
  }

  observe(labels: Readonly<Record<L, string>>, value: number): void {
    this.series(labels).observe(value);
  }

  /** Drops every series' observations (series kept by callers count on from zero). */
  reset(): void {
    for (const counts of this.#series.values()) {
      counts.buckets.fill(0);
      counts.sum = 0;
      counts.count = 0;
    }
  }

  /** What a registry reads of a metric (prom-client's `MetricObjectWithValues` shape). */
  async get(): Promise<CountedHistogramValues> {
    const values: CountedHistogramValues["values"][number][] = [];
    for (const counts of this.#series.values()) {
      if (counts.count === 0) continue;
      const { labels } = counts;
      let cumulative = 0;
      this.#bounds.forEach((le, i) => {
        cumulative += counts.buckets[i]!;
        values.push({ labels: { ...labels, le }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push(
        { labels: { ...labels, le: "+Inf" }, value: counts.count, metricName: `${this.name}_bucket` },
        { labels: { ...labels }, value: counts.sum, metricName: `${this.name}_sum` },
        { labels: { ...labels }, value: counts.count, metricName: `${this.name}_count` },
      );
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}

/**
 * Default process metrics, the service info gauge and the HTTP histogram on one registry per app
 * (not prom-client's global one), so several apps can live in one test process.
 */
export function createHttpMetrics(options: {
  service: string;
  version: string;
  registry?: Registry;
}): HttpMetrics {
  const registry = options.registry ?? new Registry();
  collectDefaultMetrics({ register: registry });
  // prom-client also exports these three gauges with a `_total` suffix, which Prometheus keeps
  // for counters (promtool check metrics rejects them); `nodejs_active_handles` etc. remain.
  for (const name of [
    "nodejs_active_handles_total",
    "nodejs_active_requests_total",
    "nodejs_active_resources_total",
  ]) {
    registry.removeSingleMetric(name);
  }
  const info = new Gauge({
    name: "dbplane_service_info",
    help: "Always 1; labels say which service and version this process runs",
    labelNames: ["service", "version"] as const,
    registers: [registry],
  });
  info.set({ service: options.service, version: options.version }, 1);
  const requestDuration = new CountedHistogram({
    name: "dbplane_http_request_duration_seconds",
    help: "HTTP request duration by method, route pattern and status code",
    labelNames: ["method", "route", "status_code"] as const,
    registers: [registry],
  });
  return { registry, requestDuration };
}

/** Label for requests no route matched: one series, however many random URLs are probed. */
export const UNMATCHED_ROUTE = "unmatched";

/** Times every response by its route pattern (`/v1/databases/:name`), never the raw URL. */
export function observeRequests(app: FastifyInstance, metrics: HttpMetrics): void {
  // One labelled child per (method, route pattern, status): the labels object is made once per
  // series instead of per response. Bounded: methods and statuses are few, routes are patterns.
  const series = new Map<string, HistogramSeries>();
  app.addHook("onResponse", (request, reply, done) => {
    const route = request.is404 ? UNMATCHED_ROUTE : (request.routeOptions.url ?? UNMATCHED_ROUTE);
    const key = `${request.method} ${reply.statusCode} ${route}`;
    let child = series.get(key);
    if (child === undefined) {
      child = metrics.requestDuration.series({
        method: request.method,
        route,
        status_code: String(reply.statusCode),
      });
      series.set(key, child);
    }
    child.observe(reply.elapsedTime / 1000);
    done();
  });
}
