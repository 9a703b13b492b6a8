// Fleet overview: every database with its state, shards, health and the apps that use it.
import { get } from "../api.js";
import { badge, bytes } from "../format.js";
import { html, nothing } from "../vendor/lit-html/lit-html.js";

const totalTps = (db) => db.shards.reduce((sum, s) => sum + (s.transactionsPerSecond ?? 0), 0);

function databaseRow(db) {
  const ready = db.shards.filter((s) => s.state === "ready").length;
  const name =
    db.origin === "provisioner"
      ? html`<a href="#/databases/${encodeURIComponent(db.name)}">${db.name}</a>`
      : db.name;
  return html`<tr>
    <th scope="row">${name}</th>
    <td>${db.origin}</td>
    <td>${badge(db.state)}${db.reason ? html` <span class="muted">${db.reason}</span>` : nothing}</td>
    <td>${db.origin === "provisioner" ? `${ready}/${db.desiredShards ?? db.shards.length} ready` : "—"}</td>
    <td>${db.health ? badge(db.health.state) : html`<span class="muted">not collected</span>`}</td>
    <td class="num">${db.shards.length ? Math.round(totalTps(db) * 10) / 10 : "—"}</td>
    <td class="num">${bytes(db.shards.reduce((n, s) => n + (s.sizeBytes ?? 0), 0) || null)}</td>
    <td>${db.apps.length ? db.apps.map((a) => a.name).join(", ") : html`<span class="muted">none</span>`}</td>
  </tr>`;
}

function createForm(ctx) {
  const submit = (e) => {
    e.preventDefault();
    const form = new FormData(e.target);
    const body = {
      name: String(form.get("name")),
      shards: Number(form.get("shards")),
      replicasPerShard: Number(form.get("replicas")),
    };
    ctx.act(`Create database ${body.name}`, "provisioner", "databases", { method: "POST", body }, () =>
      e.target.reset(),
    );
  };
  return html`<form class="inline" @submit=${submit} aria-labelledby="create-title">
    <h2 id="create-title">Create a database</h2>
    <label>Name <input name="name" required pattern="[a-z][a-z0-9-]{0,40}" autocomplete="off" /></label>
    <label>Shards <input name="shards" type="number" min="1" max="64" value="1" required /></label>
    <label>Replicas per shard <input name="replicas" type="number" min="0" max="5" value="0" required /></label>
    <button type="submit">Create</button>
  </form>`;
}

export const overviewPage = {
  title: "Fleet",
  match: (path) => (path === "/" || path === "" ? {} : null),
  load: () => get("coordinator", "fleet"),
  refreshOn: (change) => change.models.includes("fleet"),
  view(fleet, _params, ctx) {
    return html`<h1>Fleet</h1>
      <section aria-labelledby="db-title">
        <h2 id="db-title">Databases <span class="count">${fleet.databases.length}</span></h2>
        <table>
          <thead><tr><th scope="col">Name</th><th scope="col">Origin</th><th scope="col">State</th>
            <th scope="col">Shards</th><th scope="col">Health</th><th scope="col">Tx/s</th>
            <th scope="col">Size</th><th scope="col">Apps</th></tr></thead>
          <tbody id="databases">${fleet.databases.map(databaseRow)}</tbody>
        </table>
        ${fleet.databases.length === 0 ? html`<p class="muted">No databases yet.</p>` : nothing}
      </section>
      ${createForm(ctx)}
      <section aria-labelledby="apps-title">
        <h2 id="apps-title">Applications <span class="count">${fleet.apps.filter((a) => !a.lost).length}</span></h2>
        <table>
          <thead><tr><th scope="col">App</th><th scope="col">Workload</th><th scope="col">Databases</th></tr></thead>
          <tbody>${fleet.apps
            .filter((a) => !a.lost)
            .map(
              (a) => html`<tr><th scope="row">${a.name}</th><td>${JSON.stringify(a.workload ?? "")}</td>
                <td>${(a.databases ?? []).map((d) => d.databaseId ?? d.name).join(", ")}</td></tr>`,
            )}</tbody>
        </table>
        ${fleet.apps.length === 0 ? html`<p class="muted">No applications discovered.</p>` : nothing}
      </section>`;
  },
};
