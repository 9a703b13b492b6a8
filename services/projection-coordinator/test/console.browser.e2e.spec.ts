import { mkdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { busNames } from "@dbplane/bus";
import { serviceSource } from "@dbplane/contracts";
import { waitFor } from "@dbplane/testkit";
import { jetstream } from "@nats-io/jetstream";
import { headers } from "@nats-io/transport-node";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type ConsoleWorld, createConsoleWorld } from "./console-world.ts";

/** Debian's browser; the test never downloads one (scripts/lib/services.sh ensure_chromium). */
const CHROMIUM = process.env.DBPLANE_CHROMIUM ?? "/usr/bin/chromium";
const ARTEFACTS = join(import.meta.dirname, "../../../test-artifacts/console");
const AXE_SOURCE = createRequire(import.meta.url).resolve("axe-core/axe.min.js");
/** Waits for conditions, never for time: generous deadlines for a loaded CI machine. */
const UI_DEADLINE = { timeout: 30_000 };

interface AxeViolation {
  readonly id: string;
  readonly impact: string | null;
  readonly help: string;
  readonly nodes: readonly { readonly target: readonly string[] }[];
}

async function seriousViolations(page: Page, axeSource: string): Promise<string[]> {
  await page.evaluate(axeSource);
  const violations = await page.evaluate(
    async () =>
      (await (globalThis as unknown as { axe: { run(): Promise<{ violations: AxeViolation[] }> } }).axe.run())
        .violations,
  );
  return violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

describe("web console in Debian's chromium", () => {
  let world: ConsoleWorld;
  let browser: Browser;
  let page: Page;
  let axeSource: string;
  const cspViolations: string[] = [];
  const pageErrors: string[] = [];
  const checked: string[] = [];

  const api = async <T = unknown>(
    base: string,
    path: string,
    init: { method?: string; body?: unknown } = {},
  ): Promise<T> => {
    const res = await fetch(`${base}${path}`, {
      method: init.method ?? "GET",
      headers: {
        authorization: `Bearer ${world.token()}`,
        ...(init.body !== undefined && { "content-type": "application/json" }),
      },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    if (!res.ok) throw new Error(`${path} answered ${res.status}: ${await res.text()}`);
    return (await res.json()) as T;
  };

  /** A page, screenshotted and checked with axe (no serious or critical violations). */
  const capture = async (name: string) => {
    await page.screenshot({ path: join(ARTEFACTS, `${name}.png`), fullPage: true });
    expect(await seriousViolations(page, axeSource), `axe on ${name}`).toEqual([]);
    checked.push(name);
  };

  beforeAll(async () => {
    [world, axeSource] = await Promise.all([createConsoleWorld(), readFile(AXE_SOURCE, "utf8")]);
    await mkdir(ARTEFACTS, { recursive: true });
    // A sharded database with a replica per shard, a job with runs, and a poison event.
    await api(world.provisioner.base, "/v1/databases", {
      method: "POST",
      body: { name: "shop", shards: 2, replicasPerShard: 1 },
    });
    await api(world.provisioner.base, "/v1/databases", {
      method: "POST",
      body: { name: "ledger", shards: 1, replicasPerShard: 0 },
    });
    await api(world.scheduler.base, "/v1/jobs", {
      method: "POST",
      body: {
        id: "nightly-report",
        schedule: { kind: "every", everyMs: 3_600_000 },
        target: { subject: world.targetSubject },
      },
    });
    await api(world.scheduler.base, "/v1/jobs/nightly-report/trigger", { method: "POST" });
    const h = headers();
    for (const [k, v] of Object.entries({
      "ce-id": `${world.namespace}-poison`,
      "ce-type": "io.dbplane.collector.shard.load-sampled.v1",
      "ce-source": serviceSource("collector"),
      "ce-subject": "database/shop/shard/9",
      "ce-time": new Date().toISOString(),
      "ce-specversion": "1.0",
    }))
      h.set(k, v);
    await jetstream(world.nats.nc).publish(
      busNames(world.namespace).subject("dbplane.evt.collector.shard.load-sampled"),
      JSON.stringify({ database: "shop" }),
      { headers: h, msgID: `${world.namespace}-poison` },
    );
    await waitFor(
      async () =>
        (await api<{ state: string }>(world.provisioner.base, "/v1/databases/shop")).state === "ready" &&
        (await api<{ state: string }>(world.provisioner.base, "/v1/databases/ledger")).state === "ready" &&
        (
          await api<{ shards: { replicas: { status: string }[] }[] }>(
            world.router.base,
            "/v1/databases/shop/shards",
          )
        ).shards.every((s) => s.replicas.every((r) => r.status === "up")),
      { timeoutMs: 90_000, intervalMs: 250, what: "database shop ready with its replicas up" },
    );

    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    page.on("console", (message) => {
      if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
    });
    page.on("pageerror", (err) => pageErrors.push(err.message));
  }, 180_000);

  // What the browser showed when a test failed, and the scripts' errors, for the one reading CI.
  afterEach(async (context) => {
    if (context.task.result?.state !== "fail" || !page) return;
    await page.screenshot({ path: join(ARTEFACTS, `failed-${checked.length}.png`), fullPage: true });
    if (pageErrors.length) console.error(`page errors: ${pageErrors.join("; ")}`);
  });

  afterAll(async () => {
    await browser?.close();
    await world?.dispose();
  }, 60_000);

  it("asks for a token, then shows the fleet with the database and its shards", async () => {
    await page.goto(`${world.coordinator.base}/console`);
    const dialog = page.getByRole("dialog", { name: "Bearer token" });
    await dialog.waitFor(UI_DEADLINE);
    await page.getByLabel("Token", { exact: true }).fill(world.token({ scopes: ["admin"] }));
    await page.getByRole("button", { name: "Use token" }).click();
    const shop = page.locator("#databases tr", { hasText: "shop" });
    await shop.getByText("2/2 ready").waitFor(UI_DEADLINE);
    await page.getByText("live", { exact: true }).waitFor(UI_DEADLINE);
    await capture("overview");
  });

  it("shows a database's keyspace bar, shards, replicas and lag", async () => {
    await page.getByRole("link", { name: "shop" }).click();
    await page.getByRole("img", { name: /^Keyspace of 2 shards/ }).waitFor(UI_DEADLINE);
    const rows = page.locator("table", { hasText: "Replicas and lag" }).locator("tbody tr");
    await expect.poll(() => rows.count(), UI_DEADLINE).toBe(2);
    await rows
      .first()
      .getByRole("img", { name: /^replication lag of/ })
      .waitFor(UI_DEADLINE);
    await capture("database-keyspace");
  });

  it("shows a split on the database's reshard timeline as it starts, live", async () => {
    await page.goto(`${world.coordinator.base}/console/#/databases/ledger`);
    await page.getByRole("img", { name: /^Keyspace of 1 shards/ }).waitFor(UI_DEADLINE);
    await page.getByText("No reshards.").waitFor(UI_DEADLINE);
    await api(world.router.base, "/v1/databases/ledger/splits", {
      method: "POST",
      body: { shard: 0, at: "0" },
    });
    // No reload: the router's reshard events reach the page through the coordinator's stream.
    const reshard = page.locator("li.reshard", { hasText: "split of shard #0" });
    await reshard.waitFor(UI_DEADLINE);
    // Its phase as it runs — or all done: a split of a database with no rows can end in seconds.
    await reshard.locator('.phases li[aria-current="step"], .phases li.done').first().waitFor(UI_DEADLINE);
    await capture("reshard-timeline");
  });

  it("shows jobs with their last run and lateness", async () => {
    await page.getByRole("link", { name: "Jobs" }).click();
    const job = page.locator("tr", { hasText: "nightly-report" });
    await job.getByText("fired").waitFor(UI_DEADLINE);
    await job.getByRole("img", { name: /firing lateness of nightly-report/ }).waitFor(UI_DEADLINE);
    await capture("jobs");
  });

  it("shows projections with their units and the parked event, and retries it", async () => {
    await page.getByRole("link", { name: "Projections" }).click();
    await page.getByRole("heading", { name: /^fleet/ }).waitFor(UI_DEADLINE);
    await page.getByRole("heading", { name: /^audit/ }).waitFor(UI_DEADLINE);
    const parked = page.locator("tr", { hasText: "shard.load-sampled" });
    await parked.waitFor(UI_DEADLINE);
    await capture("projections");
    await parked.getByRole("button", { name: /Retry/ }).click();
    // Still malformed: the coordinator answers 422 and the console says so.
    await page
      .getByRole("status")
      .filter({ hasText: /Retry parked event \d+ failed/ })
      .waitFor(UI_DEADLINE);
  });

  it("shows the collector group with its leader and the targets per member", async () => {
    await page.getByRole("link", { name: "Collectors" }).click();
    await page.getByText(/^Leader/).waitFor(UI_DEADLINE);
    await page.locator("section tbody tr", { hasText: "shop" }).first().waitFor(UI_DEADLINE);
    await capture("collectors");
  });

  it("shows the audit log and filters it by type", async () => {
    await page.getByRole("link", { name: "Audit log" }).click();
    await page.locator("#audit-rows tr").first().waitFor(UI_DEADLINE);
    await page.getByLabel("Type").fill("io.dbplane.provisioner.database.ready.v1");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.locator("#audit-rows tr", { hasText: "database.ready" }).first().waitFor(UI_DEADLINE);
    await expect
      .poll(() => page.locator("#audit-rows tr", { hasNotText: "database.ready" }).count(), UI_DEADLINE)
      .toBe(0);
    await capture("audit");
  });

  it("creates a database from the overview, and the overview follows it to ready by itself (SSE)", async () => {
    await page.getByRole("link", { name: "Fleet" }).click();
    await page.locator("#databases tr", { hasText: "shop" }).waitFor(UI_DEADLINE);
    await page.getByLabel("Name").fill("fresh");
    await page.getByRole("button", { name: "Create" }).click();
    await page
      .getByRole("status")
      .filter({ hasText: "Create database fresh: accepted" })
      .waitFor(UI_DEADLINE);
    // No reload and no polling: only the coordinator's change stream makes the page refetch.
    const fresh = page.locator("#databases tr", { hasText: "fresh" });
    await fresh.getByText("1/1 ready").waitFor({ timeout: 90_000 });
    await fresh.locator(".badge", { hasText: "ready" }).waitFor(UI_DEADLINE);
  }, 120_000);

  it("prompts again when the token has expired", async () => {
    await page.evaluate((t) => sessionStorage.setItem("dbplane.token", t), world.token({ expiresIn: -60 }));
    // The page's API calls and its live stream both meet the expired token, and the one refused
    // last sets the prompt's text: held back here, the stream's refusal comes last, and it too
    // must say why (it once said only "The live stream refused the token", a flaky failure).
    const events = "**/v1/console/events";
    await page.route(events, async (route) => {
      await new Promise((resolve) => setTimeout(resolve, 500));
      await route.continue();
    });
    await page.reload();
    const dialog = page.getByRole("dialog", { name: "Bearer token" });
    await dialog.waitFor(UI_DEADLINE);
    await expect
      .poll(() => page.locator("body").getAttribute("data-live"), UI_DEADLINE)
      .toBe("not signed in");
    await page.unroute(events);
    await expect(dialog.textContent()).resolves.toMatch(/expired/i);
    await capture("token-prompt");
    await page.getByLabel("Token", { exact: true }).fill(world.token());
    await page.getByRole("button", { name: "Use token" }).click();
    await page.locator("#databases tr", { hasText: "shop" }).waitFor(UI_DEADLINE);
  });

  it("ran without Content-Security-Policy violations on every page", () => {
    expect(checked).toEqual([
      "overview",
      "database-keyspace",
      "reshard-timeline",
      "jobs",
      "projections",
      "collectors",
      "audit",
      "token-prompt",
    ]);
    expect(cspViolations).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
