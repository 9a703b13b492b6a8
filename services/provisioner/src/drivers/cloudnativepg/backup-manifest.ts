import { createHash } from "node:crypto";
import type { KubernetesObject } from "@kubernetes/client-node";
import type { BackupOutcome } from "../driver.ts";
import { shardLabels } from "../kubernetes/shard-manifests.ts";
import { CNPG_API_VERSION, cnpgNames } from "./cluster-manifest.ts";

/** The annotation carrying dbplane's backup id (an id may be longer than a name allows). */
export const BACKUP_ID_ANNOTATION = "dbplane.io/backup-id";

/** CloudNativePG's Backup status, as far as dbplane reads it. */
export interface CnpgBackupStatus {
  readonly phase?: string;
  readonly error?: string;
  readonly backupId?: string;
  readonly destinationPath?: string;
  readonly serverName?: string;
  readonly beginLSN?: string;
  readonly endLSN?: string;
}

/** `<db>-shard-<n>-backup-<8 hex of the backup id>`: one Backup per shard and backup id, so a repeat finds it. */
export function backupName(database: string, shard: number, backupId: string): string {
  const digest = createHash("sha256").update(backupId).digest("hex").slice(0, 8);
  return `${cnpgNames(database, shard).cluster}-backup-${digest}`;
}

/** An on-demand base backup of one shard through its Cluster's barman object store. */
export function backupManifest(
  database: string,
  shard: number,
  namespace: string,
  backupId: string,
): KubernetesObject {
  return {
    apiVersion: CNPG_API_VERSION,
    kind: "Backup",
    metadata: {
      name: backupName(database, shard, backupId),
      namespace,
      labels: shardLabels(database, shard),
      annotations: { [BACKUP_ID_ANNOTATION]: backupId },
    },
    spec: { cluster: { name: cnpgNames(database, shard).cluster }, method: "barmanObjectStore" },
  } as KubernetesObject;
}

/**
 * What a Backup's status says: done once `completed` (located as barman-cloud stores it:
 * `<destinationPath>/<serverName>/base/<backupId>`), an error once `failed`, else still running.
 * CloudNativePG does not report the size; 0 says "not measured".
 */
export function backupOutcome(name: string, status: CnpgBackupStatus | undefined): BackupOutcome {
  if (status?.phase === "failed")
    throw new Error(`CloudNativePG Backup ${name} failed: ${status.error ?? "no reason given"}`);
  if (status?.phase !== "completed")
    return { done: false, waitingFor: `Backup ${name}: ${status?.phase ?? "not started"}` };
  const location = [status.destinationPath, status.serverName, "base", status.backupId]
    .filter((part) => part)
    .join("/");
  return {
    done: true,
    location: location || `backup/${name}`,
    bytes: 0,
    ...(status.beginLSN && { startLsn: status.beginLSN }),
    ...(status.endLSN && { stopLsn: status.endLSN }),
  };
}
