// Small inline SVG plots: sparklines for series over time, the keyspace bar of a database.
import { html, svg } from "./vendor/lit-html/lit-html.js";

const fmt = (n) => (Math.abs(n) >= 100 ? Math.round(n).toString() : (Math.round(n * 10) / 10).toString());

/** A line over `values` (oldest first) with its last value beside it; a text for screen readers. */
export function sparkline(values, { label, unit = "", width = 120, height = 28 } = {}) {
  const points = values.filter((v) => Number.isFinite(v));
  if (points.length === 0) return html`<span class="muted">no data</span>`;
  const max = Math.max(...points, 1e-9);
  const min = Math.min(...points, 0);
  const step = points.length > 1 ? width / (points.length - 1) : 0;
  const y = (v) => height - 2 - ((v - min) / (max - min || 1)) * (height - 4);
  const path = points
    .map((v, i) => `${i === 0 ? "M" : "L"}${(i * step).toFixed(1)},${y(v).toFixed(1)}`)
    .join(" ");
  const last = points.at(-1);
  const text = `${label}: last ${fmt(last)}${unit}, max ${fmt(max)}${unit} over ${points.length} samples`;
  return html`<span class="spark">
    <svg role="img" aria-label=${text} width=${width} height=${height} viewBox="0 0 ${width} ${height}">
      ${svg`<title>${text}</title><path d=${path} class="spark-line" />`}
      ${points.length === 1 ? svg`<circle cx="2" cy=${y(last)} r="2" class="spark-dot" />` : ""}
    </svg>
    <span class="spark-last">${fmt(last)}${unit}</span>
  </span>`;
}

const TWO_63 = 2n ** 63n;
const TWO_64 = 2n ** 64n;
/** Where a signed 64-bit hash sits on [0, 1]. */
const position = (s) => {
  const v = BigInt(s) + TWO_63;
  return Number(((v < 0n ? 0n : v > TWO_64 ? TWO_64 : v) * 10_000n) / TWO_64) / 10_000;
};

/** Load heat from pale to strong; ranges of unhealthy shards get a hatched outline. */
const heat = (share) => `hsl(${Math.round(210 - 200 * share)} 70% ${Math.round(88 - 38 * share)}%)`;

/**
 * The keyspace from -2^63 to 2^63: one segment per range, coloured by its shard's query rate
 * relative to the busiest shard, outlined red when the shard's primary is down.
 */
export function keyspaceBar(shards, { width = 1000, height = 44 } = {}) {
  const maxRate = Math.max(...shards.map((s) => s.load?.queryRate ?? 0), 1e-9);
  const segments = shards.flatMap((s) =>
    s.ranges.map((r) => ({ shard: s, from: position(r.from), to: position(r.to) })),
  );
  const text = `Keyspace of ${shards.length} shards: ${shards
    .map((s) => `shard ${s.shard} ${s.primary.status}, ${fmt(s.load?.queryRate ?? 0)} queries/s`)
    .join("; ")}`;
  return html`<figure class="keyspace">
    <svg role="img" aria-label=${text} viewBox="0 0 ${width} ${height + 18}">
      ${svg`<title>${text}</title>`}
      ${segments.map(({ shard, from, to }) => {
        const x = from * width;
        const w = Math.max((to - from) * width, 1);
        const share = (shard.load?.queryRate ?? 0) / maxRate;
        const down = shard.primary.status === "down";
        return svg`<g>
          <rect x=${x} y="0" width=${w} height=${height} fill=${heat(share)} class=${down ? "seg down" : "seg"} />
          <text x=${x + w / 2} y=${height / 2 + 5} text-anchor="middle" class="seg-label">${w > 24 ? `#${shard.shard}` : ""}</text>
        </g>`;
      })}
      ${svg`<text x="0" y=${height + 14} class="axis">−2⁶³</text>
        <text x=${width / 2} y=${height + 14} text-anchor="middle" class="axis">0</text>
        <text x=${width} y=${height + 14} text-anchor="end" class="axis">2⁶³</text>`}
    </svg>
    <figcaption>Keyspace (hash of the shard key); colour: query rate relative to the busiest shard; red outline: primary down.</figcaption>
  </figure>`;
}
