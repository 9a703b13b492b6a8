import type { ClusterSnapshot, ConfigMap, SecretKeys, Service } from "./cluster-objects.ts";

/** Lookups by namespace and name, built once per snapshot: classification stays linear in objects. */
interface SnapshotIndex {
  readonly services: Map<string, Service[]>;
  readonly configMaps: Map<string, ConfigMap>;
  readonly secrets: Map<string, SecretKeys>;
}

const indexes = new WeakMap<ClusterSnapshot, SnapshotIndex>();

function indexOf(snapshot: ClusterSnapshot): SnapshotIndex {
  let index = indexes.get(snapshot);
  if (!index) {
    const services = new Map<string, Service[]>();
    for (const service of snapshot.services) {
      const list = services.get(service.namespace) ?? [];
      list.push(service);
      services.set(service.namespace, list);
    }
    index = {
      services,
      configMaps: new Map(snapshot.configMaps.map((c) => [`${c.namespace}/${c.name}`, c])),
      secrets: new Map(snapshot.secrets.map((s) => [`${s.namespace}/${s.name}`, s])),
    };
    indexes.set(snapshot, index);
  }
  return index;
}

export function servicesIn(snapshot: ClusterSnapshot, namespace: string): readonly Service[] {
  return indexOf(snapshot).services.get(namespace) ?? [];
}

export function configMapNamed(
  snapshot: ClusterSnapshot,
  namespace: string,
  name: string,
): ConfigMap | undefined {
  return indexOf(snapshot).configMaps.get(`${namespace}/${name}`);
}

export function secretNamed(
  snapshot: ClusterSnapshot,
  namespace: string,
  name: string,
): SecretKeys | undefined {
  return indexOf(snapshot).secrets.get(`${namespace}/${name}`);
}
