// The collector group: leader, members and the targets each member collects, last scrape.
import { get } from "../api.js";
import { ago, badge, duration } from "../format.js";
import { html, nothing } from "../vendor/lit-html/lit-html.js";

async function load() {
  const [group, targets] = await Promise.all([
    get("collector", "members"),
    get("collector", "targets?limit=1000"),
  ]);
  return { group, targets: targets.items };
}

function targetTable(targets) {
  return html`<table>
    <thead><tr><th scope="col">Target</th><th scope="col">Engine</th><th scope="col">Endpoint</th>
      <th scope="col">Health</th><th scope="col">Last scrape</th><th scope="col">Took</th></tr></thead>
    <tbody>${targets.map(
      (
        t,
      ) => html`<tr><th scope="row" class="mono">${t.id}</th><td>${t.engine}</td><td class="mono">${t.endpoint}</td>
        <td>${t.health ? badge(t.health.state) : html`<span class="muted">unknown</span>`}</td>
        <td>${t.lastSample ? ago(t.lastSample.at) : "never"}</td>
        <td class="num">${t.lastSample ? duration(t.lastSample.durationMs) : "—"}</td></tr>`,
    )}</tbody>
  </table>`;
}

export const collectorsPage = {
  title: "Collectors",
  match: (path) => (path === "/collectors" ? {} : null),
  load,
  refreshOn: (change) => change.types.some((t) => t.startsWith("io.dbplane.collector.")),
  view({ group, targets }) {
    const unowned = targets.filter((t) => !t.owner);
    return html`<h1>Collectors</h1>
      <p>Leader <strong class="mono">${group.leader ?? "none"}</strong> · epoch ${group.epoch} · ${group.targets} targets ·
        ${group.movedInLastRebalance} moved in the last rebalance</p>
      ${group.members.map(
        (m) => html`<section aria-label="Member ${m.id}">
          <h2 class="mono">${m.id} ${badge(m.live ? "live" : "down")} ${m.id === group.leader ? html`<span class="badge neutral">leader</span>` : nothing}</h2>
          <p class="muted">last heartbeat ${ago(m.lastSeenAt)} · ${m.assignedTargets} targets</p>
          ${targetTable(targets.filter((t) => t.owner === m.id))}
        </section>`,
      )}
      ${group.members.length === 0 ? html`<p class="muted">No collector members.</p>` : nothing}
      ${unowned.length ? html`<section aria-labelledby="unowned"><h2 id="unowned">Not assigned</h2>${targetTable(unowned)}</section>` : nothing}`;
  },
};
