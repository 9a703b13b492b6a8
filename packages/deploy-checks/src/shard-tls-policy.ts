import { field, type KubeObject } from "./kube-object.ts";
import { envOf, servicesIn } from "./workload-policy.ts";

/** Services that connect to provisioned shards and must verify them (verify-full). */
const SHARD_TLS_CLIENTS = ["router", "collector"] as const;
/** The provisioner's default for DBPLANE_KUBE_SHARD_CA. */
const DEFAULT_CA_NAME = "dbplane-shard-ca";

type Rule = { apiGroups?: string[]; resources?: string[]; verbs?: string[]; resourceNames?: string[] };
type Volume = {
  name?: string;
  configMap?: { name?: string; items?: { key?: string }[] };
  secret?: { secretName?: string };
  projected?: { sources?: { secret?: { name?: string } }[] };
};

export const podOf = (deployment: KubeObject) => field(deployment, "spec", "template", "spec");
export const containerOf = (deployment: KubeObject) =>
  ((field(podOf(deployment), "containers") as unknown[] | undefined) ?? [])[0];
const volumesOf = (deployment: KubeObject) =>
  (field(podOf(deployment), "volumes") as Volume[] | undefined) ?? [];
const secretsMounted = (volume: Volume) => [
  ...(volume.secret?.secretName ? [volume.secret.secretName] : []),
  ...(volume.projected?.sources ?? []).flatMap((s) => (s.secret?.name ? [s.secret.name] : [])),
];

/** Rules of every Role (in any namespace) bound to `account`, with the Role's namespace. */
export function rulesBoundTo(objects: readonly KubeObject[], account: string, releaseNamespace: string) {
  const ns = (o: KubeObject) => o.metadata.namespace ?? releaseNamespace;
  return objects
    .filter(
      (b) =>
        b.kind === "RoleBinding" &&
        ((field(b, "subjects") as { kind?: string; name?: string }[] | undefined) ?? []).some(
          (s) => s.kind === "ServiceAccount" && s.name === account,
        ),
    )
    .flatMap((binding) => {
      const ref = field(binding, "roleRef") as { kind?: string; name?: string } | undefined;
      const role = objects.find(
        (o) => o.kind === "Role" && o.metadata.name === ref?.name && ns(o) === ns(binding),
      );
      return ((field(role, "rules") as Rule[] | undefined) ?? []).map((rule) => ({
        rule,
        namespace: ns(binding),
      }));
    });
}

export const grants = (rule: Rule, group: string, resource: string, verb: string, name?: string) =>
  (rule.apiGroups ?? []).includes(group) &&
  (rule.resources ?? []).includes(resource) &&
  (rule.verbs ?? []).includes(verb) &&
  (name === undefined || !rule.resourceNames?.length || rule.resourceNames.includes(name));

/** The provisioner can keep what it issues shard certificates with (its CA, or cert-manager Certificates). */
function checkIssuer(
  objects: readonly KubeObject[],
  provisioner: KubeObject,
  releaseNamespace: string,
): string[] {
  const env = envOf(objects, containerOf(provisioner));
  const own = provisioner.metadata.namespace ?? releaseNamespace;
  const rules = rulesBoundTo(
    objects,
    String(field(podOf(provisioner), "serviceAccountName")),
    releaseNamespace,
  );
  if (env.DBPLANE_KUBE_CERT_MANAGER_ISSUER) {
    const shards = env.DBPLANE_KUBE_NAMESPACE;
    return rules.some(
      ({ rule, namespace }) =>
        namespace === shards && grants(rule, "cert-manager.io", "certificates", "create"),
    )
      ? []
      : [
          `create on cert-manager.io Certificates in the shards' namespace ${shards} (DBPLANE_KUBE_CERT_MANAGER_ISSUER)`,
        ];
  }
  const ca = env.DBPLANE_KUBE_SHARD_CA ?? DEFAULT_CA_NAME;
  const inOwn = rules.filter(({ namespace }) => namespace === own).map(({ rule }) => rule);
  const need = [
    ["secrets", "create"],
    ["secrets", "get"],
    ["configmaps", "create"],
    ["configmaps", "patch"],
  ] as const;
  return need
    .filter(([resource, verb]) => !inOwn.some((rule) => grants(rule, "", resource, verb, ca)))
    .map(
      ([resource, verb]) => `${verb} on ${resource}/${ca} in ${own} (its shard CA, DBPLANE_KUBE_SHARD_CA)`,
    );
}

/** A shard client trusts the shards' CA from a ConfigMap (the certificate alone), never the CA's Secret. */
function checkClient(
  objects: readonly KubeObject[],
  deployment: KubeObject,
  caConfigMap: string | undefined,
  caSecret: string | undefined,
): string[] {
  const problems: string[] = [];
  const container = containerOf(deployment);
  const caPath = envOf(objects, container).DBPLANE_SHARD_TLS_CA;
  const mounts =
    (field(container, "volumeMounts") as { name?: string; mountPath?: string }[] | undefined) ?? [];
  const volumes = volumesOf(deployment);
  if (!caPath) problems.push("DBPLANE_SHARD_TLS_CA (verify-full to the shards)");
  else {
    const mount = mounts.find((m) => m.mountPath && caPath.startsWith(`${m.mountPath.replace(/\/$/, "")}/`));
    const volume = volumes.find((v) => v.name === mount?.name);
    if (!volume?.configMap)
      problems.push(`DBPLANE_SHARD_TLS_CA=${caPath} under a mounted ConfigMap (the CA's certificate only)`);
    else if (caConfigMap && volume.configMap.name !== caConfigMap)
      problems.push(`DBPLANE_SHARD_TLS_CA from ConfigMap ${caConfigMap}, the CA the provisioner signs with`);
  }
  for (const volume of volumes) {
    if (caSecret && secretsMounted(volume).includes(caSecret))
      problems.push(`no mount of Secret ${caSecret} (the shard CA's private key)`);
  }
  return problems;
}

/**
 * Shard TLS wiring (issue 16, item 8): the provisioner may keep its shard CA (a Secret and a
 * ConfigMap by name in its namespace) or create cert-manager Certificates in the shards'
 * namespace; the router and the collector set DBPLANE_SHARD_TLS_CA to a file from a mounted
 * ConfigMap — the provisioner's CA ConfigMap when it issues — and mount no Secret holding the CA's key.
 */
export function checkShardTls(
  objects: readonly KubeObject[],
  profile: { readonly name: string; readonly releaseNamespace?: string },
): string[] {
  const releaseNamespace = profile.releaseNamespace ?? "dbplane";
  const services = servicesIn(objects);
  const provisioner = services.get("provisioner");
  const env = provisioner ? envOf(objects, containerOf(provisioner)) : {};
  if (!provisioner || env.DBPLANE_PROVISIONER_DRIVER !== "kubernetes") return [];
  const issued = !env.DBPLANE_KUBE_CERT_MANAGER_ISSUER;
  const caName = env.DBPLANE_KUBE_SHARD_CA ?? DEFAULT_CA_NAME;
  const problems = checkIssuer(objects, provisioner, releaseNamespace).map((p) => `provisioner needs ${p}`);
  for (const name of SHARD_TLS_CLIENTS) {
    const deployment = services.get(name);
    if (!deployment) continue;
    problems.push(
      ...checkClient(objects, deployment, issued ? caName : undefined, issued ? caName : undefined).map(
        (p) => `${name} needs ${p}`,
      ),
    );
  }
  return problems.map((p) => `${profile.name}: ${p}`);
}
