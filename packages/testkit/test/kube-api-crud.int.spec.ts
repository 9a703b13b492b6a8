import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1StatefulSet,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type KubeApiDouble, startKubeApiDouble, uniqueName } from "../src/index.ts";

let double: KubeApiDouble;
let core: CoreV1Api;
let apps: AppsV1Api;

beforeAll(async () => {
  double = await startKubeApiDouble();
  const kc = new KubeConfig();
  kc.loadFromString(double.kubeConfigYaml);
  core = kc.makeApiClient(CoreV1Api);
  apps = kc.makeApiClient(AppsV1Api);
});
afterAll(() => double.close());

async function newNamespace(): Promise<string> {
  const name = uniqueName("ns")
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, "-");
  await core.createNamespace({ body: { metadata: { name } } });
  return name;
}

/** The Status body of a failed call, whichever way client-node hands it over. */
function statusOf(err: unknown): { code?: number; reason?: string; message?: string } {
  expect(err).toBeInstanceOf(ApiException);
  const body = (err as ApiException<unknown>).body;
  return typeof body === "string" ? JSON.parse(body) : (body as object);
}

async function failure(
  promise: Promise<unknown>,
): Promise<{ code: number; status: ReturnType<typeof statusOf> }> {
  const err = await promise.then(
    () => expect.fail("expected the call to fail"),
    (e: unknown) => e,
  );
  return { code: (err as ApiException<unknown>).code, status: statusOf(err) };
}

function statefulSet(name: string, replicas: number): V1StatefulSet {
  return {
    metadata: { name, labels: { app: name } },
    spec: {
      replicas,
      serviceName: name,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: "postgres", image: "postgres:17" }] },
      },
    },
  };
}

describe("Kubernetes API double: CRUD with the real client", () => {
  it("creates, reads, lists, replaces and deletes a ConfigMap with real metadata", async () => {
    const namespace = await newNamespace();
    const created = await core.createNamespacedConfigMap({
      namespace,
      body: { metadata: { name: "conf", labels: { a: "1" } }, data: { k: "v" } },
    });
    expect(created.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.metadata?.creationTimestamp).toBeInstanceOf(Date);
    expect(created.metadata?.namespace).toBe(namespace);
    const read = await core.readNamespacedConfigMap({ name: "conf", namespace });
    expect(read.data).toEqual({ k: "v" });
    const list = await core.listNamespacedConfigMap({ namespace });
    expect(list.items.map((item) => item.metadata?.name)).toEqual(["conf"]);
    expect(Number(list.metadata?.resourceVersion)).toBeGreaterThanOrEqual(
      Number(created.metadata?.resourceVersion),
    );

    const replaced = await core.replaceNamespacedConfigMap({
      name: "conf",
      namespace,
      body: { ...read, data: { k: "w" } },
    });
    expect(replaced.data).toEqual({ k: "w" });
    expect(Number(replaced.metadata?.resourceVersion)).toBeGreaterThan(
      Number(read.metadata?.resourceVersion),
    );
    expect(replaced.metadata?.uid).toBe(created.metadata?.uid);

    await core.deleteNamespacedConfigMap({ name: "conf", namespace });
    const gone = await failure(core.readNamespacedConfigMap({ name: "conf", namespace }));
    expect(gone.code).toBe(404);
    expect(gone.status).toMatchObject({ kind: "Status", reason: "NotFound", code: 404 });
    expect((await failure(core.deleteNamespacedConfigMap({ name: "conf", namespace }))).code).toBe(404);
  });

  it("answers 409 AlreadyExists on a second create and 409 Conflict on a stale resourceVersion", async () => {
    const namespace = await newNamespace();
    const first = await core.createNamespacedSecret({
      namespace,
      body: { metadata: { name: "s" }, data: {} },
    });
    const again = await failure(
      core.createNamespacedSecret({ namespace, body: { metadata: { name: "s" } } }),
    );
    expect(again.code).toBe(409);
    expect(again.status).toMatchObject({ reason: "AlreadyExists", code: 409 });

    await core.replaceNamespacedSecret({ name: "s", namespace, body: { ...first, data: { a: "YQ==" } } });
    const stale = await failure(
      core.replaceNamespacedSecret({ name: "s", namespace, body: { ...first, data: { a: "Yg==" } } }),
    );
    expect(stale.code).toBe(409);
    expect(stale.status.reason).toBe("Conflict");
    expect(stale.status.message).toContain("the object has been modified");
  });

  it("refuses objects in a namespace that does not exist, and deleting a namespace removes its objects", async () => {
    const missing = await failure(
      core.createNamespacedConfigMap({ namespace: "nowhere", body: { metadata: { name: "c" } } }),
    );
    expect(missing.code).toBe(404);
    expect(missing.status.message).toBe('namespaces "nowhere" not found');

    const namespace = await newNamespace();
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "c" } } });
    await core.deleteNamespace({ name: namespace });
    expect(double.get("ConfigMap", namespace, "c")).toBeUndefined();
    expect((await failure(core.readNamespace({ name: namespace }))).code).toBe(404);
  });

  it("bumps generation on a spec change only, and keeps status out of main-resource writes", async () => {
    const namespace = await newNamespace();
    const created = await apps.createNamespacedStatefulSet({ namespace, body: statefulSet("db", 1) });
    expect(created.metadata?.generation).toBe(1);
    expect(created.status).toBeUndefined();

    const relabelled = await apps.replaceNamespacedStatefulSet({
      name: "db",
      namespace,
      body: { ...created, metadata: { ...created.metadata, labels: { app: "db", extra: "x" } } },
    });
    expect(relabelled.metadata?.generation).toBe(1);

    const scaled = await apps.replaceNamespacedStatefulSet({
      name: "db",
      namespace,
      body: { ...relabelled, spec: { ...relabelled.spec!, replicas: 3 }, status: { replicas: 99 } },
    });
    expect(scaled.metadata?.generation).toBe(2);
    expect(scaled.status).toBeUndefined();

    const withStatus = await apps.replaceNamespacedStatefulSetStatus({
      name: "db",
      namespace,
      body: { ...scaled, spec: { ...scaled.spec!, replicas: 7 }, status: { replicas: 3, readyReplicas: 3 } },
    });
    expect(withStatus.status?.readyReplicas).toBe(3);
    expect(withStatus.spec?.replicas).toBe(3);
    expect((await apps.readNamespacedStatefulSetStatus({ name: "db", namespace })).status?.replicas).toBe(3);
  });

  it("writes a replace that changes nothing without a new resourceVersion", async () => {
    const namespace = await newNamespace();
    const created = await core.createNamespacedConfigMap({
      namespace,
      body: { metadata: { name: "c" }, data: { a: "1" } },
    });
    const same = await core.replaceNamespacedConfigMap({ name: "c", namespace, body: created });
    expect(same.metadata?.resourceVersion).toBe(created.metadata?.resourceVersion);
  });

  it("selects by label (=, ==, !=, in, notin, exists, !key) and by metadata.name/namespace, across namespaces", async () => {
    const a = await newNamespace();
    const b = await newNamespace();
    const pod = (name: string, labels: Record<string, string>) => ({
      metadata: { name, labels },
      spec: { containers: [{ name: "c", image: "busybox" }] },
    });
    await core.createNamespacedPod({ namespace: a, body: pod("p1", { tier: "db", role: "primary" }) });
    await core.createNamespacedPod({ namespace: a, body: pod("p2", { tier: "db", role: "replica" }) });
    await core.createNamespacedPod({ namespace: a, body: pod("p3", { tier: "web" }) });
    await core.createNamespacedPod({ namespace: b, body: pod("p4", { tier: "db", role: "primary" }) });
    const names = async (labelSelector?: string, fieldSelector?: string, namespace = a) =>
      (await core.listNamespacedPod({ namespace, labelSelector, fieldSelector })).items.map(
        (p) => p.metadata?.name,
      );

    expect(await names("tier=db")).toEqual(["p1", "p2"]);
    expect(await names("tier==db,role=primary")).toEqual(["p1"]);
    expect(await names("tier!=db")).toEqual(["p3"]);
    expect(await names("role in (primary, replica)")).toEqual(["p1", "p2"]);
    expect(await names("role notin (primary)")).toEqual(["p2", "p3"]);
    expect(await names("role")).toEqual(["p1", "p2"]);
    expect(await names("!role")).toEqual(["p3"]);
    expect(await names(undefined, "metadata.name=p2")).toEqual(["p2"]);
    expect(await names(undefined, "metadata.name!=p2")).toEqual(["p1", "p3"]);

    const everywhere = await core.listPodForAllNamespaces({ labelSelector: "role=primary" });
    const primaries = everywhere.items.map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`).sort();
    expect(primaries).toEqual([`${a}/p1`, `${b}/p4`].sort());
    const inB = await core.listPodForAllNamespaces({ fieldSelector: `metadata.namespace=${b}` });
    expect(inB.items.map((p) => p.metadata?.name)).toEqual(["p4"]);

    const bad = await failure(core.listNamespacedPod({ namespace: a, labelSelector: "role in primary" }));
    expect(bad.code).toBe(400);
    const unsupported = await failure(core.listNamespacedPod({ namespace: a, fieldSelector: "spec.nope=x" }));
    expect(unsupported.code).toBe(400);
  });

  it("pages a list with limit and continue", async () => {
    const namespace = await newNamespace();
    for (const name of ["c1", "c2", "c3"]) {
      await core.createNamespacedConfigMap({ namespace, body: { metadata: { name } } });
    }
    const first = await core.listNamespacedConfigMap({ namespace, limit: 2 });
    expect(first.items.map((c) => c.metadata?.name)).toEqual(["c1", "c2"]);
    expect(first.metadata?.remainingItemCount).toBe(1);
    const second = await core.listNamespacedConfigMap({
      namespace,
      limit: 2,
      _continue: first.metadata?._continue,
    });
    expect(second.items.map((c) => c.metadata?.name)).toEqual(["c3"]);
    expect(second.metadata?._continue).toBeUndefined();
  });

  it("folds a Secret's stringData into base64 data", async () => {
    const namespace = await newNamespace();
    const secret = await core.createNamespacedSecret({
      namespace,
      body: { metadata: { name: "creds" }, stringData: { password: "hunter2" } },
    });
    expect(secret.data).toEqual({ password: Buffer.from("hunter2").toString("base64") });
    expect(secret.stringData).toBeUndefined();
    expect(secret.type).toBe("Opaque");
  });

  it("applies merge, strategic-merge and JSON patches", async () => {
    const namespace = await newNamespace();
    await core.createNamespacedConfigMap({
      namespace,
      body: { metadata: { name: "c" }, data: { a: "1", b: "2" } },
    });
    const merged = await core.patchNamespacedConfigMap(
      { name: "c", namespace, body: { data: { a: null, c: "3" } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    expect(merged.data).toEqual({ b: "2", c: "3" });
    const strategic = await core.patchNamespacedConfigMap(
      { name: "c", namespace, body: { metadata: { labels: { x: "y" } } } },
      setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
    );
    expect(strategic.metadata?.labels).toEqual({ x: "y" });
    const jsonPatched = await core.patchNamespacedConfigMap(
      {
        name: "c",
        namespace,
        body: [
          { op: "test", path: "/data/b", value: "2" },
          { op: "replace", path: "/data/b", value: "20" },
          { op: "add", path: "/metadata/labels/app.kubernetes.io~1name", value: "pg" },
          { op: "remove", path: "/data/c" },
        ],
      },
      setHeaderOptions("Content-Type", PatchStrategy.JsonPatch),
    );
    expect(jsonPatched.data).toEqual({ b: "20" });
    expect(jsonPatched.metadata?.labels).toEqual({ x: "y", "app.kubernetes.io/name": "pg" });
    const failedTest = await failure(
      core.patchNamespacedConfigMap(
        { name: "c", namespace, body: [{ op: "test", path: "/data/b", value: "nope" }] },
        setHeaderOptions("Content-Type", PatchStrategy.JsonPatch),
      ),
    );
    expect(failedTest.code).toBe(422);
    const absent = await failure(
      core.patchNamespacedConfigMap(
        { name: "missing", namespace, body: { data: {} } },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      ),
    );
    expect(absent.code).toBe(404);
  });

  it("deletes a collection by label selector, leaving other objects alone", async () => {
    const namespace = await newNamespace();
    await core.createNamespacedService({
      namespace,
      body: { metadata: { name: "ours", labels: { "app.kubernetes.io/managed-by": "dbplane" } } },
    });
    await core.createNamespacedService({ namespace, body: { metadata: { name: "theirs" } } });
    await core.deleteCollectionNamespacedService({
      namespace,
      labelSelector: "app.kubernetes.io/managed-by=dbplane",
    });
    expect(double.list("Service", { namespace }).map((s) => s.metadata?.name)).toEqual(["theirs"]);
  });

  it("patches the status subresource with a merge patch", async () => {
    const namespace = await newNamespace();
    await apps.createNamespacedStatefulSet({ namespace, body: statefulSet("db", 2) });
    const patched = await apps.patchNamespacedStatefulSetStatus(
      { name: "db", namespace, body: { status: { readyReplicas: 1, replicas: 2 }, spec: { replicas: 5 } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    expect(patched.status).toEqual({ readyReplicas: 1, replicas: 2 });
    expect(patched.spec?.replicas).toBe(2);
  });

  it("lets tests read, write and delete objects directly", async () => {
    const namespace = await newNamespace();
    const put = double.put({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "svc", namespace },
      spec: { ports: [] },
    });
    expect(put.metadata?.uid).toBeDefined();
    const read = await core.readNamespacedService({ name: "svc", namespace });
    expect(read.metadata?.resourceVersion).toBe(put.metadata?.resourceVersion);
    expect(double.list("Service", { namespace }).map((s) => s.metadata?.name)).toEqual(["svc"]);
    expect(double.delete("Service", namespace, "svc")).toBe(true);
    expect(double.get("Service", namespace, "svc")).toBeUndefined();
    expect(() => double.get("Cluster", namespace, "x")).toThrow(/no resource of kind Cluster/);
  });
});
