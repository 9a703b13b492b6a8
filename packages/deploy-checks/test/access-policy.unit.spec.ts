import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type AccessProfile,
  checkAccessPolicy,
  type KubeObject,
  REPO_ROOT,
  renderChart,
  renderKustomization,
} from "@dbplane/deploy-checks";
import { afterAll, describe, expect, it } from "vitest";

const chartDir = join(REPO_ROOT, "helm/dbplane");
const dir = mkdtempSync(join(tmpdir(), "dbplane-access-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const subcharts = ["nats", "redis", "postgresql"].map((name) => ({
  name,
  labels: { "app.kubernetes.io/name": name, "app.kubernetes.io/instance": "dbplane" },
}));
const chartProfile: AccessProfile = { name: "chart", networkPolicy: true, infrastructure: subcharts };

/** The chart rendered with `values` (YAML) over values.yaml. */
function chartWith(values = ""): KubeObject[] {
  const file = join(dir, `values-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, values);
  return structuredClone(renderChart(chartDir, { valuesFiles: [file] }));
}

describe("access policy (issue 16, item 7)", () => {
  it("passes on the chart's values and on the overlays", () => {
    expect(checkAccessPolicy(chartWith(), chartProfile)).toEqual([]);
    for (const overlay of ["dev", "production"]) {
      const objects = renderKustomization(join(REPO_ROOT, "k8s/overlays", overlay));
      expect(checkAccessPolicy(objects, { name: overlay, networkPolicy: true })).toEqual([]);
    }
  });

  it("refuses a ClusterRole that lists or watches Secrets (discovery's, before)", () => {
    const objects = chartWith(`
services:
  discovery:
    rbac:
      clusterRules:
        - apiGroups: [""]
          resources: [services, configmaps, secrets]
          verbs: [get, list, watch]
`);
    expect(checkAccessPolicy(objects, chartProfile)).toEqual([
      expect.stringMatching(
        /ClusterRole\/dbplane-discovery-dbplane grants get\/list\/watch on Secrets cluster-wide/,
      ),
    ]);
  });

  it("refuses the router's and collector's Secret access by namespace (the Role they had), and no per-shard Role", () => {
    const objects = chartWith(`
services:
  router:
    rbac:
      shardSecretReader: false
      rules: [{ apiGroups: [""], resources: [secrets], verbs: [get] }]
  collector:
    rbac:
      shardRules: [{ apiGroups: [""], resources: [secrets], verbs: [get, list] }]
`);
    const problems = checkAccessPolicy(objects, chartProfile);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /router needs Role\/dbplane-router \(dbplane\) opens the Secrets of its own namespace/,
        ),
        expect.stringMatching(/router needs Role\/dbplane-router \(dbplane\) opens Secrets by namespace/),
        expect.stringMatching(
          /router needs a per-shard Role from the provisioner \(DBPLANE_KUBE_SECRET_READERS/,
        ),
        expect.stringMatching(
          /collector needs Role\/dbplane-collector-shards .* list, watch or write Secrets/,
        ),
        expect.stringMatching(/collector needs Role\/dbplane-collector-shards .* opens Secrets by namespace/),
      ]),
    );
  });

  it("refuses shards in the release namespace, a world-open pg_hba and unlabelled shard clients", () => {
    const objects = chartWith(`
shards:
  namespace: dbplane
  podCidrs: [10.244.0.0/16, 0.0.0.0/0]
services:
  router:
    podLabels: { dbplane.io/shard-client: "false" }
`);
    const problems = checkAccessPolicy(objects, chartProfile);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/provisioner needs DBPLANE_KUBE_NAMESPACE: the shards' own namespace/),
        expect.stringMatching(
          /provisioner needs DBPLANE_KUBE_POD_CIDRS: the pod network, never 0\.0\.0\.0\/0/,
        ),
        expect.stringMatching(/router needs pod label dbplane\.io\/shard-client=true/),
      ]),
    );
  });

  it("refuses NATS, Redis and PostgreSQL without a NetworkPolicy, or with one that admits anyone", () => {
    const objects = chartWith().filter(
      (o) => !(o.kind === "NetworkPolicy" && o.metadata.name === "dbplane-nats"),
    );
    const redis = objects.find((o) => o.kind === "NetworkPolicy" && o.metadata.name === "dbplane-redis") as
      | (KubeObject & { spec: { ingress: { from?: unknown[] }[] } })
      | undefined;
    delete redis!.spec.ingress[0]!.from;
    expect(checkAccessPolicy(objects, chartProfile)).toEqual([
      "chart: nats needs a NetworkPolicy selecting its pods",
      "chart: NetworkPolicy/dbplane-redis admits anyone to redis",
    ]);
    const dev = renderKustomization(join(REPO_ROOT, "k8s/overlays/dev")).filter(
      (o) => !(o.kind === "NetworkPolicy" && o.metadata.name === "postgres"),
    );
    expect(checkAccessPolicy(dev, { name: "dev", networkPolicy: true })).toEqual([
      "dev: Deployment/postgres needs a NetworkPolicy selecting its pods",
    ]);
  });

  it("refuses a service token mounted where no Role is bound", () => {
    const objects = chartWith();
    const scheduler = objects.find(
      (o) => o.kind === "Deployment" && o.metadata.name === "dbplane-scheduler",
    ) as (KubeObject & { spec: { template: { spec: Record<string, unknown> } } }) | undefined;
    scheduler!.spec.template.spec.automountServiceAccountToken = true;
    expect(checkAccessPolicy(objects, chartProfile)).toEqual([
      expect.stringMatching(/scheduler needs automountServiceAccountToken: false/),
    ]);
  });
});
