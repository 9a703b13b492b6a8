import { join } from "node:path";
import {
  checkWorkloadPolicy,
  discoverServiceFolders,
  type KubeObject,
  type PolicyProfile,
  REPO_ROOT,
  renderKustomization,
} from "@dbplane/deploy-checks";
import { describe, expect, it } from "vitest";

const production: PolicyProfile = {
  name: "production",
  autoscaling: { minReplicas: 3, maxReplicas: 10 },
  pdbMinAvailable: 2,
  serviceMonitor: true,
  networkPolicy: true,
};

type Container = Record<string, unknown> & { securityContext: Record<string, unknown> };
function render(): (KubeObject & { spec?: { template?: { spec: { containers: Container[] } } } })[] {
  return structuredClone(renderKustomization(join(REPO_ROOT, "k8s/overlays/production"))) as never;
}
function schedulerContainer(objects: ReturnType<typeof render>): Container {
  const deployment = objects.find((o) => o.kind === "Deployment" && o.metadata.name === "dbplane-scheduler");
  return deployment!.spec!.template!.spec.containers[0]!;
}

describe("workload policy", () => {
  it("passes on the production overlay with every service present", () => {
    expect(
      checkWorkloadPolicy(
        render(),
        production,
        discoverServiceFolders(REPO_ROOT).map((f) => f.name),
      ),
    ).toEqual([]);
  });

  it("fails a Deployment without probes, naming both", () => {
    const objects = render();
    const container = schedulerContainer(objects);
    delete container.livenessProbe;
    delete container.readinessProbe;

    expect(checkWorkloadPolicy(objects, production)).toEqual([
      expect.stringMatching(/scheduler .* needs container scheduler: livenessProbe GET \/health\/live/),
      expect.stringMatching(/scheduler .* needs container scheduler: readinessProbe GET \/health\/ready/),
    ]);
  });

  it("fails a container that may escalate privileges or write its root filesystem", () => {
    const objects = render();
    const container = schedulerContainer(objects);
    container.securityContext = { runAsNonRoot: true, capabilities: { drop: ["ALL"] } };

    expect(checkWorkloadPolicy(objects, production)).toEqual([
      expect.stringContaining("readOnlyRootFilesystem: true"),
      expect.stringContaining("allowPrivilegeEscalation: false"),
    ]);
  });

  it("fails a service that lost its HPA, PDB and ServiceMonitor, and one that is missing", () => {
    const objects = render().filter(
      (o) =>
        !(
          o.metadata.name === "dbplane-scheduler" &&
          ["HorizontalPodAutoscaler", "PodDisruptionBudget", "ServiceMonitor"].includes(o.kind)
        ),
    );
    const problems = checkWorkloadPolicy(objects, production, ["scheduler", "billing"]);
    expect(problems).toEqual(
      expect.arrayContaining([
        "production: service billing has no Deployment",
        expect.stringMatching(/scheduler .* needs a PodDisruptionBudget/),
        expect.stringMatching(/scheduler .* needs a ServiceMonitor/),
        expect.stringMatching(/scheduler .* needs a HorizontalPodAutoscaler/),
      ]),
    );
  });

  it("fails a shutdown that cannot finish inside the grace period", () => {
    const objects = render();
    const deployment = objects.find(
      (o) => o.kind === "Deployment" && o.metadata.name === "dbplane-scheduler",
    )!;
    (deployment.spec!.template!.spec as Record<string, unknown>).terminationGracePeriodSeconds = 30;
    expect(checkWorkloadPolicy(objects, production)).toEqual([
      expect.stringContaining("terminationGracePeriodSeconds ≥ 60 (is 30)"),
      expect.stringContaining("must be below terminationGracePeriodSeconds 30"),
    ]);
  });
});
