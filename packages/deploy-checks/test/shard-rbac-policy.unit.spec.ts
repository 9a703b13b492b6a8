import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AccessProfile, checkAccessPolicy, REPO_ROOT, renderChart } from "@dbplane/deploy-checks";
import { afterAll, describe, expect, it } from "vitest";

const chartDir = join(REPO_ROOT, "helm/dbplane");
const dir = mkdtempSync(join(tmpdir(), "dbplane-shard-rbac-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const profile: AccessProfile = { name: "chart", networkPolicy: false };

const problemsWith = (values: string) => {
  const file = join(dir, `values-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, values);
  return checkAccessPolicy(structuredClone(renderChart(chartDir, { valuesFiles: [file] })), profile);
};

describe("the provisioner's Role in the shards' namespace", () => {
  it("lets the chart's provisioner write every kind of a shard, its PodDisruptionBudget too", () => {
    expect(problemsWith("")).toEqual([]);
  });

  it("is reported when it lacks PodDisruptionBudgets (every pass would fail with 403)", () => {
    const problems = problemsWith(`
services:
  provisioner:
    rbac:
      shardRules:
        - apiGroups: ["apps"]
          resources: [statefulsets]
          verbs: [get, list, watch, create, update, patch, delete]
        - apiGroups: [""]
          resources: [services, secrets, configmaps, persistentvolumeclaims]
          verbs: [get, list, watch, create, update, patch, delete]
        - apiGroups: ["batch"]
          resources: [jobs]
          verbs: [get, list, watch, create, update, patch, delete]
        - apiGroups: ["networking.k8s.io"]
          resources: [networkpolicies]
          verbs: [get, list, watch, create, update, patch, delete]
        - apiGroups: ["rbac.authorization.k8s.io"]
          resources: [roles, rolebindings]
          verbs: [get, list, watch, create, update, patch, delete]
`);
    expect(problems).toEqual([
      expect.stringMatching(
        /^chart: provisioner needs get, list, patch, delete on policy\/poddisruptionbudgets in the shards' namespace /,
      ),
    ]);
  });
});
