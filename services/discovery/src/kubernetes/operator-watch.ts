import { createResourceInformer, type ResourceInformer } from "@dbplane/kube";
import type { V1CustomResourceDefinition } from "@kubernetes/client-node";
import { OPERATORS, type OperatorProfile } from "../domain/operators.ts";
import { type InformerSetOptions, informKind, type KindInformers } from "./informer-set.ts";
import { operatorKind } from "./watched-kinds.ts";

/** The version of a CRD to watch: the storage version if served, else the first served one. */
function servedVersion(crd: V1CustomResourceDefinition): string | undefined {
  const served = (crd.spec?.versions ?? []).filter((v) => v.served);
  return (served.find((v) => v.storage) ?? served[0])?.name;
}

/**
 * Watches CustomResourceDefinitions and keeps an informer on each PostgreSQL operator's cluster
 * resource for as long as its CRD exists: installing an operator needs no restart of discovery.
 */
export function watchOperators(options: InformerSetOptions) {
  const running = new Map<string, { version: string; informers: KindInformers }>();
  let changes = Promise.resolve();

  const sync = (crds: readonly V1CustomResourceDefinition[]) => {
    const wanted = new Map<string, { profile: OperatorProfile; version: string }>();
    for (const profile of OPERATORS) {
      const crd = crds.find((c) => c.metadata?.name === `${profile.plural}.${profile.group}`);
      const version = crd ? servedVersion(crd) : undefined;
      if (version) wanted.set(profile.operator, { profile, version });
    }
    for (const [operator, entry] of [...running]) {
      if (wanted.get(operator)?.version === entry.version) continue;
      running.delete(operator);
      changes = changes.then(() => entry.informers.stop());
      options.onChange();
    }
    for (const [operator, { profile, version }] of wanted) {
      if (running.has(operator)) continue;
      options.logger.info({ operator, version }, "operator CRD found; watching its clusters");
      running.set(operator, { version, informers: informKind(operatorKind(profile, version), options) });
      options.onChange();
    }
  };

  const crdInformer: ResourceInformer<V1CustomResourceDefinition> = createResourceInformer({
    config: options.config,
    resource: {
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      plural: "customresourcedefinitions",
    },
    onAdd: () => sync(crdInformer.list()),
    onUpdate: () => sync(crdInformer.list()),
    onDelete: () => sync(crdInformer.list()),
    onRestart: (reason) => options.onRestart("CustomResourceDefinition", reason),
  });
  void crdInformer.start();

  return {
    informers: (): KindInformers[] => [...running.values()].map((r) => r.informers),
    /** Resolves when the CRDs and the clusters of every operator found are listed. */
    async synced(): Promise<void> {
      await crdInformer.synced;
      sync(crdInformer.list());
      await Promise.all([...running.values()].map((r) => r.informers.synced));
    },
    isSynced: () => crdInformer.isSynced() && [...running.values()].every((r) => r.informers.isSynced()),
    resourceVersion: () => crdInformer.resourceVersion(),
    async stop(): Promise<void> {
      await crdInformer.stop();
      await Promise.all([...running.values()].map((r) => r.informers.stop()));
      await changes;
    },
  };
}
