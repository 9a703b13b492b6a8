import {
  ApiException,
  ApiextensionsV1Api,
  CoreV1Api,
  KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  PatchStrategy,
  setHeaderOptions,
  type V1StatefulSet,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type KubeApiDouble, knownCustomResources, startKubeApiDouble, uniqueName } from "../src/index.ts";

let double: KubeApiDouble;
let kc: KubeConfig;
let objects: KubernetesObjectApi;
let core: CoreV1Api;

beforeAll(async () => {
  double = await startKubeApiDouble();
  kc = new KubeConfig();
  kc.loadFromString(double.kubeConfigYaml);
  objects = KubernetesObjectApi.makeApiClient(kc);
  core = kc.makeApiClient(CoreV1Api);
});
afterAll(() => double.close());

async function newNamespace(): Promise<string> {
  const name = uniqueName("ns").replace(/_/g, "-");
  await core.createNamespace({ body: { metadata: { name } } });
  return name;
}

function shard(namespace: string, replicas: number, labels: Record<string, string> = {}): V1StatefulSet {
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: {
      name: "orders-shard-0",
      namespace,
      labels: { "app.kubernetes.io/managed-by": "dbplane", ...labels },
    },
    spec: {
      replicas,
      serviceName: "orders-shard-0",
      selector: { matchLabels: { "dbplane.io/shard": "0" } },
      template: {
        metadata: { labels: { "dbplane.io/shard": "0" } },
        spec: { containers: [{ name: "postgres", image: "postgres:17", ports: [{ containerPort: 5432 }] }] },
      },
    },
  };
}

function apply<T extends KubernetesObject>(spec: T, manager: string, force = false): Promise<T> {
  return objects.patch(spec, undefined, undefined, manager, force, PatchStrategy.ServerSideApply);
}

async function rejection(promise: Promise<unknown>): Promise<ApiException<string>> {
  const err = await promise.then(
    () => expect.fail("expected the call to fail"),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApiException);
  return err as ApiException<string>;
}

describe("Kubernetes API double: server-side apply", () => {
  it("creates on the first apply and changes nothing on an identical second apply", async () => {
    const namespace = await newNamespace();
    const created = await apply(shard(namespace, 2), "dbplane-provisioner");
    expect(created.metadata?.uid).toBeDefined();
    expect(created.spec?.replicas).toBe(2);
    const managed = created.metadata?.managedFields ?? [];
    expect(managed.map((m) => [m.manager, m.operation])).toEqual([["dbplane-provisioner", "Apply"]]);
    expect(managed[0]?.fieldsV1).toMatchObject({ "f:spec": { "f:replicas": {} } });

    const again = await apply(shard(namespace, 2), "dbplane-provisioner");
    expect(again.metadata?.resourceVersion).toBe(created.metadata?.resourceVersion);
    expect(again.metadata?.generation).toBe(1);
    expect(double.get("StatefulSet", namespace, "orders-shard-0")?.metadata?.resourceVersion).toBe(
      created.metadata?.resourceVersion,
    );
  });

  it("removes a field its manager stops applying but keeps fields other managers set", async () => {
    const namespace = await newNamespace();
    await apply(shard(namespace, 1, { stale: "yes" }), "dbplane-provisioner");
    await objects.patch(
      {
        apiVersion: "apps/v1",
        kind: "StatefulSet",
        metadata: { name: "orders-shard-0", namespace, labels: { team: "x" } },
      },
      undefined,
      undefined,
      "someone-else",
      undefined,
      PatchStrategy.MergePatch,
    );
    const after = await apply(shard(namespace, 1), "dbplane-provisioner");
    expect(after.metadata?.labels).toEqual({ "app.kubernetes.io/managed-by": "dbplane", team: "x" });
  });

  it("refuses with 409 to take a field another manager owns, unless forced", async () => {
    const namespace = await newNamespace();
    const mine = await apply(shard(namespace, 2), "dbplane-provisioner");
    const conflict = await rejection(apply(shard(namespace, 5), "kubectl"));
    expect(conflict.code).toBe(409);
    const status = JSON.parse(conflict.body);
    expect(status).toMatchObject({ kind: "Status", reason: "Conflict", code: 409 });
    expect(status.message).toContain('conflict with "dbplane-provisioner"');
    expect(status.details.causes).toContainEqual(expect.objectContaining({ field: ".spec.replicas" }));
    expect(double.get("StatefulSet", namespace, "orders-shard-0")?.metadata?.resourceVersion).toBe(
      mine.metadata?.resourceVersion,
    );

    // The same value is no conflict: both managers then share the field.
    const shared = await apply(shard(namespace, 2), "kubectl");
    expect(shared.metadata?.managedFields?.map((m) => m.manager).sort()).toEqual([
      "dbplane-provisioner",
      "kubectl",
    ]);

    const forced = await apply(shard(namespace, 5), "kubectl", true);
    expect(forced.spec?.replicas).toBe(5);
    expect(forced.metadata?.generation).toBe(2);
    expect((await rejection(apply(shard(namespace, 2), "dbplane-provisioner"))).code).toBe(409);
  });

  it("treats an edit by another client as that client's field: a forced re-apply repairs the drift", async () => {
    const namespace = await newNamespace();
    await apply(shard(namespace, 3), "dbplane-provisioner");
    await objects.patch(
      {
        apiVersion: "apps/v1",
        kind: "StatefulSet",
        metadata: { name: "orders-shard-0", namespace },
        spec: { replicas: 1 },
      },
      undefined,
      undefined,
      "kubectl-scale",
      undefined,
      PatchStrategy.MergePatch,
    );
    expect((await rejection(apply(shard(namespace, 3), "dbplane-provisioner"))).code).toBe(409);
    const repaired = await apply(shard(namespace, 3), "dbplane-provisioner", true);
    expect(repaired.spec?.replicas).toBe(3);
    const managers = repaired.metadata?.managedFields?.map((m) => `${m.manager}:${m.operation}`);
    expect(managers).toContain("dbplane-provisioner:Apply");
  });

  it("applies to the status subresource without touching the spec", async () => {
    const namespace = await newNamespace();
    await apply(shard(namespace, 2), "dbplane-provisioner");
    const statusOnly = await objects.patch(
      { ...shard(namespace, 9), status: { replicas: 2, readyReplicas: 2 } },
      undefined,
      undefined,
      "dbplane-provisioner",
      undefined,
      PatchStrategy.ServerSideApply,
    );
    // Applied to the main resource: status is ignored there, spec changes.
    expect(statusOnly.status).toBeUndefined();
    const res = await fetch(
      `${double.url}/apis/apps/v1/namespaces/${namespace}/statefulsets/orders-shard-0/status?fieldManager=ctrl`,
      {
        method: "PATCH",
        headers: { "content-type": "application/apply-patch+yaml" },
        body: `apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: orders-shard-0\nstatus:\n  readyReplicas: 2\n  replicas: 2\n`,
      },
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as V1StatefulSet;
    expect(body.status).toEqual({ readyReplicas: 2, replicas: 2 });
    expect(body.spec?.replicas).toBe(9);
  });

  it("applies a Secret's stringData twice without a change", async () => {
    const namespace = await newNamespace();
    const secret: KubernetesObject & { stringData: Record<string, string> } = {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "orders-shard-0-credentials", namespace },
      stringData: { password: "s3cret" },
    };
    const first = await apply(secret, "dbplane-provisioner");
    expect((first as { data?: Record<string, string> }).data).toEqual({ password: btoa("s3cret") });
    const second = await apply(secret, "dbplane-provisioner");
    expect(second.metadata?.resourceVersion).toBe(first.metadata?.resourceVersion);
  });

  it("checks but stores nothing on dryRun=All", async () => {
    const namespace = await newNamespace();
    const preview = await objects.patch(
      shard(namespace, 2),
      undefined,
      "All",
      "m",
      undefined,
      PatchStrategy.ServerSideApply,
    );
    expect(preview.spec?.replicas).toBe(2);
    expect(double.get("StatefulSet", namespace, "orders-shard-0")).toBeUndefined();
    await apply(shard(namespace, 2), "m");
    const rv = double.resourceVersion;
    await objects.patch(shard(namespace, 4), undefined, "All", "m", undefined, PatchStrategy.ServerSideApply);
    await objects.delete(shard(namespace, 2), undefined, "All");
    expect(double.get("StatefulSet", namespace, "orders-shard-0")?.spec).toMatchObject({ replicas: 2 });
    expect(double.resourceVersion).toBe(rv);
  });

  it("refuses an apply without a field manager or with a body it cannot read", async () => {
    const namespace = await newNamespace();
    const path = `${double.url}/api/v1/namespaces/${namespace}/configmaps/c`;
    const headers = { "content-type": "application/apply-patch+yaml" };
    const noManager = await fetch(path, {
      method: "PATCH",
      headers,
      body: "apiVersion: v1\nkind: ConfigMap\n",
    });
    expect(noManager.status).toBe(400);
    const garbage = await fetch(`${path}?fieldManager=m`, { method: "PATCH", headers, body: "{{{" });
    expect(garbage.status).toBe(400);
    expect(await garbage.json()).toMatchObject({ kind: "Status", reason: "BadRequest" });
  });

  it("serves operator CRDs only once registered, in discovery and for KubernetesObjectApi", async () => {
    const namespace = await newNamespace();
    const cluster: KubernetesObject & { spec: unknown } = {
      apiVersion: "postgresql.cnpg.io/v1",
      kind: "Cluster",
      metadata: { name: "pg", namespace },
      spec: { instances: 3 },
    };
    const groups = async () =>
      ((await (await fetch(`${double.url}/apis`)).json()) as { groups: { name: string }[] }).groups.map(
        (g) => g.name,
      );
    expect(await groups()).not.toContain("postgresql.cnpg.io");
    expect((await fetch(`${double.url}/apis/postgresql.cnpg.io/v1`)).status).toBe(404);
    await expect(apply(cluster, "m")).rejects.toThrow(/404|Unrecognized/);

    double.addCustomResource(knownCustomResources.cloudNativePgCluster);
    expect(await groups()).toContain("postgresql.cnpg.io");
    const fresh = KubernetesObjectApi.makeApiClient(kc);
    const created = await fresh.patch(
      cluster,
      undefined,
      undefined,
      "m",
      undefined,
      PatchStrategy.ServerSideApply,
    );
    expect(created.metadata?.uid).toBeDefined();
    const listed = await fresh.list("postgresql.cnpg.io/v1", "Cluster", namespace);
    expect(listed.items.map((item) => [item.kind, item.metadata?.name])).toEqual([["Cluster", "pg"]]);
    double.setStatus({ apiVersion: "postgresql.cnpg.io/v1", kind: "Cluster" }, namespace, "pg", {
      phase: "Cluster in healthy state",
    });

    double.removeCustomResource("postgresql.cnpg.io", "clusters");
    expect(await groups()).not.toContain("postgresql.cnpg.io");
    expect(
      (await fetch(`${double.url}/apis/postgresql.cnpg.io/v1/namespaces/${namespace}/clusters`)).status,
    ).toBe(404);
  });

  it("serves a CRD created through the API and stops when it is deleted, deleting its objects", async () => {
    const namespace = await newNamespace();
    const extensions = kc.makeApiClient(ApiextensionsV1Api);
    await extensions.createCustomResourceDefinition({
      body: {
        metadata: { name: "sgclusters.stackgres.io" },
        spec: {
          group: "stackgres.io",
          names: {
            kind: "SGCluster",
            plural: "sgclusters",
            singular: "sgcluster",
            listKind: "SGClusterList",
          },
          scope: "Namespaced",
          versions: [{ name: "v1", served: true, storage: true, subresources: { status: {} } }],
        },
      },
    });
    const crd = await extensions.readCustomResourceDefinition({ name: "sgclusters.stackgres.io" });
    expect(crd.status?.conditions?.map((c) => `${c.type}=${c.status}`)).toContain("Established=True");
    const fresh = KubernetesObjectApi.makeApiClient(kc);
    const sg = {
      apiVersion: "stackgres.io/v1",
      kind: "SGCluster",
      metadata: { name: "sg", namespace },
      spec: {},
    };
    await fresh.create(sg);
    expect(double.list({ apiVersion: "stackgres.io/v1", kind: "SGCluster" }, { namespace })).toHaveLength(1);

    await extensions.deleteCustomResourceDefinition({ name: "sgclusters.stackgres.io" });
    expect((await fetch(`${double.url}/apis/stackgres.io/v1`)).status).toBe(404);
    double.addCustomResource(knownCustomResources.stackGresCluster);
    expect(double.list({ apiVersion: "stackgres.io/v1", kind: "SGCluster" })).toEqual([]);
    expect((await extensions.listCustomResourceDefinition()).items.map((c) => c.metadata?.name)).toContain(
      "sgclusters.stackgres.io",
    );
    double.removeCustomResource("stackgres.io", "sgclusters");
  });

  it("answers discovery for the built-in groups", async () => {
    const get = async (path: string) =>
      (await fetch(`${double.url}${path}`)).json() as Promise<Record<string, unknown>>;
    expect(await get("/api")).toMatchObject({ kind: "APIVersions", versions: ["v1"] });
    for (const groupVersion of [
      "apps/v1",
      "batch/v1",
      "policy/v1",
      "autoscaling/v2",
      "networking.k8s.io/v1",
    ]) {
      expect(await get(`/apis/${groupVersion}`)).toMatchObject({ kind: "APIResourceList", groupVersion });
    }
    const core = (await get("/api/v1")) as { resources: { name: string; namespaced: boolean }[] };
    expect(core.resources).toContainEqual(expect.objectContaining({ name: "pods", namespaced: true }));
    expect(core.resources).toContainEqual(expect.objectContaining({ name: "namespaces", namespaced: false }));
    const apps = (await get("/apis/apps/v1")) as { resources: { name: string }[] };
    expect(apps.resources.map((r) => r.name)).toEqual(
      expect.arrayContaining(["statefulsets", "statefulsets/status"]),
    );
    expect(await get("/apis/apps")).toMatchObject({
      kind: "APIGroup",
      preferredVersion: { groupVersion: "apps/v1" },
    });
  });

  it("merges typed patches sent with setHeaderOptions", async () => {
    const namespace = await newNamespace();
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "c" }, data: { a: "1" } } });
    const patched = await core.patchNamespacedConfigMap(
      { name: "c", namespace, body: { data: { b: "2" } }, fieldManager: "typed" },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    expect(patched.data).toEqual({ a: "1", b: "2" });
    expect(patched.metadata?.managedFields?.map((m) => m.manager)).toContain("typed");
  });
});
