// How values read on screen.
import { html } from "./vendor/lit-html/lit-html.js";

export const time = (iso) => (iso ? new Date(iso).toLocaleString() : "—");
export const ago = (iso) => {
  if (!iso) return "—";
  const s = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
  if (s < 0) return `in ${duration(-s * 1000)}`;
  if (s === 0) return "just now";
  return `${duration(s * 1000)} ago`;
};
export const duration = (ms) => {
  if (ms == null) return "—";
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${Math.round(ms / 100) / 10} s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`;
  return `${Math.round(ms / 3_600_000)} h`;
};
export const bytes = (n) => {
  if (n == null) return "—";
  const units = ["B", "kB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${Math.round(n * 10) / 10} ${units[i]}`;
};
/** A state as a badge: the word is always there, the colour only helps. */
export const badge = (state) => {
  const s = String(state ?? "unknown");
  const tone = /ready|up|healthy|active|completed|fired|live|resolved/.test(s)
    ? "good"
    : /fail|down|unhealthy|lost|missed|parked|cancel/.test(s)
      ? "bad"
      : "neutral";
  return html`<span class="badge ${tone}">${s}</span>`;
};
