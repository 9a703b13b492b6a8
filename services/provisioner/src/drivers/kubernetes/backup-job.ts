import { createHash } from "node:crypto";
import type { KubernetesObject } from "@kubernetes/client-node";
import type { DatabaseSpec } from "../../domain/database-spec.ts";
import { inShardClientTls, SUPERUSER, shardLabels, shardNames } from "./shard-manifests.ts";

/** Where Kubernetes backups go: an S3-compatible bucket (AWS, MinIO, Ceph, R2, …). */
export interface BackupTarget {
  /** `s3://bucket/prefix`; a dump lands at `<url>/<db>/<backupId>/shard-<n>.dump`. */
  readonly url: string;
  /** Endpoint of a non-AWS S3 (`https://minio.example:9000`). */
  readonly endpoint?: string | undefined;
  /** Secret in the namespace with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (absent: the pod's own identity, e.g. IRSA). */
  readonly credentialsSecret?: string | undefined;
  /** Image with the AWS CLI. */
  readonly uploaderImage: string;
}

/** Job names stay DNS labels whatever the backup id: `{db}-{n}-backup-{hash}`. */
export function backupJobName(database: string, shard: number, backupId: string): string {
  const hash = createHash("sha256").update(backupId).digest("hex").slice(0, 8);
  return `${database}-${shard}-backup-${hash}`;
}

export function backupLocation(
  target: BackupTarget,
  database: string,
  shard: number,
  backupId: string,
): string {
  return `${target.url.replace(/\/+$/, "")}/${database}/${backupId}/shard-${shard}.dump`;
}

/**
 * A Job that dumps the shard's primary with pg_dump (custom format) into an emptyDir, then copies
 * the file to S3 with the AWS CLI. Two containers, so neither image needs the other's tools.
 */
export function backupJob(input: {
  spec: DatabaseSpec;
  shard: number;
  backupId: string;
  namespace: string;
  image: string;
  target: BackupTarget;
  /** The shard's `-tls` Secret carries its CA: pg_dump verifies the primary in full. */
  verifyInShard?: boolean;
}): KubernetesObject {
  const { spec, shard, backupId, namespace, target } = input;
  const names = shardNames(spec.name, shard);
  const name = backupJobName(spec.name, shard, backupId);
  const tls = inShardClientTls(spec.name, shard, input.verifyInShard ?? false);
  const labels = { ...shardLabels(spec.name, shard), "dbplane.io/backup": name.slice(-8) };
  const security = {
    runAsNonRoot: true,
    runAsUser: 999,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ["ALL"] },
  };
  const endpointArg = target.endpoint ? ' --endpoint-url "$S3_ENDPOINT"' : "";
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name, namespace, labels, annotations: { "dbplane.io/backup-id": backupId } },
    spec: {
      backoffLimit: 2,
      ttlSecondsAfterFinished: 7 * 24 * 3600,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: "Never",
          // pg_dump and the upload need no Kubernetes API: no token in the pod.
          automountServiceAccountToken: false,
          securityContext: { runAsNonRoot: true, runAsUser: 999, runAsGroup: 999, fsGroup: 999 },
          initContainers: [
            {
              name: "pg-dump",
              image: `${input.image}:${spec.postgresVersion}`,
              command: [
                "sh",
                "-c",
                'pg_dump -h "$PGHOST" -p 5432 -U "$PGUSER" -Fc -f /backup/shard.dump "$PGDATABASE"',
              ],
              env: [
                { name: "PGHOST", value: `${names.service}.${namespace}.svc` },
                ...tls.env,
                { name: "PGUSER", value: SUPERUSER },
                { name: "PGDATABASE", value: spec.name },
                { name: "PGPASSWORD", valueFrom: { secretKeyRef: { name: names.secret, key: "password" } } },
              ],
              volumeMounts: [{ name: "backup", mountPath: "/backup" }, ...tls.volumeMounts],
              securityContext: security,
            },
          ],
          containers: [
            {
              name: "upload",
              image: target.uploaderImage,
              command: ["sh", "-c", `aws s3 cp /backup/shard.dump "$TARGET"${endpointArg}`],
              env: [
                { name: "TARGET", value: backupLocation(target, spec.name, shard, backupId) },
                { name: "HOME", value: "/backup" },
                ...(target.endpoint ? [{ name: "S3_ENDPOINT", value: target.endpoint }] : []),
              ],
              ...(target.credentialsSecret && {
                envFrom: [{ secretRef: { name: target.credentialsSecret } }],
              }),
              volumeMounts: [{ name: "backup", mountPath: "/backup" }],
              securityContext: security,
            },
          ],
          volumes: [{ name: "backup", emptyDir: {} }, ...tls.volumes],
        },
      },
    },
  } as KubernetesObject;
}
