// The console's shell: hash routes to pages, the token prompt, actions and live refresh.
import { ApiError, call, onTokenNeeded, token } from "./api.js";
import { connectLive } from "./live.js";
import { auditPage } from "./pages/audit.js";
import { collectorsPage } from "./pages/collectors.js";
import { databasePage } from "./pages/database.js";
import { jobsPage } from "./pages/jobs.js";
import { overviewPage } from "./pages/overview.js";
import { projectionsPage } from "./pages/projections.js";
import { html, nothing, render } from "./vendor/lit-html/lit-html.js";

const PAGES = [overviewPage, databasePage, jobsPage, projectionsPage, collectorsPage, auditPage];
const NAV = [
  ["#/", "Fleet", overviewPage],
  ["#/jobs", "Jobs", jobsPage],
  ["#/projections", "Projections", projectionsPage],
  ["#/collectors", "Collectors", collectorsPage],
  ["#/audit", "Audit log", auditPage],
];

const main = document.getElementById("main");
const state = {
  page: overviewPage,
  params: {},
  data: null,
  error: null,
  notice: null,
  loading: false,
  stale: false,
};

// --- token prompt -----------------------------------------------------------------------------
const dialog = document.getElementById("token-dialog");
const form = document.getElementById("token-form");
let waiting = [];
function promptToken(reason) {
  document.getElementById("token-reason").textContent =
    `${reason} Paste a dbplane token (a JWT with the scopes you need, e.g. read).`;
  if (!dialog.open) dialog.showModal();
  document.getElementById("token-input").focus();
  return new Promise((resolve) => waiting.push(resolve));
}
function closePrompt() {
  dialog.close();
  const done = waiting;
  waiting = [];
  for (const resolve of done) resolve();
}
form.addEventListener("submit", (e) => {
  e.preventDefault();
  const value = document.getElementById("token-input").value;
  if (!value.trim()) return;
  token.set(value);
  form.reset();
  closePrompt();
  live.restart();
  reload();
});
document.getElementById("token-cancel").addEventListener("click", closePrompt);
document.getElementById("token-button").addEventListener("click", () => promptToken("Replace the token."));
onTokenNeeded(promptToken);

// --- pages ------------------------------------------------------------------------------------
function route() {
  const [path, search = ""] = location.hash.replace(/^#/, "").split("?");
  for (const page of PAGES) {
    const params = page.match(path || "/", search);
    if (params) return { page, params };
  }
  return { page: null, params: {} };
}

const ctx = {
  navigate: (to) => {
    location.hash = `#${to}`;
  },
  /** Runs an action through the API and says how it went; the live stream shows its effects. */
  async act(label, service, path, options, onDone) {
    state.notice = { tone: "neutral", text: `${label}…` };
    draw();
    try {
      const result = await call(service, path, options);
      const op = result?.operationId ?? result?.id ?? result?.backupId;
      state.notice = { tone: "good", text: `${label}: accepted${op ? ` (${op})` : ""}` };
      onDone?.();
    } catch (err) {
      state.notice = { tone: "bad", text: `${label} failed: ${err.message}` };
    }
    draw();
  },
};

function draw() {
  const { page, data, error, notice } = state;
  render(
    NAV.map(
      ([href, label, p]) => html`<a href=${href} aria-current=${p === page ? "page" : "false"}>${label}</a>`,
    ),
    document.getElementById("nav"),
  );
  document.title = `${page?.title ?? "Not found"} · dbplane console`;
  render(
    html`${notice ? html`<p class="notice ${notice.tone}" role="status">${notice.text}</p>` : nothing}
      ${error ? html`<p class="notice bad" role="alert">${error}</p>` : nothing}
      ${!page ? html`<h1>Not found</h1><p><a href="#/">To the fleet</a></p>` : data ? page.view(data, state.params, ctx) : html`<p>Loading…</p>`}`,
    main,
  );
}

/** Loads the current page's data; a change during a load loads once more afterwards. */
async function reload() {
  if (state.loading) {
    state.stale = true;
    return;
  }
  const { page, params } = state;
  if (!page) return draw();
  state.loading = true;
  try {
    const data = await page.load(params);
    if (page === state.page) {
      state.data = data;
      state.error = null;
    }
  } catch (err) {
    state.error =
      err instanceof ApiError ? `${err.message} (HTTP ${err.status})` : String(err.message ?? err);
  } finally {
    state.loading = false;
  }
  draw();
  if (state.stale) {
    state.stale = false;
    reload();
  }
}

function navigate() {
  const { page, params } = route();
  state.page = page;
  state.params = params;
  state.data = null;
  state.error = null;
  state.notice = null;
  draw();
  main.focus();
  reload();
}
window.addEventListener("hashchange", navigate);

// --- live -------------------------------------------------------------------------------------
const liveState = document.getElementById("live");
const live = connectLive({
  onState: (text) => {
    liveState.textContent = text;
    document.body.dataset.live = text;
  },
  onUnauthorized: (detail) => promptToken(detail ?? "The live stream refused the token."),
  onChange: (change) => {
    if (change.reconnected || state.page?.refreshOn(change)) reload();
  },
});

navigate();
