// Projections: generations and units (owner, checkpoint, lag), parked events with retry.
import { get } from "../api.js";
import { ago, badge, duration, time } from "../format.js";
import { sparkline } from "../plots.js";
import { html, nothing } from "../vendor/lit-html/lit-html.js";

/** Lag per projection as seen by this tab on each refresh (the API keeps only the latest). */
const lagSeen = new Map();

async function load() {
  const [projections, parked] = await Promise.all([
    get("coordinator", "projections"),
    get("coordinator", "parked?state=parked&limit=100"),
  ]);
  for (const p of projections.items) {
    const active = p.generations.find((g) => g.state === "active") ?? p.generations[0];
    if (!active) continue;
    lagSeen.set(p.name, [...(lagSeen.get(p.name) ?? []), active.lagEvents].slice(-60));
  }
  return { projections: projections.items, parked: parked.items };
}

const generation = (name, g) => html`<table>
  <caption>${name} generation ${g.generation} (v${g.version}) ${badge(g.state)} — lag ${g.lagEvents} events, ${duration(g.lagSeconds * 1000)}</caption>
  <thead><tr><th scope="col">Partition</th><th scope="col">Owner</th><th scope="col">Checkpoint</th>
    <th scope="col">Checkpointed</th><th scope="col">Applied</th><th scope="col">Lag (events)</th></tr></thead>
  <tbody>${g.units.map(
    (u) => html`<tr><th scope="row">${u.partition}</th><td class="mono">${u.owner ?? "unowned"}</td>
      <td class="num">${u.checkpoint}</td><td>${ago(u.checkpointAt)}</td><td class="num">${u.appliedEvents}</td>
      <td class="num">${u.lagEvents ?? "—"}</td></tr>`,
  )}</tbody>
</table>`;

function parkedTable(parked, ctx) {
  if (parked.length === 0) return html`<p class="muted">No parked events.</p>`;
  return html`<table>
    <thead><tr><th scope="col">Id</th><th scope="col">Projection</th><th scope="col">Event</th>
      <th scope="col">Reason</th><th scope="col">Parked</th><th scope="col">Action</th></tr></thead>
    <tbody>${parked.map(
      (p) => html`<tr><th scope="row">${p.id}</th><td>${p.projection} p${p.partition}</td>
        <td class="mono">${p.event.type ?? "?"} #${p.streamSeq}</td><td class="error">${p.reason}</td>
        <td>${time(p.parkedAt)}</td>
        <td><button type="button" @click=${() => ctx.act(`Retry parked event ${p.id}`, "coordinator", `parked/${p.id}/retry`, { method: "POST" })}>Retry<span class="sr-only"> event ${p.id}</span></button></td></tr>`,
    )}</tbody>
  </table>`;
}

export const projectionsPage = {
  title: "Projections",
  match: (path) => (path === "/projections" ? {} : null),
  load,
  // Every applied event moves a checkpoint.
  refreshOn: (change) => change.models.length > 0,
  view({ projections, parked }, _params, ctx) {
    return html`<h1>Projections</h1>
      ${projections.map(
        (p) => html`<section aria-labelledby="proj-${p.name}">
          <h2 id="proj-${p.name}">${p.name} ${sparkline(lagSeen.get(p.name) ?? [], { label: `lag of ${p.name} in events`, unit: " ev" })}</h2>
          ${p.generations.map((g) => generation(p.name, g))}
        </section>`,
      )}
      ${projections.length === 0 ? html`<p class="muted">No projections run.</p>` : nothing}
      <section aria-labelledby="parked-title">
        <h2 id="parked-title">Parked events <span class="count">${parked.length}</span></h2>
        ${parkedTable(parked, ctx)}
      </section>`;
  },
};
