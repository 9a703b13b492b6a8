import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type AccessProfile,
  checkAccessPolicy,
  HelmError,
  type KubeObject,
  REPO_ROOT,
  renderChart,
  renderKustomization,
} from "@dbplane/deploy-checks";
import { afterAll, describe, expect, it } from "vitest";

const chartDir = join(REPO_ROOT, "helm/dbplane");
const dir = mkdtempSync(join(tmpdir(), "dbplane-shard-tls-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const profile: AccessProfile = { name: "chart", networkPolicy: false };

function chartWith(values = ""): KubeObject[] {
  const file = join(dir, `values-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, values);
  return structuredClone(renderChart(chartDir, { valuesFiles: [file] }));
}
type Pod = { spec: { template: { spec: { volumes: Record<string, unknown>[] } } } };
const deployment = (objects: KubeObject[], name: string) =>
  objects.find((o) => o.kind === "Deployment" && o.metadata.name === `dbplane-${name}`) as KubeObject & Pod;
const configMap = (objects: KubeObject[], name: string) =>
  (
    objects.find((o) => o.kind === "ConfigMap" && o.metadata.name === name) as unknown as {
      data: Record<string, string>;
    }
  ).data;
const shardTlsProblems = (problems: string[]) =>
  problems.filter((p) => /SHARD|shard CA|cert-manager/.test(p));

describe("shard TLS wiring (issue 16, item 8)", () => {
  it("the chart: the provisioner keeps its CA by name, router and collector trust its ConfigMap", () => {
    const objects = chartWith();
    expect(checkAccessPolicy(objects, profile)).toEqual([]);
    expect(configMap(objects, "dbplane-provisioner").DBPLANE_KUBE_SHARD_CA).toBe("dbplane-shard-ca");
    for (const name of ["router", "collector"]) {
      expect(configMap(objects, `dbplane-${name}`).DBPLANE_SHARD_TLS_CA).toBe("/etc/dbplane/shard-ca/ca.crt");
      expect(deployment(objects, name).spec.template.spec.volumes).toContainEqual({
        name: "shard-ca",
        configMap: { name: "dbplane-shard-ca", items: [{ key: "ca.crt", path: "ca.crt" }], optional: true },
      });
    }
    // Only the provisioner's own CA, by name; `create` alone for what has no name yet.
    const role = objects.find((o) => o.kind === "Role" && o.metadata.name === "dbplane-provisioner-shard-ca");
    expect((role as unknown as { rules: unknown[] }).rules).toEqual([
      { apiGroups: [""], resources: ["secrets", "configmaps"], verbs: ["create"] },
      {
        apiGroups: [""],
        resources: ["secrets", "configmaps"],
        resourceNames: ["dbplane-shard-ca"],
        verbs: ["get", "update", "patch"],
      },
    ]);
    for (const overlay of ["dev", "production"]) {
      const rendered = renderKustomization(join(REPO_ROOT, "k8s/overlays", overlay));
      expect(shardTlsProblems(checkAccessPolicy(rendered, { name: overlay, networkPolicy: true }))).toEqual(
        [],
      );
    }
  });

  it("with cert-manager: the issuer for the provisioner, Certificates in the shards' namespace, the issuer's CA for the clients", () => {
    const objects = chartWith(`
shards:
  tls:
    certManager: { issuerKind: Issuer, issuerName: shards-ca, caConfigMap: shards-trust }
`);
    expect(checkAccessPolicy(objects, profile)).toEqual([]);
    const provisioner = configMap(objects, "dbplane-provisioner");
    expect(provisioner.DBPLANE_KUBE_CERT_MANAGER_ISSUER).toBe("Issuer/shards-ca");
    expect(provisioner.DBPLANE_KUBE_SHARD_CA).toBeUndefined();
    expect(objects.find((o) => o.metadata.name === "dbplane-provisioner-shard-ca")).toBeUndefined();
    const shardRole = objects.find(
      (o) => o.kind === "Role" && o.metadata.name === "dbplane-provisioner-shards",
    );
    expect((shardRole as unknown as { rules: unknown[] }).rules).toContainEqual({
      apiGroups: ["cert-manager.io"],
      resources: ["certificates"],
      verbs: ["get", "list", "watch", "create", "update", "patch", "delete"],
    });
    expect(deployment(objects, "router").spec.template.spec.volumes).toContainEqual(
      expect.objectContaining({ configMap: expect.objectContaining({ name: "shards-trust" }) }),
    );
    // The CA the clients trust must be named.
    expect(() =>
      chartWith(`
shards:
  tls:
    certManager: { issuerName: shards-ca }
`),
    ).toThrow(HelmError);
  });

  it("refuses clients that do not verify, and a provisioner that cannot keep its CA or make Certificates", () => {
    expect(
      shardTlsProblems(
        checkAccessPolicy(
          chartWith(`
services:
  router: { shardTlsClient: false }
  provisioner: { rbac: { shardTlsIssuer: false } }
`),
          profile,
        ),
      ),
    ).toEqual([
      "chart: provisioner needs create on secrets/dbplane-shard-ca in dbplane (its shard CA, DBPLANE_KUBE_SHARD_CA)",
      "chart: provisioner needs get on secrets/dbplane-shard-ca in dbplane (its shard CA, DBPLANE_KUBE_SHARD_CA)",
      "chart: provisioner needs create on configmaps/dbplane-shard-ca in dbplane (its shard CA, DBPLANE_KUBE_SHARD_CA)",
      "chart: provisioner needs patch on configmaps/dbplane-shard-ca in dbplane (its shard CA, DBPLANE_KUBE_SHARD_CA)",
      "chart: router needs DBPLANE_SHARD_TLS_CA (verify-full to the shards)",
    ]);
    expect(
      checkAccessPolicy(
        chartWith(`
shards:
  tls:
    certManager: { issuerName: shards-ca, caConfigMap: shards-trust }
services:
  provisioner: { rbac: { shardTlsIssuer: false }, env: { DBPLANE_KUBE_CERT_MANAGER_ISSUER: Issuer/shards-ca } }
`),
        profile,
      ),
    ).toEqual([
      "chart: provisioner needs create on cert-manager.io Certificates in the shards' namespace dbplane-shards (DBPLANE_KUBE_CERT_MANAGER_ISSUER)",
    ]);
  });

  it("refuses the CA's Secret (its key) in a client's pod, or a CA other than the provisioner's", () => {
    const objects = chartWith();
    const volumes = deployment(objects, "collector").spec.template.spec.volumes;
    const shardCa = volumes.find((v) => v.name === "shard-ca")!;
    delete shardCa.configMap;
    shardCa.secret = { secretName: "dbplane-shard-ca" };
    const router = deployment(objects, "router").spec.template.spec.volumes.find(
      (v) => v.name === "shard-ca",
    )!;
    router.configMap = { name: "someone-elses-ca" };
    expect(checkAccessPolicy(objects, profile)).toEqual([
      "chart: router needs DBPLANE_SHARD_TLS_CA from ConfigMap dbplane-shard-ca, the CA the provisioner signs with",
      "chart: collector needs DBPLANE_SHARD_TLS_CA=/etc/dbplane/shard-ca/ca.crt under a mounted ConfigMap (the CA's certificate only)",
      "chart: collector needs no mount of Secret dbplane-shard-ca (the shard CA's private key)",
    ]);
  });
});
