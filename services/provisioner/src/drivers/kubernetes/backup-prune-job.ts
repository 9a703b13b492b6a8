import { createHash } from "node:crypto";
import type { KubernetesObject } from "@kubernetes/client-node";
import type { DatabaseSpec } from "../../domain/database-spec.ts";
import { type BackupTarget, backupLocation } from "./backup-job.ts";
import { shardLabels } from "./shard-manifests.ts";

/**
 * The expired dumps of one shard a prune may delete: only locations its own backups are written
 * to (`<url>/<db>/<id>/shard-<n>.dump`) — a location is data, not a licence to delete.
 */
export function prunableLocations(
  target: BackupTarget,
  database: string,
  shard: number,
  expired: readonly string[],
): string[] {
  const prefix = backupLocation(target, database, shard, "");
  const root = prefix.slice(0, prefix.length - `/shard-${shard}.dump`.length);
  const suffix = `/shard-${shard}.dump`;
  return [...new Set(expired)]
    .filter((l) => l.startsWith(root) && l.endsWith(suffix))
    .filter((l) => /^[A-Za-z0-9._-]+$/.test(l.slice(root.length, -suffix.length)))
    .sort();
}

/** One Job per set of locations: a repeat applies the same Job, a larger set makes a new one. */
export function pruneJobName(database: string, shard: number, locations: readonly string[]): string {
  const hash = createHash("sha256").update(locations.join("\n")).digest("hex").slice(0, 8);
  return `${database}-${shard}-prune-${hash}`;
}

/**
 * A Job that deletes expired dumps from S3 with the AWS CLI (the uploader's image and
 * credentials). The locations are arguments, never shell text; deleting a key already gone
 * succeeds, so a Job run again after a crash does no harm.
 */
export function pruneJob(input: {
  spec: DatabaseSpec;
  shard: number;
  locations: readonly string[];
  namespace: string;
  target: BackupTarget;
}): KubernetesObject {
  const { spec, shard, locations, namespace, target } = input;
  const name = pruneJobName(spec.name, shard, locations);
  const labels = { ...shardLabels(spec.name, shard), "dbplane.io/backup-prune": name.slice(-8) };
  const endpointArg = target.endpoint ? ' --endpoint-url "$S3_ENDPOINT"' : "";
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name, namespace, labels },
    spec: {
      backoffLimit: 2,
      ttlSecondsAfterFinished: 24 * 3600,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: "Never",
          automountServiceAccountToken: false,
          securityContext: { runAsNonRoot: true, runAsUser: 999, runAsGroup: 999, fsGroup: 999 },
          containers: [
            {
              name: "delete",
              image: target.uploaderImage,
              command: [
                "sh",
                "-c",
                `for u in "$@"; do aws s3 rm "$u"${endpointArg} || exit 1; done`,
                "prune",
                ...locations,
              ],
              env: [
                { name: "HOME", value: "/tmp" },
                ...(target.endpoint ? [{ name: "S3_ENDPOINT", value: target.endpoint }] : []),
              ],
              ...(target.credentialsSecret && {
                envFrom: [{ secretRef: { name: target.credentialsSecret } }],
              }),
              volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
              securityContext: {
                runAsNonRoot: true,
                runAsUser: 999,
                allowPrivilegeEscalation: false,
                capabilities: { drop: ["ALL"] },
              },
            },
          ],
          volumes: [{ name: "tmp", emptyDir: {} }],
        },
      },
    },
  } as KubernetesObject;
}
