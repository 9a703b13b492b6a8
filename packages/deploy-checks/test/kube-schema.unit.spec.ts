import { join } from "node:path";
import { type KubeObject, REPO_ROOT, renderChart, validateAgainstSchemas } from "@dbplane/deploy-checks";
import { describe, expect, it } from "vitest";

const chart = join(REPO_ROOT, "helm/dbplane");

function deploymentOf(objects: KubeObject[]) {
  const deployment = objects.find((o) => o.kind === "Deployment");
  if (!deployment) throw new Error("no Deployment rendered");
  return structuredClone(deployment) as KubeObject & {
    spec: { replicas?: unknown; template: { spec: { containers: Record<string, unknown>[] } } };
  };
}

describe("Kubernetes schema validation", () => {
  it("accepts every object the chart renders, RBAC and CRDs included", async () => {
    const objects = renderChart(chart, { valuesFiles: [join(chart, "ci/rbac-values.yaml")] });
    expect(new Set(objects.map((o) => o.kind))).toEqual(
      new Set([
        "ClusterRole",
        "ClusterRoleBinding",
        "ConfigMap",
        "Deployment",
        "HorizontalPodAutoscaler",
        "Namespace",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "PrometheusRule",
        "Role",
        "RoleBinding",
        "Secret",
        "Service",
        "ServiceAccount",
        "ServiceMonitor",
      ]),
    );
    expect(await validateAgainstSchemas(objects)).toEqual([]);
  });

  it("rejects a wrong type and a misspelt field the API server would silently drop", async () => {
    const deployment = deploymentOf(renderChart(chart));
    deployment.spec.replicas = "two";
    const container = deployment.spec.template.spec.containers[0]!;
    container.livenesProbe = container.livenessProbe;
    delete container.livenessProbe;

    const problems = await validateAgainstSchemas([deployment]);

    expect(problems).toEqual([
      expect.stringMatching(/spec\/replicas must be integer/),
      expect.stringMatching(/spec\.template\.spec\.containers\[0\]\.livenesProbe: unknown field/),
    ]);
  });

  it("rejects a kind it has no schema for instead of waving it through", async () => {
    const problems = await validateAgainstSchemas([
      { apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w" } },
    ]);
    expect(problems).toEqual([expect.stringContaining("no schema known")]);
  });
});
