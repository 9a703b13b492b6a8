// Scheduler jobs: next run, last runs, lateness per occurrence; pause, resume, trigger.
import { get } from "../api.js";
import { ago, badge, duration, time } from "../format.js";
import { sparkline } from "../plots.js";
import { html } from "../vendor/lit-html/lit-html.js";

const RUNS_SHOWN = 30;

async function load() {
  const jobs = await get("scheduler", "jobs?limit=100");
  const runs = await Promise.all(
    jobs.items.map((j) => get("scheduler", `jobs/${encodeURIComponent(j.id)}/runs?limit=${RUNS_SHOWN}`)),
  );
  return { jobs: jobs.items.map((job, i) => ({ job, runs: runs[i].items })) };
}

const schedule = (d) => {
  const s = d.schedule ?? {};
  if (s.cron) return `cron ${s.cron}${s.timezone ? ` (${s.timezone})` : ""}`;
  if (s.everyMs ?? s.every) return `every ${duration(s.everyMs ?? s.every)}`;
  if (s.at) return `at ${time(s.at)}`;
  return JSON.stringify(s);
};

function jobRow({ job, runs }, ctx) {
  const id = encodeURIComponent(job.id);
  const act = (verb) => () =>
    ctx.act(`${verb} job ${job.id}`, "scheduler", `jobs/${id}/${verb}`, { method: "POST" });
  const last = runs[0];
  const lateness = runs
    .filter((r) => r.latenessMs !== null)
    .map((r) => r.latenessMs)
    .reverse();
  return html`<tr>
    <th scope="row" class="mono">${job.id}</th>
    <td>${schedule(job.definition)}</td>
    <td>${badge(job.state)}</td>
    <td>${job.nextRunAt ? html`${time(job.nextRunAt)} <span class="muted">(${ago(job.nextRunAt)})</span>` : "—"}</td>
    <td>${last ? html`${badge(last.outcome)} ${ago(last.firedAt ?? last.scheduledAt)}` : html`<span class="muted">never</span>`}</td>
    <td class="num">${job.runsCount} / ${job.missedCount}</td>
    <td>${sparkline(lateness, { label: `firing lateness of ${job.id}`, unit: " ms" })}</td>
    <td class="actions">
      ${
        job.state === "paused"
          ? html`<button type="button" @click=${act("resume")}>Resume<span class="sr-only"> ${job.id}</span></button>`
          : html`<button type="button" @click=${act("pause")}>Pause<span class="sr-only"> ${job.id}</span></button>`
      }
      <button type="button" @click=${act("trigger")}>Trigger<span class="sr-only"> ${job.id}</span></button>
    </td>
  </tr>`;
}

export const jobsPage = {
  title: "Jobs",
  match: (path) => (path === "/jobs" ? {} : null),
  load,
  refreshOn: (change) => change.types.some((t) => t.startsWith("io.dbplane.scheduler.")),
  view({ jobs }, _params, ctx) {
    return html`<h1>Jobs <span class="count">${jobs.length}</span></h1>
      <table>
        <thead><tr><th scope="col">Job</th><th scope="col">Schedule</th><th scope="col">State</th>
          <th scope="col">Next run</th><th scope="col">Last run</th><th scope="col">Fired / missed</th>
          <th scope="col">Lateness (last ${RUNS_SHOWN})</th><th scope="col">Actions</th></tr></thead>
        <tbody>${jobs.map((j) => jobRow(j, ctx))}</tbody>
      </table>
      ${jobs.length === 0 ? html`<p class="muted">No jobs.</p>` : ""}`;
  },
};
