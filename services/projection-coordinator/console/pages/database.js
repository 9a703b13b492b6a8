// One database: its keyspace (ranges, load heat, health), shards with replicas and lag, the
// load per shard over time, reshards as a timeline, backups.
import { ApiError, get } from "../api.js";
import { ago, badge, duration, time } from "../format.js";
import { keyspaceBar, sparkline } from "../plots.js";
import { html, nothing } from "../vendor/lit-html/lit-html.js";

const PHASES = ["provisioning", "copying", "catching-up", "verifying", "cutting-over", "cleaning-up"];
const LOAD_TYPE = "io.dbplane.collector.shard.load-sampled.v1";
const LOAD_WINDOW_MS = 30 * 60_000;
/** Replication lag seen by this tab, per replica: the router keeps only the latest. */
const lagSeen = new Map();
const LAG_POINTS = 60;

const orNull = (promise) =>
  promise.catch((err) => {
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  });

async function load({ name }) {
  const db = encodeURIComponent(name);
  const from = new Date(Date.now() - LOAD_WINDOW_MS).toISOString();
  const [fleet, shards, reshards, backups, samples] = await Promise.all([
    get("coordinator", "fleet"),
    orNull(get("router", `databases/${db}/shards`)),
    orNull(get("router", `databases/${db}/reshards`)),
    orNull(get("provisioner", `databases/${db}/backups`)),
    get("coordinator", `audit?type=${LOAD_TYPE}&from=${encodeURIComponent(from)}&limit=1000`),
  ]);
  for (const s of shards?.shards ?? []) {
    for (const r of s.replicas) {
      const key = `${name}/${s.shard}/${r.host}:${r.port}`;
      const series = lagSeen.get(key) ?? [];
      if (r.lagMs !== undefined) series.push(r.lagMs);
      lagSeen.set(key, series.slice(-LAG_POINTS));
    }
  }
  const loadByShard = new Map();
  for (const e of samples.items) {
    if (e.data.database !== name) continue;
    const series = loadByShard.get(e.data.shard) ?? [];
    series.push(e.data.transactionsPerSecond);
    loadByShard.set(e.data.shard, series);
  }
  return {
    database: fleet.databases.find((d) => d.name === name && d.origin === "provisioner") ?? null,
    shards,
    reshards: reshards?.reshards ?? [],
    backups: backups?.items ?? [],
    loadByShard,
  };
}

const server = (s) => html`${s.host}:${s.port} ${badge(s.status)}`;

function shardRow(name, s, loadByShard) {
  return html`<tr>
    <th scope="row">#${s.shard}</th>
    <td class="mono">${s.ranges.map((r) => html`<div>[${r.from}, ${r.to})</div>`)}</td>
    <td>${server(s.primary)}</td>
    <td>${
      s.replicas.length === 0
        ? html`<span class="muted">none</span>`
        : s.replicas.map(
            (r) => html`<div>${server(r)} lag ${duration(r.lagMs)}
        ${sparkline(lagSeen.get(`${name}/${s.shard}/${r.host}:${r.port}`) ?? [], { label: `replication lag of ${r.host}:${r.port}`, unit: " ms", width: 80 })}</div>`,
          )
    }</td>
    <td class="num">${s.load ? Math.round(s.load.queryRate * 10) / 10 : "—"}</td>
    <td>${sparkline(loadByShard.get(s.shard) ?? [], { label: `transactions per second of shard ${s.shard}`, unit: "/s" })}</td>
  </tr>`;
}

function timeline(r) {
  const at = PHASES.indexOf(r.phase);
  return html`<li class="reshard">
    <h3>${r.kind} of shard #${r.sourceShard}${r.targetShard !== null ? ` → #${r.targetShard}` : ""} ${badge(r.state)}</h3>
    <p class="muted">started ${time(r.createdAt)} by ${r.trigger.by}${r.finishedAt ? `, ended ${time(r.finishedAt)}` : ""}
      · rows ${r.progress.rowsCopied}/${r.progress.rowsTotal}${r.writePauseMs !== null ? ` · writes held ${r.writePauseMs} ms` : ""}
      ${r.error ? html`· <span class="error">${r.error}</span>` : nothing}</p>
    <ol class="phases" aria-label="Phases">
      ${PHASES.map((p, i) => {
        const state =
          r.state === "completed" || i < at
            ? "done"
            : i === at
              ? r.state === "running"
                ? "current"
                : "stopped"
              : "todo";
        return html`<li class=${state} aria-current=${state === "current" ? "step" : "false"}>${p}</li>`;
      })}
    </ol>
  </li>`;
}

export const databasePage = {
  title: "Database",
  match: (path) => {
    const m = /^\/databases\/([^/]+)$/.exec(path);
    return m ? { name: decodeURIComponent(m[1]) } : null;
  },
  load,
  refreshOn: (change) =>
    change.models.includes("fleet") ||
    change.types.some((t) => /^io\.dbplane\.(router|provisioner)\./.test(t)),
  view(data, { name }, ctx) {
    const { database, shards, reshards, backups, loadByShard } = data;
    const backup = () =>
      ctx.act(`Start a backup of ${name}`, "provisioner", `databases/${encodeURIComponent(name)}/backups`, {
        method: "POST",
        body: {},
      });
    return html`<h1>Database ${name} ${database ? badge(database.state) : nothing}</h1>
      ${database ? nothing : html`<p>Not in the fleet read model (yet).</p>`}
      <section aria-labelledby="ks-title">
        <h2 id="ks-title">Keyspace ${shards ? html`<span class="count">map v${shards.version}</span>` : nothing}</h2>
        ${shards ? keyspaceBar(shards.shards) : html`<p class="muted">The router has no shard map for it yet.</p>`}
      </section>
      <section aria-labelledby="shards-title">
        <h2 id="shards-title">Shards</h2>
        <table>
          <thead><tr><th scope="col">Shard</th><th scope="col">Ranges</th><th scope="col">Primary</th>
            <th scope="col">Replicas and lag</th><th scope="col">Queries/s</th><th scope="col">Tx/s (30 min)</th></tr></thead>
          <tbody>${(shards?.shards ?? []).map((s) => shardRow(name, s, loadByShard))}</tbody>
        </table>
      </section>
      <section aria-labelledby="reshards-title">
        <h2 id="reshards-title">Reshards</h2>
        ${reshards.length === 0 ? html`<p class="muted">No reshards.</p>` : html`<ol class="timeline">${reshards.map(timeline)}</ol>`}
      </section>
      <section aria-labelledby="backups-title">
        <h2 id="backups-title">Backups</h2>
        <button type="button" @click=${backup}>Start a backup</button>
        <table>
          <thead><tr><th scope="col">Backup</th><th scope="col">Shard</th><th scope="col">State</th><th scope="col">Where</th></tr></thead>
          <tbody>${backups.map(
            (b) =>
              html`<tr><th scope="row" class="mono">${b.backupId}</th><td>#${b.shard}</td><td>${badge(b.state)}</td><td class="mono">${b.location ?? "—"}</td></tr>`,
          )}</tbody>
        </table>
        ${database?.updatedAt ? html`<p class="muted">Fleet entry updated ${ago(database.updatedAt)}.</p>` : nothing}
      </section>`;
  },
};
