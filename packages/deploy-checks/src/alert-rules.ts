import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { field, type KubeObject } from "./kube-object.ts";
import { runTool, toolMessage } from "./tool-process.ts";

const PROMTOOL_HINT = "apt-get install prometheus (Debian ships promtool in it)";

/** The rule groups of every PrometheusRule in a rendering, as a Prometheus rules file. */
export function extractRuleGroups(objects: readonly KubeObject[]): { groups: unknown[] } {
  const groups = objects
    .filter((o) => o.kind === "PrometheusRule")
    .flatMap((o) => (field(o, "spec", "groups") as unknown[] | undefined) ?? []);
  return { groups };
}

function inTempDir<T>(body: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), "dbplane-rules-"));
  try {
    return body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * `promtool check rules` on the alert rules: PromQL syntax, durations, label and annotation
 * templates. An empty rendering (no PrometheusRule) is a problem, not a pass.
 */
export function checkAlertRules(objects: readonly KubeObject[]): string[] {
  const rules = extractRuleGroups(objects);
  if (rules.groups.length === 0) return ["no PrometheusRule groups in the rendering"];
  return inTempDir((dir) => {
    const file = join(dir, "dbplane-rules.yaml");
    writeFileSync(file, stringify(rules));
    const out = runTool("promtool", ["check", "rules", file], { installHint: PROMTOOL_HINT });
    return out.status === 0 ? [] : [`promtool check rules: ${toolMessage(out)}`];
  });
}

/**
 * `promtool test rules` with a unit-test file whose `rule_files` are replaced by the rendered
 * rules: proves that alerts fire on the series they are meant for, with the labels we route on.
 */
export function testAlertRules(objects: readonly KubeObject[], testFile: string): string[] {
  return inTempDir((dir) => {
    writeFileSync(join(dir, "rules.yaml"), stringify(extractRuleGroups(objects)));
    const tests = parse(readFileSync(testFile, "utf8")) as Record<string, unknown>;
    writeFileSync(join(dir, "tests.yaml"), stringify({ ...tests, rule_files: ["rules.yaml"] }));
    const out = runTool("promtool", ["test", "rules", "tests.yaml"], {
      cwd: dir,
      installHint: PROMTOOL_HINT,
    });
    return out.status === 0 ? [] : [`promtool test rules: ${toolMessage(out)}`];
  });
}

/** `promtool check metrics` on a /metrics body: exposition format and naming conventions. */
export function checkMetricsExposition(text: string): string[] {
  const out = runTool("promtool", ["check", "metrics"], { input: text, installHint: PROMTOOL_HINT });
  if (out.status === 0) return [];
  const complaints = `${out.stdout}\n${out.stderr}`
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line);
  return complaints.map((line) => `promtool check metrics: ${line}`);
}
