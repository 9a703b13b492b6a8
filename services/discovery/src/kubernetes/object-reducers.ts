import type {
  KubernetesObject,
  V1Container,
  V1PodTemplateSpec,
  V1Secret,
  V1Service,
} from "@kubernetes/client-node";
import type {
  ConfigMap,
  ContainerSpec,
  EnvFrom,
  EnvVar,
  Labels,
  OperatorCluster,
  SecretKeys,
  Service,
  Workload,
} from "../domain/cluster-objects.ts";
import { secretHints } from "../domain/secret-hints.ts";

/** ConfigMap values longer than this are config files, not settings: dropped at the door. */
export const MAX_CONFIG_VALUE_BYTES = 2_048;

type Raw = KubernetesObject & Record<string, unknown>;

function ref(obj: KubernetesObject, kind: string) {
  return {
    kind,
    namespace: obj.metadata?.namespace ?? "",
    name: obj.metadata?.name ?? "",
    uid: obj.metadata?.uid ?? "",
  };
}

const labelsOf = (labels: unknown): Labels =>
  labels && typeof labels === "object"
    ? Object.fromEntries(Object.entries(labels).filter(([, v]) => typeof v === "string"))
    : {};

/** The array at `value`, its non-object entries dropped: malformed specs read as empty, never throw. */
function listOf<T>(value: unknown): T[] {
  return Array.isArray(value) ? value.filter((v) => v !== null && typeof v === "object") : [];
}

function named(r: { name?: unknown; key?: unknown } | undefined): r is { name: string; key: string } {
  return typeof r?.name === "string" && typeof r.key === "string" && r.name !== "" && r.key !== "";
}

function containerOf(c: V1Container): ContainerSpec {
  const env: EnvVar[] = [];
  for (const e of listOf<NonNullable<V1Container["env"]>[number]>(c.env)) {
    if (typeof e.name !== "string" || e.name === "") continue;
    const cm = e.valueFrom?.configMapKeyRef;
    const secret = e.valueFrom?.secretKeyRef;
    if (named(cm)) env.push({ name: e.name, source: "configmap", object: cm.name, key: cm.key });
    else if (named(secret))
      env.push({ name: e.name, source: "secret", object: secret.name, key: secret.key });
    else if (!e.valueFrom) env.push({ name: e.name, source: "literal", value: String(e.value ?? "") });
  }
  const envFrom: EnvFrom[] = listOf<NonNullable<V1Container["envFrom"]>[number]>(c.envFrom).flatMap(
    (f): EnvFrom[] => {
      const prefix = typeof f.prefix === "string" ? f.prefix : "";
      if (typeof f.configMapRef?.name === "string")
        return [{ source: "configmap", object: f.configMapRef.name, prefix }];
      if (typeof f.secretRef?.name === "string")
        return [{ source: "secret", object: f.secretRef.name, prefix }];
      return [];
    },
  );
  const ports = listOf<{ containerPort?: unknown }>(c.ports)
    .map((p) => Number(p.containerPort))
    .filter(Number.isInteger);
  return {
    name: String(c.name ?? ""),
    image: typeof c.image === "string" ? c.image : "",
    ports,
    env,
    envFrom,
  };
}

/** A Deployment, StatefulSet or DaemonSet as discovery needs it. Malformed parts read as empty. */
export function toWorkload(obj: Raw, kind: string): Workload {
  const spec = (obj.spec ?? {}) as { template?: V1PodTemplateSpec; serviceName?: string };
  const pod = spec.template?.spec;
  // Sidecars (init containers that keep running) are containers too.
  const containers = [
    ...listOf<V1Container>(pod?.initContainers).filter((c) => c.restartPolicy === "Always"),
    ...listOf<V1Container>(pod?.containers),
  ];
  return {
    ...ref(obj, kind),
    labels: labelsOf(obj.metadata?.labels),
    annotations: labelsOf(obj.metadata?.annotations),
    podLabels: labelsOf(spec.template?.metadata?.labels),
    containers: containers.map(containerOf),
    ...(typeof spec.serviceName === "string" && spec.serviceName && { serviceName: spec.serviceName }),
    owners: listOf<{ kind?: string; uid?: string }>(obj.metadata?.ownerReferences).map(
      (o) => `${o.kind}/${o.uid}`,
    ),
  };
}

export function toService(obj: V1Service): Service {
  return {
    ...ref(obj, "Service"),
    labels: labelsOf(obj.metadata?.labels),
    selector: labelsOf(obj.spec?.selector),
    ports: listOf<NonNullable<NonNullable<V1Service["spec"]>["ports"]>[number]>(obj.spec?.ports).map((p) => ({
      port: Number(p.port),
      ...(p.targetPort !== undefined && { targetPort: p.targetPort as number | string }),
      ...(p.name && { name: p.name }),
    })),
    headless: obj.spec?.clusterIP === "None",
  };
}

const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

/**
 * What no kind needs kept: managed fields, status, and kubectl's last-applied annotation — a full
 * copy of the object as applied, which for a Secret holds its values in plain text.
 */
export function reduceCommon(obj: Raw): void {
  if (obj.metadata) {
    delete obj.metadata.managedFields;
    if (obj.metadata.annotations) delete obj.metadata.annotations[LAST_APPLIED];
  }
  delete obj.status;
}

/** Drops a ConfigMap's binary data and oversized values in place, so the cache holds settings only. */
export function reduceConfigMap(obj: Raw): void {
  delete obj.binaryData;
  const data = (obj.data ?? {}) as Record<string, unknown>;
  for (const [key, value] of Object.entries(data)) {
    if (typeof value !== "string" || Buffer.byteLength(value) > MAX_CONFIG_VALUE_BYTES) delete data[key];
  }
}

export function toConfigMap(obj: Raw): ConfigMap {
  return { ...ref(obj, "ConfigMap"), data: labelsOf(obj.data) };
}

const HINTS = "dbplane.io/connection-hints";

/**
 * Replaces a Secret's values, in place and before anything keeps it, with the connection hints
 * they give (host, port, database name) and the key names: the informer's cache, the snapshot and
 * everything after never hold a password.
 */
export function reduceSecret(obj: V1Secret): void {
  if ((obj as Raw)[HINTS] !== undefined) return;
  const data = obj.data ?? {};
  const hints = secretHints(data, (raw) => Buffer.from(raw, "base64").toString("utf8"));
  const keys = Object.keys(data).concat(Object.keys(obj.stringData ?? {}));
  obj.data = Object.fromEntries(keys.map((k) => [k, ""]));
  delete obj.stringData;
  (obj as Raw)[HINTS] = hints;
}

export function toSecretKeys(obj: V1Secret): SecretKeys {
  return {
    ...ref(obj, "Secret"),
    keys: Object.keys(obj.data ?? {}),
    hints: ((obj as Raw)[HINTS] ?? {}) as SecretKeys["hints"],
  };
}

export function toOperatorCluster(obj: Raw, operator: string, kind: string): OperatorCluster {
  const spec = obj.spec && typeof obj.spec === "object" ? (obj.spec as Record<string, unknown>) : {};
  return { ...ref(obj, kind), operator, labels: labelsOf(obj.metadata?.labels), spec };
}
