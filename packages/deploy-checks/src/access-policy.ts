import { field, type KubeObject } from "./kube-object.ts";
import { checkShardRbac } from "./shard-rbac-policy.ts";
import { checkShardTls } from "./shard-tls-policy.ts";
import { envOf, servicesIn } from "./workload-policy.ts";

/** Pods of a server dbplane depends on (NATS, Redis, PostgreSQL), by the labels they carry. */
export interface InfrastructurePods {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** What a rendering promises about who may reach what (issue 16, item 7). */
export interface AccessProfile {
  readonly name: string;
  /** NetworkPolicies are part of this rendering (shards get theirs from the provisioner). */
  readonly networkPolicy: boolean;
  /** Subchart pods the rendering does not contain but must protect (their chart is not rendered offline). */
  readonly infrastructure?: readonly InfrastructurePods[];
  /** Namespace of objects that name none (`helm template -n`). Default `dbplane`. */
  readonly releaseNamespace?: string;
}

/** Services that connect to shards: the shards' NetworkPolicies admit them by this label. */
const SHARD_CLIENTS = ["router", "collector", "provisioner"] as const;
const SHARD_CLIENT_LABEL = "dbplane.io/shard-client";
/** Only the provisioner, which owns the shards' Secrets, may list or write Secrets. */
const SECRET_OWNER = "provisioner";
/** They read shard Secrets only through the provisioner's per-shard Roles (resourceNames). */
const SHARD_SECRET_READERS = ["router", "collector"] as const;
const OPEN_NETWORKS = new Set(["0.0.0.0/0", "::/0"]);

type Rule = { apiGroups?: string[]; resources?: string[]; verbs?: string[]; resourceNames?: string[] };

const rulesOf = (role: KubeObject) => (field(role, "rules") as Rule[] | undefined) ?? [];
const touchesSecrets = (rule: Rule) =>
  (rule.apiGroups ?? []).some((g) => g === "" || g === "*") &&
  (rule.resources ?? []).some((r) => r === "secrets" || r === "*");
const beyondGet = (rule: Rule) => (rule.verbs ?? []).some((v) => v !== "get");
/**
 * Opens Secrets beyond named ones: any verb but `create` without resourceNames. `create` cannot be
 * limited to a name (the API has none to check yet) and reads nothing.
 */
const opensSecrets = (rule: Rule) =>
  touchesSecrets(rule) && !rule.resourceNames?.length && (rule.verbs ?? []).some((v) => v !== "create");

function subset(selector: unknown, labels: Readonly<Record<string, string>>): boolean {
  if (!selector || typeof selector !== "object") return false;
  const entries = Object.entries(selector as Record<string, string>);
  return entries.length > 0 && entries.every(([key, value]) => labels[key] === value);
}

/** No ClusterRole touches Secrets: cluster-wide reads would reach every tenant's passwords. */
function checkClusterRoles(objects: readonly KubeObject[]): string[] {
  return objects
    .filter((o) => o.kind === "ClusterRole" && rulesOf(o).some(touchesSecrets))
    .map(
      (o) =>
        `ClusterRole/${o.metadata.name} grants ${rulesOf(o)
          .filter(touchesSecrets)
          .flatMap((r) => r.verbs ?? [])
          .join("/")} on Secrets cluster-wide (a Role in a listed namespace, get by name, is enough)`,
    );
}

/** Each service's Roles that touch Secrets, with the namespace they apply in. */
function secretRolesByService(objects: readonly KubeObject[], releaseNamespace: string) {
  const roles = new Map(
    objects.filter((o) => o.kind === "Role").map((o) => [`${o.metadata.namespace}/${o.metadata.name}`, o]),
  );
  const found = new Map<string, { role: KubeObject; namespace: string }[]>();
  for (const binding of objects.filter((o) => o.kind === "RoleBinding")) {
    const ref = field(binding, "roleRef") as { kind?: string; name?: string } | undefined;
    const role = ref?.kind === "Role" ? roles.get(`${binding.metadata.namespace}/${ref.name}`) : undefined;
    if (!role || !rulesOf(role).some(touchesSecrets)) continue;
    for (const subject of (field(binding, "subjects") as { kind?: string; name?: string }[] | undefined) ??
      []) {
      if (subject.kind !== "ServiceAccount" || !subject.name) continue;
      const list = found.get(subject.name) ?? [];
      list.push({ role, namespace: role.metadata.namespace ?? releaseNamespace });
      found.set(subject.name, list);
    }
  }
  return found;
}

/** `router=<sa>,collector=<sa>` of the provisioner's DBPLANE_KUBE_SECRET_READERS, as name → account. */
function secretReadersOf(objects: readonly KubeObject[]): Map<string, string> {
  const provisioner = servicesIn(objects).get(SECRET_OWNER);
  const container = ((field(provisioner, "spec", "template", "spec", "containers") as
    | unknown[]
    | undefined) ?? [])[0];
  const entries = (envOf(objects, container).DBPLANE_KUBE_SECRET_READERS ?? "").split(",").filter(Boolean);
  return new Map(entries.map((entry) => entry.split("=") as [string, string]));
}

function checkService(
  objects: readonly KubeObject[],
  name: string,
  deployment: KubeObject,
  profile: AccessProfile,
  secretRoles: ReturnType<typeof secretRolesByService>,
  readers: ReadonlyMap<string, string>,
): string[] {
  const problems: string[] = [];
  const releaseNamespace = profile.releaseNamespace ?? "dbplane";
  const own = deployment.metadata.namespace ?? releaseNamespace;
  const pod = field(deployment, "spec", "template", "spec");
  const account = String(field(pod, "serviceAccountName"));
  const container = ((field(pod, "containers") as unknown[] | undefined) ?? [])[0];
  const env = envOf(objects, container);
  const shardNamespace = env.DBPLANE_KUBE_NAMESPACE;
  for (const { role, namespace } of secretRoles.get(account) ?? []) {
    const where = `Role/${role.metadata.name} (${namespace})`;
    if (namespace === own && rulesOf(role).some(opensSecrets))
      problems.push(`${where} opens the Secrets of its own namespace (the JWT key, the platform's URLs)`);
    if (name !== SECRET_OWNER && rulesOf(role).filter(touchesSecrets).some(beyondGet))
      problems.push(`${where} lets it list, watch or write Secrets (get by name only)`);
    if ((SHARD_SECRET_READERS as readonly string[]).includes(name))
      problems.push(`${where} opens Secrets by namespace (only the provisioner's per-shard Roles, by name)`);
  }
  if ((SHARD_SECRET_READERS as readonly string[]).includes(name) && readers.get(name) !== account)
    problems.push(`a per-shard Role from the provisioner (DBPLANE_KUBE_SECRET_READERS ${name}=${account})`);
  if ((SHARD_CLIENTS as readonly string[]).includes(name)) {
    if (!shardNamespace || shardNamespace === own)
      problems.push(`DBPLANE_KUBE_NAMESPACE: the shards' own namespace, not ${own}`);
    const labels = (field(deployment, "spec", "template", "metadata", "labels") ?? {}) as Record<
      string,
      string
    >;
    if (profile.networkPolicy && labels[SHARD_CLIENT_LABEL] !== "true")
      problems.push(`pod label ${SHARD_CLIENT_LABEL}=true (the shards' NetworkPolicies admit it)`);
  }
  if (name === "provisioner") {
    const cidrs = (env.DBPLANE_KUBE_POD_CIDRS ?? "").split(",").map((c) => c.trim());
    if (!env.DBPLANE_KUBE_POD_CIDRS || cidrs.some((c) => OPEN_NETWORKS.has(c)))
      problems.push("DBPLANE_KUBE_POD_CIDRS: the pod network, never 0.0.0.0/0 or ::/0 (shards' pg_hba)");
    if (profile.networkPolicy && env.DBPLANE_KUBE_NETWORK_POLICY === "false")
      problems.push("DBPLANE_KUBE_NETWORK_POLICY not false (each shard gets a NetworkPolicy)");
  }
  const usesApi =
    readers.get(name) === account ||
    objects.some(
      (o) =>
        (o.kind === "RoleBinding" || o.kind === "ClusterRoleBinding") &&
        ((field(o, "subjects") as { name?: string }[] | undefined) ?? []).some((s) => s.name === account),
    );
  if (!usesApi && field(pod, "automountServiceAccountToken") !== false)
    problems.push("automountServiceAccountToken: false (it has no Role: a token would only be loot)");
  return problems.map((p) => `${profile.name}: ${name} needs ${p}`);
}

/** Every server pod that is not a dbplane service is selected by a NetworkPolicy with no open rule. */
function checkInfrastructure(objects: readonly KubeObject[], profile: AccessProfile): string[] {
  if (!profile.networkPolicy) return [];
  const rendered: InfrastructurePods[] = objects
    .filter(
      (o) =>
        (o.kind === "Deployment" || o.kind === "StatefulSet") &&
        o.metadata.labels?.["app.kubernetes.io/part-of"] !== "dbplane",
    )
    .map((o) => ({
      name: `${o.kind}/${o.metadata.name}`,
      labels: (field(o, "spec", "template", "metadata", "labels") ?? {}) as Record<string, string>,
    }));
  const policies = objects.filter((o) => o.kind === "NetworkPolicy");
  return [...(profile.infrastructure ?? []), ...rendered].flatMap(({ name, labels }) => {
    const selecting = policies.filter((p) => subset(field(p, "spec", "podSelector", "matchLabels"), labels));
    if (selecting.length === 0) return [`${profile.name}: ${name} needs a NetworkPolicy selecting its pods`];
    const open = selecting.filter((p) =>
      ((field(p, "spec", "ingress") as { from?: unknown[] }[] | undefined) ?? []).some(
        (rule) => !rule.from || rule.from.length === 0,
      ),
    );
    return open.map((p) => `${profile.name}: NetworkPolicy/${p.metadata.name} admits anyone to ${name}`);
  });
}

/**
 * Least privilege between dbplane's parts (issue 16, item 7): no ClusterRole touches Secrets; no
 * service reads the Secrets of its own namespace; the router and collector have no Secret access
 * of their own but a per-shard Role from the provisioner naming exactly their Secrets
 * (DBPLANE_KUBE_SECRET_READERS); services without a Role mount no token; the provisioner gives
 * shards a pod-network pg_hba and NetworkPolicies that admit the labelled shard clients; NATS,
 * Redis and PostgreSQL pods are behind NetworkPolicies; shard TLS is wired ({@link checkShardTls});
 * the provisioner may write every kind of a shard, its PodDisruptionBudget too ({@link checkShardRbac}).
 */
export function checkAccessPolicy(objects: readonly KubeObject[], profile: AccessProfile): string[] {
  const secretRoles = secretRolesByService(objects, profile.releaseNamespace ?? "dbplane");
  const readers = secretReadersOf(objects);
  return [
    ...checkClusterRoles(objects).map((p) => `${profile.name}: ${p}`),
    ...[...servicesIn(objects)].flatMap(([name, deployment]) =>
      checkService(objects, name, deployment, profile, secretRoles, readers),
    ),
    ...checkInfrastructure(objects, profile),
    ...checkShardTls(objects, profile),
    ...checkShardRbac(objects, profile),
  ];
}
