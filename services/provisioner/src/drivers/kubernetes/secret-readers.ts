import type { KubernetesObject } from "@kubernetes/client-node";
import { appSecretName } from "./app-role-container.ts";
import { shardLabels, shardNames } from "./shard-manifests.ts";

/**
 * The platform's ServiceAccounts that read shard Secrets, in the platform's namespace. Each gets,
 * per shard, a Role naming exactly the Secrets it needs (resourceNames) — so the collector can
 * read a shard's monitoring password and the router its reshard role's, but neither its superuser's, and neither reads a Secret of
 * the release or of a database it was not told about.
 */
export interface SecretReaders {
  readonly namespace: string;
  /** The router: the shard's reshard Secret (no superuser's) and the database's app Secret. */
  readonly router?: string | undefined;
  /** The collector: the shard's monitoring Secret only. */
  readonly collector?: string | undefined;
}

function readerRole(
  name: string,
  namespace: string,
  labels: Record<string, string>,
  secrets: readonly string[],
  account: { namespace: string; name: string },
): KubernetesObject[] {
  return [
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name, namespace, labels },
      rules: [{ apiGroups: [""], resources: ["secrets"], verbs: ["get"], resourceNames: [...secrets] }],
    } as KubernetesObject,
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name, namespace, labels },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
      subjects: [{ kind: "ServiceAccount", name: account.name, namespace: account.namespace }],
    } as KubernetesObject,
  ];
}

/** The Roles and RoleBindings that let each configured reader get its Secrets of one shard. */
export function secretReaderRoles(
  database: string,
  shard: number,
  namespace: string,
  readers: SecretReaders,
): KubernetesObject[] {
  const names = shardNames(database, shard);
  const labels = shardLabels(database, shard);
  const account = (name: string) => ({ namespace: readers.namespace, name });
  return [
    ...(readers.router
      ? readerRole(
          `${names.statefulSet}-router`,
          namespace,
          labels,
          [names.reshardSecret, appSecretName(database)],
          account(readers.router),
        )
      : []),
    ...(readers.collector
      ? readerRole(
          `${names.statefulSet}-collector`,
          namespace,
          labels,
          [names.monitorSecret],
          account(readers.collector),
        )
      : []),
  ];
}
