// The pure parts of the commands: job bodies from flags and files, the tail's window and type
// globs, migration ids, reshard arguments and progress, and the completion scripts (run in bash).
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { type AuditEvent, TAIL_OVERLAP_MS, TailWindow, typeMatcher } from "../src/audit-tail.ts";
import { UsageError } from "../src/cli-error.ts";
import { hashRange, shardPair } from "../src/commands/db-reshard-command.ts";
import { migrationIdOf } from "../src/commands/migrate-command.ts";
import { completionScript, completionTree } from "../src/completion-script.ts";
import { describeReshard, type Reshard, reshardLabel } from "../src/follow-reshard.ts";
import { durationMs, jobBodyOf, parseJobDocument } from "../src/job-definition.ts";
import { buildProgram } from "../src/program.ts";

describe("jobs create's body", () => {
  it("is built from flags: an interval, a NATS target with a JSON payload", () => {
    expect(jobBodyOf({ id: "n", every: "5m", subject: "app.tick", payload: '{"a":1}', maxRuns: 3 })).toEqual({
      id: "n",
      schedule: { kind: "every", everyMs: 300_000 },
      target: { kind: "nats", subject: "app.tick", payload: { a: 1 } },
      maxRuns: 3,
    });
  });

  it("lays flags over a YAML file's document", () => {
    const doc = parseJobDocument(
      "id: nightly\nschedule: {kind: cron, expression: '0 2 * * *'}\ntarget: {url: 'https://x.test/h'}\n",
      "job.yaml",
    );
    expect(jobBodyOf({ cron: "0 3 * * *", timeZone: "Europe/Paris" }, doc)).toEqual({
      id: "nightly",
      schedule: { kind: "cron", expression: "0 3 * * *", timeZone: "Europe/Paris" },
      target: { url: "https://x.test/h" },
    });
    // A payload given as a flag goes into the file's target: a NATS payload, an HTTP body.
    expect(jobBodyOf({ payload: "[1]" }, { ...doc, target: { subject: "a.b" } }).target).toEqual({
      subject: "a.b",
      payload: [1],
    });
    expect(
      jobBodyOf({ payload: "[1]" }, { ...doc, target: { kind: "http", url: "https://x.test" } }).target,
    ).toEqual({
      kind: "http",
      url: "https://x.test",
      body: [1],
    });
  });

  it("refuses what cannot be a job, naming the flag", () => {
    expect(() => jobBodyOf({ id: "x", every: "1m", cron: "* * * * *", subject: "s" })).toThrow(
      /one of --every, --cron, --at/,
    );
    expect(() => jobBodyOf({ id: "x", subject: "s" })).toThrow(/--every, --cron or --at/);
    expect(() => jobBodyOf({ id: "x", every: "1m", subject: "s", payload: "{" })).toThrow(
      /--payload must be JSON/,
    );
    expect(() => parseJobDocument("- a\n- b\n", "j.yaml")).toThrow(/expected one job object/);
    expect(() => durationMs("5 minutes")).toThrow(UsageError);
    expect(durationMs("250ms") + durationMs("2d")).toBe(250 + 172_800_000);
  });
});

describe("events tail", () => {
  const event = (id: string, time: string): AuditEvent => ({
    seq: 1,
    id,
    type: "t",
    source: "s",
    subject: "x",
    time,
    correlationid: null,
    data: {},
  });

  it("matches types by glob, dots literal", () => {
    const scheduler = typeMatcher("io.dbplane.scheduler.*");
    expect(scheduler("io.dbplane.scheduler.job.fired.v1")).toBe(true);
    expect(scheduler("io.dbplane.router.shard.hot.v1")).toBe(false);
    expect(typeMatcher("io.dbplane.*.job.fired.v?")("io.dbplane.scheduler.job.fired.v1")).toBe(true);
    expect(typeMatcher("a.b")("aXb")).toBe(false);
  });

  it("prints each event once, re-reading a window behind the newest for late arrivals", () => {
    const start = Date.parse("2026-12-04T21:00:00Z");
    const window = new TailWindow(start);
    expect(window.from().getTime()).toBe(start);
    expect(window.admit(event("a", "2026-12-04T21:01:00Z"))).toBe(true);
    expect(window.admit(event("a", "2026-12-04T21:01:00Z"))).toBe(false);
    expect(window.from().getTime()).toBe(Date.parse("2026-12-04T21:01:00Z") - TAIL_OVERLAP_MS);
    // Late but inside the window: still printed, once.
    expect(window.admit(event("late", "2026-12-04T21:00:45Z"))).toBe(true);
    expect(window.admit(event("late", "2026-12-04T21:00:45Z"))).toBe(false);
  });
});

describe("reshards and migrations", () => {
  it("parses ranges and shard pairs, refusing other forms", () => {
    expect(hashRange("-100:9223372036854775808")).toEqual({ from: "-100", to: "9223372036854775808" });
    expect(() => hashRange("1-2")).toThrow(/FROM:TO/);
    expect(shardPair("0,1")).toEqual([0, 1]);
    expect(() => shardPair("0")).toThrow(/A,B/);
  });

  it("says which phase of six a reshard is in, with rows and lag", () => {
    const r = {
      kind: "split",
      database: "shop",
      sourceShard: 0,
      targetShard: 2,
      phase: "copying",
      state: "running",
      cancelRequested: false,
      progress: { rowsCopied: 10, rowsTotal: 40, replicationLagBytes: null },
    } as unknown as Reshard;
    expect(describeReshard(r)).toBe("split shop 0→2: phase 2/6 copying, 10/40 rows");
  });

  it("names the target the request asked for before the router reports it", () => {
    const r = {
      kind: "split",
      database: "shop",
      sourceShard: 0,
      targetShard: null,
      phase: "provisioning",
      state: "running",
      cancelRequested: false,
      progress: { rowsCopied: 0, rowsTotal: 0, replicationLagBytes: null },
    } as unknown as Reshard;
    expect(describeReshard(r)).toBe("split shop 0: phase 1/6 provisioning");
    expect(describeReshard(r, 2)).toBe("split shop 0→2: phase 1/6 provisioning");
    expect(reshardLabel({ ...r, targetShard: 3 }, 2)).toBe("split shop 0→3");
  });

  it("ids a migration by its file's name and text", () => {
    const id = migrationIdOf("/tmp/001 add orders.sql", "CREATE TABLE t ()");
    expect(id).toMatch(/^001-add-orders-[0-9a-f]{12}$/);
    expect(migrationIdOf("/x/001 add orders.sql", "CREATE TABLE t ()")).toBe(id);
    expect(migrationIdOf("/tmp/001 add orders.sql", "CREATE TABLE u ()")).not.toBe(id);
  });
});

describe("completion", () => {
  const tree = completionTree(buildProgram("0.0.0"));

  /** What bash completes for `dbplane <words…>` (the last word being completed). */
  function bashCompletes(...words: string[]): string[] {
    const script = `${completionScript("bash", "dbplane", tree)}
COMP_WORDS=(dbplane ${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length}
_dbplane; printf '%s\\n' "\${COMPREPLY[@]}"`;
    const run = spawnSync("bash", ["-c", script], { encoding: "utf8" });
    expect(run.stderr).toBe("");
    return run.stdout.split("\n").filter(Boolean);
  }

  it("is valid bash that completes commands, subcommands, options and their values", () => {
    expect(spawnSync("bash", ["-n"], { input: completionScript("bash", "dbplane", tree) }).status).toBe(0);
    expect(bashCompletes("d")).toEqual(["db", "discovery"]);
    expect(bashCompletes("db", "sp")).toEqual(["split"]);
    expect(bashCompletes("db", "split", "shop", "--to")).toEqual(["--to-shard"]);
    expect(bashCompletes("jobs", "-o", "j")).toEqual(["json"]);
    expect(bashCompletes("db", "reshard", "")).toEqual(expect.arrayContaining(["cancel"]));
  });

  const hasZsh = spawnSync("zsh", ["-c", "true"]).status === 0;

  it.skipIf(!hasZsh)("is valid zsh that offers a level's subcommands and -o's values", () => {
    const script = completionScript("zsh", "dbplane", tree);
    expect(spawnSync("zsh", ["-n"], { input: script }).status).toBe(0);
    /** What the script hands to compadd/_describe for `dbplane <words…>`, both stubbed to print. */
    const offers = (...words: string[]) => {
      const run = spawnSync(
        "zsh",
        [
          "-f",
          "-c",
          `compdef() {}
compadd() { local a; for a in "$@"; do [[ $a == -* ]] && continue; print -r -- "$a"; done }
_describe() { local arr=\${@[-1]}; print -rl -- \${(P)arr%%:*} }
${script}
words=(dbplane ${words.map((w) => `'${w}'`).join(" ")}); CURRENT=${words.length + 1}; PREFIX='${words.at(-1)}'
_dbplane`,
        ],
        { encoding: "utf8" },
      );
      expect(run.stderr).toBe("");
      return run.stdout.split("\n").filter(Boolean);
    };
    expect(offers("db", "sp")).toEqual(expect.arrayContaining(["split", "merge", "reshards"]));
    expect(offers("events", "")).toEqual(["tail"]);
    expect(offers("jobs", "-o", "")).toEqual(["table", "json", "yaml"]);
  });

  it("lists every command for zsh, with its description", () => {
    const zsh = completionScript("zsh", "dbplane", tree);
    expect(zsh.startsWith("#compdef dbplane\n")).toBe(true);
    expect(zsh).toContain("'events tail') commands=()");
    expect(zsh).toContain("'tail:print events as they happen");
  });
});
