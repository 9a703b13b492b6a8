import type { FastifyInstance } from "fastify";
import { collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export interface HttpMetrics {
  readonly registry: Registry;
  readonly requestDuration: Histogram<"method" | "route" | "status_code">;
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
  const requestDuration = new Histogram({
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
  const series = new Map<string, { observe(seconds: number): void }>();
  app.addHook("onResponse", (request, reply, done) => {
    const route = request.is404 ? UNMATCHED_ROUTE : (request.routeOptions.url ?? UNMATCHED_ROUTE);
    const key = `${request.method} ${reply.statusCode} ${route}`;
    let child = series.get(key);
    if (child === undefined) {
      child = metrics.requestDuration.labels({
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
