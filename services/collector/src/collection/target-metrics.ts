import { Counter, Gauge, type Registry } from "prom-client";
import type { Health } from "../domain/health.ts";
import { healthLevel } from "../domain/health.ts";
import { METRICS, type MetricKey, type SeriesValue, seriesKey } from "../domain/metric-catalog.ts";

interface TargetSeries {
  readonly engine: string;
  gauges: readonly SeriesValue[];
  /** Sum of reset-safe increases since this member took the target: a Prometheus counter. */
  readonly counters: Map<
    string,
    { metric: MetricKey; labels?: Readonly<Record<string, string>>; value: number }
  >;
}

/**
 * The per-target Prometheus series of the targets this member owns. Values are kept here and
 * written into the metrics at scrape time, so a target that moves to another member simply
 * stops being exported here (no stale series).
 */
export class TargetMetrics {
  readonly #targets = new Map<string, TargetSeries>();

  constructor(registry: Registry) {
    const byMetric = (key: MetricKey) => {
      const out: { labels: Record<string, string>; value: number }[] = [];
      for (const [target, series] of this.#targets) {
        const base = { target, db_system: series.engine };
        for (const g of series.gauges)
          if (g.metric === key) out.push({ labels: { ...base, ...g.labels }, value: g.value });
        for (const c of series.counters.values()) {
          if (c.metric === key) out.push({ labels: { ...base, ...c.labels }, value: c.value });
        }
      }
      return out;
    };
    for (const [key, def] of Object.entries(METRICS) as [MetricKey, (typeof METRICS)[MetricKey]][]) {
      const options = {
        name: def.name,
        help: def.help,
        labelNames: ["target", "db_system", ...def.labels],
        registers: [registry],
      };
      if (def.type === "gauge") {
        new Gauge({
          ...options,
          collect() {
            this.reset();
            for (const s of byMetric(key)) this.set(s.labels, s.value);
          },
        });
      } else {
        new Counter({
          ...options,
          collect() {
            this.reset();
            for (const s of byMetric(key)) this.inc(s.labels, s.value);
          },
        });
      }
    }
  }

  /** Records a collection: the latest gauges, and counters grown by `increases` (by series key). */
  record(
    target: string,
    engine: string,
    gauges: readonly SeriesValue[],
    counters: readonly SeriesValue[],
    increases: Readonly<Record<string, number>> | undefined,
  ): void {
    const series = this.#targets.get(target) ?? { engine, gauges: [], counters: new Map() };
    series.gauges = gauges;
    for (const c of counters) {
      const key = seriesKey(c.metric, c.labels);
      const entry = series.counters.get(key) ?? {
        metric: c.metric,
        ...(c.labels && { labels: c.labels }),
        value: 0,
      };
      entry.value += increases?.[key] ?? 0;
      series.counters.set(key, entry);
    }
    this.#targets.set(target, series);
  }

  /** Up, health and scrape time: the series every target has, reachable or not. */
  recordStatus(
    target: string,
    engine: string,
    health: Health,
    scrapeSeconds: number,
    keep: readonly SeriesValue[],
  ): void {
    const series = this.#targets.get(target) ?? { engine, gauges: [], counters: new Map() };
    series.gauges = [
      ...keep.filter((g) => g.metric !== "up" && g.metric !== "health" && g.metric !== "scrapeSeconds"),
      { metric: "up", value: health.state === "down" ? 0 : 1 },
      { metric: "health", value: healthLevel(health.state) },
      { metric: "scrapeSeconds", value: scrapeSeconds },
    ];
    this.#targets.set(target, series);
  }

  gaugesOf(target: string): readonly SeriesValue[] {
    return this.#targets.get(target)?.gauges ?? [];
  }

  forget(target: string): void {
    this.#targets.delete(target);
  }
}
