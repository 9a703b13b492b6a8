import { databaseDirectory, linkUse } from "./app-links.ts";
import { configuredUses } from "./app-settings.ts";
import type { ClusterSnapshot, Workload } from "./cluster-objects.ts";
import { canonicalJson } from "./fact-hash.ts";
import type { AppRecord, DatabaseRecord, DatabaseUse, Inventory } from "./inventory-types.ts";
import { operatorDatabase, owningCluster } from "./operator-databases.ts";
import { isServerWorkload, workloadDatabase } from "./server-workloads.ts";

function appName(workload: Workload): string {
  return workload.labels["app.kubernetes.io/name"] ?? workload.labels.app ?? workload.name;
}

function uniqueUses(uses: readonly DatabaseUse[]): DatabaseUse[] {
  const byKey = new Map(uses.map((use) => [canonicalJson(use), use]));
  return [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, use]) => use);
}

/**
 * Classifies a snapshot of the cluster: PostgreSQL servers (operator clusters, then workloads
 * running PostgreSQL that no operator cluster claims) and the apps that use a database, each
 * use resolved to a discovered server where the cluster's DNS leads there.
 */
export function classifyCluster(snapshot: ClusterSnapshot): Inventory {
  const databases: DatabaseRecord[] = [];
  for (const cluster of snapshot.operatorClusters) {
    const database = operatorDatabase(cluster, snapshot);
    if (database) databases.push(database);
  }
  const apps: AppRecord[] = [];
  const candidates: Workload[] = [];
  for (const workload of snapshot.workloads) {
    if (owningCluster(workload, snapshot)) continue;
    if (isServerWorkload(workload)) databases.push(workloadDatabase(workload, snapshot));
    else candidates.push(workload);
  }
  const directory = databaseDirectory(databases, snapshot.clusterDomain);
  for (const workload of candidates) {
    const uses = configuredUses(workload, snapshot);
    if (uses.length === 0) continue;
    apps.push({
      id: workload.uid,
      name: appName(workload),
      workload: {
        namespace: workload.namespace,
        kind: workload.kind,
        name: workload.name,
        uid: workload.uid,
      },
      databases: uniqueUses(uses.map((use) => linkUse(use, workload, directory))),
      labels: workload.labels,
    });
  }
  return { databases, apps };
}
