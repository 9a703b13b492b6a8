import { field, type KubeObject } from "./kube-object.ts";
import { containerOf, grants, podOf, rulesBoundTo } from "./shard-tls-policy.ts";
import { envOf, servicesIn } from "./workload-policy.ts";

/**
 * What the Kubernetes driver writes in the shards' namespace, as `[apiGroup, resource]`: it
 * server-side applies them (get, patch) and deletes them by label (list, delete). Kept with the
 * driver's kinds (services/provisioner/src/drivers/kubernetes): a kind it applies that its Role
 * lacks fails every reconcile pass with 403.
 */
const SHARD_RESOURCES = [
  ["apps", "statefulsets"],
  ["policy", "poddisruptionbudgets"],
  ["", "services"],
  ["", "secrets"],
  ["", "configmaps"],
  ["batch", "jobs"],
  ["rbac.authorization.k8s.io", "roles"],
  ["rbac.authorization.k8s.io", "rolebindings"],
] as const;
const VERBS = ["get", "list", "patch", "delete"] as const;

/**
 * The provisioner of the `kubernetes` driver may apply and delete every kind of a shard
 * (StatefulSet, PodDisruptionBudget, Services, Secrets, …) in the shards' namespace
 * (DBPLANE_KUBE_NAMESPACE), NetworkPolicies too unless DBPLANE_KUBE_NETWORK_POLICY is false.
 */
export function checkShardRbac(
  objects: readonly KubeObject[],
  profile: { readonly name: string; readonly releaseNamespace?: string },
): string[] {
  const provisioner = servicesIn(objects).get("provisioner");
  const env = provisioner ? envOf(objects, containerOf(provisioner)) : {};
  if (!provisioner || env.DBPLANE_PROVISIONER_DRIVER !== "kubernetes") return [];
  const shards = env.DBPLANE_KUBE_NAMESPACE ?? provisioner.metadata.namespace ?? "dbplane";
  const account = String(field(podOf(provisioner), "serviceAccountName"));
  const rules = rulesBoundTo(objects, account, profile.releaseNamespace ?? "dbplane")
    .filter(({ namespace }) => namespace === shards)
    .map(({ rule }) => rule);
  const needed = [
    ...SHARD_RESOURCES,
    ...(env.DBPLANE_KUBE_NETWORK_POLICY === "false"
      ? []
      : [["networking.k8s.io", "networkpolicies"] as const]),
  ];
  return needed.flatMap(([group, resource]) => {
    const missing = VERBS.filter((verb) => !rules.some((rule) => grants(rule, group, resource, verb)));
    return missing.length
      ? [
          `${profile.name}: provisioner needs ${missing.join(", ")} on ${group || "core"}/${resource} in the shards' namespace ${shards}`,
        ]
      : [];
  });
}
