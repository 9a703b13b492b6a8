import { describeObject, field, type KubeObject } from "./kube-object.ts";

/** What a rendering (a chart values profile or an overlay) promises about each service. */
export interface PolicyProfile {
  readonly name: string;
  /** HPA bounds, or `null` where the profile runs a fixed replica count without an HPA. */
  readonly autoscaling: { readonly minReplicas: number; readonly maxReplicas: number } | null;
  /** Fixed replica count (only checked without an HPA). */
  readonly replicas?: number;
  /** PDB minAvailable (when the profile fixes one). */
  readonly pdbMinAvailable?: number;
  readonly serviceMonitor: boolean;
  readonly networkPolicy: boolean;
}

const PART_OF = "app.kubernetes.io/part-of";
const COMPONENT = "app.kubernetes.io/component";
const MIN_GRACE_SECONDS = 60;

function matches(selector: unknown, labels: Record<string, string> | undefined): boolean {
  if (!selector || typeof selector !== "object" || !labels) return false;
  const entries = Object.entries(selector as Record<string, string>);
  return entries.length > 0 && entries.every(([key, value]) => labels[key] === value);
}

/** The dbplane services in a rendering: Deployments labelled part-of=dbplane, by component. */
export function servicesIn(objects: readonly KubeObject[]): Map<string, KubeObject> {
  const services = new Map<string, KubeObject>();
  for (const object of objects) {
    const labels = object.metadata.labels ?? {};
    if (object.kind === "Deployment" && labels[PART_OF] === "dbplane" && labels[COMPONENT]) {
      services.set(labels[COMPONENT], object);
    }
  }
  return services;
}

/** A container's literal env: its ConfigMaps' (envFrom) overlaid by its own `value` entries. */
export function envOf(objects: readonly KubeObject[], container: unknown): Record<string, string> {
  const env: Record<string, string> = {};
  const sources = (field(container, "envFrom") as unknown[] | undefined) ?? [];
  for (const source of sources) {
    const name = field(source, "configMapRef", "name");
    const map = objects.find((o) => o.kind === "ConfigMap" && o.metadata.name === name);
    Object.assign(env, (field(map, "data") as Record<string, string> | undefined) ?? {});
  }
  for (const entry of (field(container, "env") as unknown[] | undefined) ?? []) {
    const value = field(entry, "value");
    if (typeof value === "string") env[String(field(entry, "name"))] = value;
  }
  return env;
}

function checkContainer(objects: readonly KubeObject[], container: unknown, grace: number): string[] {
  const name = String(field(container, "name"));
  const problems: string[] = [];
  const need = (ok: boolean, what: string) => ok || problems.push(`container ${name}: ${what}`);
  need(
    field(container, "livenessProbe", "httpGet", "path") === "/health/live",
    "livenessProbe GET /health/live",
  );
  need(
    field(container, "readinessProbe", "httpGet", "path") === "/health/ready",
    "readinessProbe GET /health/ready",
  );
  for (const kind of ["requests", "limits"]) {
    for (const resource of ["cpu", "memory"]) {
      need(field(container, "resources", kind, resource) !== undefined, `resources.${kind}.${resource}`);
    }
  }
  const security = (key: string) => field(container, "securityContext", key);
  need(security("runAsNonRoot") === true, "securityContext.runAsNonRoot: true");
  need(security("readOnlyRootFilesystem") === true, "securityContext.readOnlyRootFilesystem: true");
  need(security("allowPrivilegeEscalation") === false, "securityContext.allowPrivilegeEscalation: false");
  const drop = (field(container, "securityContext", "capabilities", "drop") as unknown[] | undefined) ?? [];
  need(drop.includes("ALL"), "securityContext.capabilities.drop: [ALL]");
  const image = String(field(container, "image") ?? "");
  need(
    /:[\w][\w.-]*$|@sha256:/.test(image) && !image.endsWith(":latest"),
    `image pinned by tag, not latest (${image})`,
  );
  const mounts = (field(container, "volumeMounts") as unknown[] | undefined) ?? [];
  need(
    mounts.some((m) => field(m, "mountPath") === "/tmp"),
    "a writable /tmp mount (the root filesystem is read-only)",
  );
  const preStop = field(container, "lifecycle", "preStop");
  need(preStop !== undefined, "a preStop pause");
  // The whole shutdown must fit in the grace period or SIGKILL cuts the drain short.
  const command = (field(preStop, "exec", "command") as string[] | undefined) ?? [];
  const sleep = command[0] === "sleep" ? Number(command[1]) : Number(field(preStop, "sleep", "seconds") ?? 0);
  const env = envOf(objects, container);
  const delay = Number(env.DBPLANE_SHUTDOWN_DELAY_MS ?? 5_000) / 1000;
  const timeout = Number(env.DBPLANE_SHUTDOWN_TIMEOUT_MS ?? 45_000) / 1000;
  need(
    sleep + delay + timeout < grace,
    `preStop ${sleep}s + shutdown delay ${delay}s + timeout ${timeout}s must be below terminationGracePeriodSeconds ${grace}`,
  );
  return problems;
}

function checkDeployment(objects: readonly KubeObject[], deployment: KubeObject): string[] {
  const problems: string[] = [];
  const need = (ok: boolean, what: string) => ok || problems.push(what);
  const pod = field(deployment, "spec", "template", "spec");
  const grace = Number(field(pod, "terminationGracePeriodSeconds") ?? 30);
  need(grace >= MIN_GRACE_SECONDS, `terminationGracePeriodSeconds ≥ ${MIN_GRACE_SECONDS} (is ${grace})`);
  need(field(deployment, "spec", "strategy", "rollingUpdate", "maxSurge") === 1, "rollingUpdate.maxSurge: 1");
  need(
    field(deployment, "spec", "strategy", "rollingUpdate", "maxUnavailable") === 0,
    "rollingUpdate.maxUnavailable: 0",
  );
  need(field(pod, "securityContext", "runAsNonRoot") === true, "pod securityContext.runAsNonRoot: true");
  need(
    field(pod, "affinity", "podAntiAffinity", "preferredDuringSchedulingIgnoredDuringExecution") !==
      undefined,
    "soft pod anti-affinity",
  );
  const account = field(pod, "serviceAccountName");
  need(
    objects.some((o) => o.kind === "ServiceAccount" && o.metadata.name === account),
    `its ServiceAccount ${String(account)}`,
  );
  const containers = (field(pod, "containers") as unknown[] | undefined) ?? [];
  need(containers.length > 0, "containers");
  for (const container of containers) problems.push(...checkContainer(objects, container, grace));
  return problems;
}

function checkCompanions(
  objects: readonly KubeObject[],
  deployment: KubeObject,
  profile: PolicyProfile,
): string[] {
  const problems: string[] = [];
  const podLabels = field(deployment, "spec", "template", "metadata", "labels") as Record<string, string>;
  const selecting = (kind: string, ...path: string[]) =>
    objects.filter((o) => o.kind === kind && matches(field(o, ...path), podLabels));
  const services = selecting("Service", "spec", "selector");
  if (services.length === 0) problems.push("a Service selecting its pods");
  const pdbs = selecting("PodDisruptionBudget", "spec", "selector", "matchLabels");
  if (pdbs.length === 0) problems.push("a PodDisruptionBudget selecting its pods");
  if (profile.pdbMinAvailable !== undefined && pdbs[0]) {
    const minAvailable = field(pdbs[0], "spec", "minAvailable");
    if (minAvailable !== profile.pdbMinAvailable) {
      problems.push(`PDB minAvailable ${profile.pdbMinAvailable} (is ${String(minAvailable)})`);
    }
  }
  if (
    profile.networkPolicy &&
    selecting("NetworkPolicy", "spec", "podSelector", "matchLabels").length === 0
  ) {
    problems.push("a NetworkPolicy selecting its pods");
  }
  if (profile.serviceMonitor) {
    const monitors = objects.filter(
      (o) =>
        o.kind === "ServiceMonitor" &&
        services.some((s) => matches(field(o, "spec", "selector", "matchLabels"), s.metadata.labels)),
    );
    const scrapesMetrics = monitors.some((m) =>
      ((field(m, "spec", "endpoints") as unknown[] | undefined) ?? []).some(
        (e) => field(e, "path") === "/metrics",
      ),
    );
    if (!scrapesMetrics) problems.push("a ServiceMonitor scraping /metrics of its Service");
  }
  const hpas = objects.filter(
    (o) =>
      o.kind === "HorizontalPodAutoscaler" &&
      field(o, "spec", "scaleTargetRef", "kind") === "Deployment" &&
      field(o, "spec", "scaleTargetRef", "name") === deployment.metadata.name,
  );
  if (profile.autoscaling === null) {
    if (hpas.length > 0) problems.push("no HPA in this profile");
    const replicas = field(deployment, "spec", "replicas");
    if (profile.replicas !== undefined && replicas !== profile.replicas) {
      problems.push(`replicas ${profile.replicas} (is ${String(replicas)})`);
    }
    return problems;
  }
  const hpa = hpas[0];
  if (!hpa) return [...problems, "a HorizontalPodAutoscaler targeting it"];
  const { minReplicas, maxReplicas } = profile.autoscaling;
  const spec = (key: string) => field(hpa, "spec", key);
  if (spec("minReplicas") !== minReplicas || spec("maxReplicas") !== maxReplicas) {
    problems.push(
      `HPA ${minReplicas}–${maxReplicas} replicas (is ${String(spec("minReplicas"))}–${String(spec("maxReplicas"))})`,
    );
  }
  const metrics = ((spec("metrics") as unknown[] | undefined) ?? []).map((m) => field(m, "resource", "name"));
  if (!metrics.includes("cpu") || !metrics.includes("memory")) problems.push("HPA on CPU and memory");
  const calm = Number(field(hpa, "spec", "behavior", "scaleDown", "stabilizationWindowSeconds") ?? 0);
  if (calm < 60) problems.push("HPA scale-down stabilization ≥ 60 s (conservative scale-down)");
  if (field(deployment, "spec", "replicas") !== undefined) {
    problems.push("no spec.replicas while an HPA owns the replica count (every apply would reset it)");
  }
  return problems;
}

/**
 * Checks every dbplane service in a rendering against the deployment policy: Deployment +
 * Service + HPA + PDB (+ ServiceMonitor, NetworkPolicy), probes, requests and limits, the
 * restricted security context, the shutdown budget, the rollout strategy, and the profile's
 * replica counts. `expected` lists services that must be present.
 */
export function checkWorkloadPolicy(
  objects: readonly KubeObject[],
  profile: PolicyProfile,
  expected: readonly string[] = [],
): string[] {
  const problems: string[] = [];
  const services = servicesIn(objects);
  for (const name of expected) {
    if (!services.has(name)) problems.push(`${profile.name}: service ${name} has no Deployment`);
  }
  for (const [name, deployment] of services) {
    const found = [...checkDeployment(objects, deployment), ...checkCompanions(objects, deployment, profile)];
    problems.push(...found.map((p) => `${profile.name}: ${name} (${describeObject(deployment)}) needs ${p}`));
  }
  return problems;
}
