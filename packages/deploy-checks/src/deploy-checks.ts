import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { checkAccessPolicy, type InfrastructurePods } from "./access-policy.ts";
import { checkAlertRules, testAlertRules } from "./alert-rules.ts";
import { type CheckResult, runCheck } from "./check-result.ts";
import { lintDockerfile } from "./dockerfile-lint.ts";
import { lintChart, renderChart } from "./helm-chart.ts";
import { validateAgainstSchemas } from "./kube-schema.ts";
import { renderKustomization } from "./kustomize.ts";
import { checkKustomizeBaseCurrent } from "./kustomize-base.ts";
import { checkChartNatsUsers, checkNatsPermissionsCurrent } from "./nats-permissions-file.ts";
import { LAYOUT } from "./repo-layout.ts";
import { checkServiceRegistry, discoverServiceFolders } from "./service-registry.ts";
import { coalesceValues, readValues, validateValues } from "./values-schema.ts";
import { checkWorkloadPolicy, type PolicyProfile } from "./workload-policy.ts";

export interface DeployCheckOptions {
  /** Repository root (default: the one this package lives in). */
  readonly root: string;
}

const STANDARD = { serviceMonitor: true, networkPolicy: true } as const;

/** Chart values profiles: the file applied over values.yaml and what its rendering promises. */
const CHART_PROFILES: readonly (PolicyProfile & { file?: string })[] = [
  { name: "chart (values.yaml)", autoscaling: { minReplicas: 2, maxReplicas: 6 }, ...STANDARD },
  {
    name: "chart (values-dev.yaml)",
    file: "values-dev.yaml",
    autoscaling: null,
    replicas: 1,
    serviceMonitor: false,
    networkPolicy: false,
  },
  {
    name: "chart (values-staging.yaml)",
    file: "values-staging.yaml",
    autoscaling: { minReplicas: 2, maxReplicas: 4 },
    ...STANDARD,
  },
  {
    name: "chart (values-production.yaml)",
    file: "values-production.yaml",
    autoscaling: { minReplicas: 3, maxReplicas: 10 },
    pdbMinAvailable: 2,
    ...STANDARD,
  },
  {
    name: "chart (ci/rbac-values.yaml)",
    file: "ci/rbac-values.yaml",
    autoscaling: { minReplicas: 2, maxReplicas: 6 },
    ...STANDARD,
  },
];

/** What each kustomize overlay promises (issue: dev 1 / no HPA, staging 2–4, production 3–10). */
const OVERLAY_PROFILES: Record<(typeof LAYOUT.overlayNames)[number], PolicyProfile> = {
  dev: { name: "overlay dev", autoscaling: null, replicas: 1, ...STANDARD },
  staging: { name: "overlay staging", autoscaling: { minReplicas: 2, maxReplicas: 4 }, ...STANDARD },
  production: {
    name: "overlay production",
    autoscaling: { minReplicas: 3, maxReplicas: 10 },
    pdbMinAvailable: 2,
    ...STANDARD,
  },
};

/** Every key under `defaults:` is read by some template (a key no template reads is a lie). */
function checkTemplatesReadDefaults(chartDir: string): string[] {
  const defaults = readValues(join(chartDir, "values.yaml")).defaults as Record<string, unknown>;
  const templates = readdirSync(join(chartDir, "templates"))
    .map((file) => readFileSync(join(chartDir, "templates", file), "utf8"))
    .join("\n");
  return Object.keys(defaults)
    .filter((key) => !new RegExp(`\\$svc\\.${key}\\b|\\.svc\\.${key}\\b`).test(templates))
    .map((key) => `values.yaml defaults.${key} is read by no template`);
}

function natsAuthSecretName(chartDir: string): string {
  const natsAuth = readValues(join(chartDir, "values.yaml")).natsAuth as { secretName?: unknown } | undefined;
  if (typeof natsAuth?.secretName !== "string") throw new Error("values.yaml has no natsAuth.secretName");
  return natsAuth.secretName;
}

function checkDashboards(chartDir: string): string[] {
  const dir = join(chartDir, "dashboards");
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".json")) : [];
  if (files.length === 0) return ["no Grafana dashboard in helm/dbplane/dashboards"];
  return files.flatMap((file) => {
    try {
      const dashboard = JSON.parse(readFileSync(join(dir, file), "utf8")) as {
        uid?: string;
        title?: string;
        panels?: { id?: number; targets?: { expr?: string }[] }[];
      };
      const ids = (dashboard.panels ?? []).map((p) => p.id);
      const problems: string[] = [];
      if (!dashboard.uid || !dashboard.title) problems.push(`${file}: needs uid and title`);
      if (new Set(ids).size !== ids.length) problems.push(`${file}: duplicate panel ids`);
      for (const panel of dashboard.panels ?? []) {
        for (const target of panel.targets ?? []) {
          if (!target.expr?.trim()) problems.push(`${file}: panel ${panel.id} has an empty query`);
        }
      }
      return problems;
    } catch (err) {
      return [`${file}: ${(err as Error).message}`];
    }
  });
}

/** The labels the nats and Bitnami subcharts give their server pods (release `dbplane`). */
const SUBCHART_PODS = ["nats", "redis", "postgresql"] as const;

/** The subcharts a chart profile enables: their pods must be behind a NetworkPolicy. */
function subchartPods(chartDir: string, file: string | undefined): InfrastructurePods[] {
  const base = readValues(join(chartDir, "values.yaml"));
  const values = file ? coalesceValues(base, readValues(join(chartDir, file))) : base;
  return SUBCHART_PODS.filter((name) => (values[name] as { enabled?: boolean } | undefined)?.enabled).map(
    (name) => ({
      name: `${name} (subchart)`,
      labels: { "app.kubernetes.io/name": name, "app.kubernetes.io/instance": "dbplane" },
    }),
  );
}

/**
 * Runs every offline deployment check and returns one result per check (problems empty when
 * it passed). Nothing here needs a cluster, a registry or a container runtime.
 */
export async function runDeployChecks(options: DeployCheckOptions): Promise<CheckResult[]> {
  const { root } = options;
  const chartDir = join(root, LAYOUT.chart);
  const services = discoverServiceFolders(root).map((s) => s.name);
  const results: CheckResult[] = [];
  const add = async (name: string, body: () => Promise<readonly string[]> | readonly string[]) => {
    results.push(await runCheck(name, body));
  };
  const valueFiles = CHART_PROFILES.flatMap((p) => (p.file ? [join(chartDir, p.file)] : []));

  await add("service registry (services/*, values.yaml, overlays, Tiltfile)", () =>
    checkServiceRegistry(root),
  );
  await add("values.schema.json validates the values files", () =>
    validateValues(join(chartDir, "values.schema.json"), join(chartDir, "values.yaml"), valueFiles),
  );
  await add("chart templates read every defaults: key", () => checkTemplatesReadDefaults(chartDir));
  await add("Grafana dashboards", () => checkDashboards(chartDir));
  for (const profile of CHART_PROFILES) {
    const files = profile.file ? [join(chartDir, profile.file)] : [];
    await add(`helm lint --strict: ${profile.name}`, () => lintChart(chartDir, files));
    await add(`schemas and policy: ${profile.name}`, async () => {
      const objects = renderChart(chartDir, { valuesFiles: files });
      return [...(await validateAgainstSchemas(objects)), ...checkWorkloadPolicy(objects, profile, services)];
    });
    await add(`access (RBAC, NetworkPolicies, shards): ${profile.name}`, () =>
      checkAccessPolicy(renderChart(chartDir, { valuesFiles: files }), {
        ...profile,
        infrastructure: subchartPods(chartDir, profile.file),
      }),
    );
  }
  await add("promtool check rules + test rules (PrometheusRule)", () => {
    const objects = renderChart(chartDir);
    const checked = checkAlertRules(objects);
    return checked.length > 0 ? checked : testAlertRules(objects, join(chartDir, "tests/alerts.test.yaml"));
  });
  await add("NATS users: permissions file current, one user per service in the chart", () => [
    ...checkNatsPermissionsCurrent(root),
    ...checkChartNatsUsers(renderChart(chartDir), natsAuthSecretName(chartDir)),
  ]);
  await add("kustomize base is the chart's current rendering", () => checkKustomizeBaseCurrent(root));
  for (const overlay of LAYOUT.overlayNames) {
    const profile = OVERLAY_PROFILES[overlay];
    await add(`kubectl kustomize, schemas and policy: ${profile.name}`, async () => {
      const objects = renderKustomization(join(root, LAYOUT.overlays, overlay));
      return [
        ...(await validateAgainstSchemas(objects)),
        ...checkWorkloadPolicy(objects, profile, services),
        ...checkAccessPolicy(objects, profile),
      ];
    });
  }
  await add("kubectl kustomize and schemas: tilt/kustomize (live-update variant of dev)", async () =>
    validateAgainstSchemas(renderKustomization(join(root, "tilt/kustomize"))),
  );
  const dockerfile = join(root, "Dockerfile");
  await add("Dockerfile lint: Dockerfile (every service's image, --build-arg SERVICE)", () =>
    existsSync(dockerfile) ? lintDockerfile(readFileSync(dockerfile, "utf8")) : ["missing"],
  );
  return results;
}
