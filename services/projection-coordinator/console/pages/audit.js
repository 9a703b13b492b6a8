// The audit log: every event, newest first, filtered by type, subject and time, paged by cursor.
import { get } from "../api.js";
import { time } from "../format.js";
import { html, nothing } from "../vendor/lit-html/lit-html.js";

const FILTERS = ["type", "subject", "from", "to", "cursor"];

function query(params) {
  const q = new URLSearchParams({ limit: "100", order: "desc" });
  for (const f of FILTERS)
    if (params[f]) q.set(f, f === "from" || f === "to" ? new Date(params[f]).toISOString() : params[f]);
  return q.toString();
}

function filterForm(params, ctx) {
  const submit = (e) => {
    e.preventDefault();
    const form = new FormData(e.target);
    const q = new URLSearchParams();
    for (const f of FILTERS.slice(0, 4)) if (form.get(f)) q.set(f, String(form.get(f)));
    ctx.navigate(`/audit?${q}`);
  };
  return html`<form class="inline" @submit=${submit} aria-label="Filters">
    <label>Type <input name="type" value=${params.type ?? ""} placeholder="io.dbplane.provisioner.database.ready.v1" /></label>
    <label>Subject <input name="subject" value=${params.subject ?? ""} /></label>
    <label>From <input name="from" type="datetime-local" value=${params.from ?? ""} /></label>
    <label>To <input name="to" type="datetime-local" value=${params.to ?? ""} /></label>
    <button type="submit">Filter</button>
  </form>`;
}

export const auditPage = {
  title: "Audit log",
  match: (path, search) => (path === "/audit" ? Object.fromEntries(new URLSearchParams(search)) : null),
  load: (params) => get("coordinator", `audit?${query(params)}`),
  refreshOn: (change) => change.models.includes("audit"),
  view(page, params, ctx) {
    const next = new URLSearchParams(params);
    if (page.nextCursor) next.set("cursor", page.nextCursor);
    return html`<h1>Audit log <span class="count">newest first</span></h1>
      ${filterForm(params, ctx)}
      <table>
        <thead><tr><th scope="col">Seq</th><th scope="col">Time</th><th scope="col">Type</th>
          <th scope="col">Subject</th><th scope="col">Source</th><th scope="col">Correlation</th></tr></thead>
        <tbody id="audit-rows">${page.items.map(
          (e) => html`<tr><th scope="row">${e.seq}</th><td>${time(e.time)}</td><td class="mono">${e.type}</td>
            <td class="mono">${e.subject}</td><td>${e.source}</td><td class="mono">${e.correlationid ?? ""}</td></tr>`,
        )}</tbody>
      </table>
      ${page.items.length === 0 ? html`<p class="muted">No events match.</p>` : nothing}
      ${page.nextCursor ? html`<p><a href="#/audit?${next}">Older events</a></p>` : nothing}`;
  },
};
