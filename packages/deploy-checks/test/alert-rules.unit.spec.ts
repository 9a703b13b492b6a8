import { join } from "node:path";
import {
  checkAlertRules,
  checkMetricsExposition,
  extractRuleGroups,
  REPO_ROOT,
  renderChart,
  testAlertRules,
} from "@dbplane/deploy-checks";
import { describe, expect, it } from "vitest";

const chart = join(REPO_ROOT, "helm/dbplane");
const alertTests = join(chart, "tests/alerts.test.yaml");

type Rule = { alert?: string; expr: string };
function withExpr(alert: string, expr: string) {
  const objects = structuredClone(renderChart(chart));
  const rules = (extractRuleGroups(objects).groups as { rules: Rule[] }[]).flatMap((g) => g.rules);
  const rule = rules.find((r) => r.alert === alert);
  if (!rule) throw new Error(`no alert ${alert}`);
  rule.expr = expr;
  return objects;
}

describe("alert rules", () => {
  it("pass promtool check rules and the alert unit tests", () => {
    const objects = renderChart(chart);
    const alerts = (extractRuleGroups(objects).groups as { rules: Rule[] }[]).flatMap((g) =>
      g.rules.map((r) => r.alert),
    );
    expect(alerts).toEqual(
      expect.arrayContaining([
        "DbplaneServiceDown",
        "DbplaneDeadLettersGrowing",
        "DbplaneShardDown",
        "DbplaneShardMapBehind",
        "DbplaneHotShard",
        "DbplaneReplicationLag",
        "DbplaneSchedulerMissingOccurrences",
        "DbplaneProjectionLag",
        "DbplaneCollectorWithoutLeader",
      ]),
    );
    expect(checkAlertRules(objects)).toEqual([]);
    expect(testAlertRules(objects, alertTests)).toEqual([]);
  });

  it("fail on an invalid alert expression", () => {
    const objects = withExpr("DbplaneProjectionLag", "max by (projection) (dbplane_projection_lag_events > ");
    expect(checkAlertRules(objects)).toEqual([expect.stringMatching(/promtool check rules: .*parse error/s)]);
  });

  it("fail a unit test when an alert stops firing on its series", () => {
    const objects = withExpr(
      "DbplaneSchedulerMissingOccurrences",
      "sum(increase(dbplane_scheduler_missed_total[15m])) > 100",
    );
    expect(testAlertRules(objects, alertTests)).toEqual([
      expect.stringMatching(/DbplaneSchedulerMissingOccurrences/),
    ]);
  });

  it("fail when there is no PrometheusRule at all", () => {
    expect(checkAlertRules([])).toEqual(["no PrometheusRule groups in the rendering"]);
  });
});

describe("metrics exposition", () => {
  it("fails a malformed body and a dbplane metric that breaks the naming rules", () => {
    expect(checkMetricsExposition("broken line{\n")).toEqual([expect.stringMatching(/parsing error/)]);
    const gauge = "# HELP dbplane_x_total x\n# TYPE dbplane_x_total gauge\ndbplane_x_total 1\n";
    expect(checkMetricsExposition(gauge)).toEqual([expect.stringMatching(/dbplane_x_total non-counter/)]);
  });
});
