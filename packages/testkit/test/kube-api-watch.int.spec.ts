import {
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  makeInformer,
  type V1StatefulSet,
  Watch,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type KubeApiDouble, startKubeApiDouble, uniqueName, waitFor } from "../src/index.ts";

let double: KubeApiDouble;
let kc: KubeConfig;
let core: CoreV1Api;
let apps: AppsV1Api;

beforeAll(async () => {
  double = await startKubeApiDouble();
  kc = new KubeConfig();
  kc.loadFromString(double.kubeConfigYaml);
  core = kc.makeApiClient(CoreV1Api);
  apps = kc.makeApiClient(AppsV1Api);
});
afterAll(() => double.close());

async function newNamespace(): Promise<string> {
  const name = uniqueName("ns").replace(/_/g, "-");
  await core.createNamespace({ body: { metadata: { name } } });
  return name;
}

function statefulSet(name: string, replicas = 1, labels: Record<string, string> = {}): V1StatefulSet {
  return {
    metadata: { name, labels: { app: name, ...labels } },
    spec: {
      replicas,
      serviceName: name,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: "pg", image: "postgres:17" }] },
      },
    },
  };
}

interface Seen {
  type: string;
  name: string | undefined;
  object: Record<string, unknown> & { metadata?: { resourceVersion?: string; name?: string }; code?: number };
}

/** A raw client-node watch that records what it sees and whether it ended. */
async function watchRecording(path: string, query: Record<string, string | number | boolean>) {
  const seen: Seen[] = [];
  let ended: { err: unknown } | undefined;
  const request = await new Watch(kc).watch(
    path,
    query,
    (type, object) => seen.push({ type, name: object?.metadata?.name, object }),
    (err) => {
      ended = { err };
    },
  );
  return { seen, ended: () => ended, abort: () => request.abort() };
}

describe("Kubernetes API double: informers and watches", () => {
  it("feeds makeInformer on StatefulSets with add, update and delete", async () => {
    const namespace = await newNamespace();
    const path = `/apis/apps/v1/namespaces/${namespace}/statefulsets`;
    const informer = makeInformer(kc, path, () => apps.listNamespacedStatefulSet({ namespace }));
    const events: string[] = [];
    informer.on("add", (obj) => events.push(`add ${obj.metadata?.name}`));
    informer.on("update", (obj) =>
      events.push(`update ${obj.metadata?.name} ready=${obj.status?.readyReplicas ?? 0}`),
    );
    informer.on("delete", (obj) => events.push(`delete ${obj.metadata?.name}`));
    await informer.start();
    try {
      await apps.createNamespacedStatefulSet({ namespace, body: statefulSet("db", 2) });
      await waitFor(() => events.includes("add db"), { what: "add" });
      double.markReady("StatefulSet", namespace, "db");
      await waitFor(() => events.includes("update db ready=2"), { what: "update with ready replicas" });
      await apps.deleteNamespacedStatefulSet({ name: "db", namespace });
      await waitFor(() => events.includes("delete db"), { what: "delete" });
      expect(events).toEqual(["add db", "update db ready=2", "delete db"]);
    } finally {
      await informer.stop();
    }
  });

  it("makes an informer relist after expireWatches (410 Gone) and keep working, missing nothing", async () => {
    const namespace = await newNamespace();
    let lists = 0;
    const informer = makeInformer(kc, `/apis/apps/v1/namespaces/${namespace}/statefulsets`, () => {
      lists++;
      return apps.listNamespacedStatefulSet({ namespace });
    });
    const events: string[] = [];
    informer.on("add", (obj) => events.push(`add ${obj.metadata?.name}`));
    informer.on("delete", (obj) => events.push(`delete ${obj.metadata?.name}`));
    await informer.start();
    try {
      await apps.createNamespacedStatefulSet({ namespace, body: statefulSet("before") });
      await waitFor(() => events.includes("add before"), { what: "first add" });
      await waitFor(() => double.openWatches > 0, { what: "the informer's watch" });
      expect(lists).toBe(1);

      double.expireWatches();
      // Changes made while the informer is disconnected reach it only through the relist.
      double.delete("StatefulSet", namespace, "before");
      double.put({
        apiVersion: "apps/v1",
        kind: "StatefulSet",
        metadata: { name: "during", namespace },
        spec: {},
      });

      await waitFor(() => lists === 2, { what: "the relist after 410" });
      await waitFor(() => events.includes("add during") && events.includes("delete before"), {
        what: "relist diff",
      });
      await apps.createNamespacedStatefulSet({ namespace, body: statefulSet("after") });
      await waitFor(() => events.includes("add after"), {
        what: "an add after the relist",
        timeoutMs: 15_000,
      });
      expect(
        informer
          .list(namespace)
          .map((s) => s.metadata?.name)
          .sort(),
      ).toEqual(["after", "during"]);
      expect(events.filter((e) => e === "add during")).toHaveLength(1);
    } finally {
      await informer.stop();
    }
  });

  it("answers a watch from an expired resourceVersion with an ERROR event carrying 410 Expired", async () => {
    const namespace = await newNamespace();
    const created = await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "c" } } });
    double.expireWatches();
    const watch = await watchRecording(`/api/v1/namespaces/${namespace}/configmaps`, {
      resourceVersion: created.metadata!.resourceVersion!,
    });
    await waitFor(() => watch.ended(), { what: "the watch to end" });
    expect(watch.seen).toHaveLength(1);
    expect(watch.seen[0]?.type).toBe("ERROR");
    expect(watch.seen[0]?.object).toMatchObject({ kind: "Status", code: 410, reason: "Expired" });
  });

  it("replays events after a resourceVersion, then streams live ones", async () => {
    const namespace = await newNamespace();
    const start = await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "a" } } });
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "b" } } });
    await core.deleteNamespacedConfigMap({ name: "a", namespace });
    const watch = await watchRecording(`/api/v1/namespaces/${namespace}/configmaps`, {
      resourceVersion: start.metadata!.resourceVersion!,
    });
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "c" } } });
    await waitFor(() => watch.seen.length === 3, { what: "replayed and live events" });
    expect(watch.seen.map((e) => `${e.type} ${e.name}`)).toEqual(["ADDED b", "DELETED a", "ADDED c"]);
    const rvs = watch.seen.map((e) => Number(e.object.metadata?.resourceVersion));
    expect([...rvs].sort((x, y) => x - y)).toEqual(rvs);
    watch.abort();
  });

  it("sends current objects as ADDED to a watch without resourceVersion, and bookmarks when asked", async () => {
    const namespace = await newNamespace();
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "here" } } });
    const watch = await watchRecording(`/api/v1/namespaces/${namespace}/configmaps`, {
      allowWatchBookmarks: true,
    });
    await waitFor(() => watch.seen.length === 1, { what: "the initial ADDED" });
    double.sendBookmarks();
    await waitFor(() => watch.seen.length === 2, { what: "a bookmark" });
    expect(watch.seen.map((e) => e.type)).toEqual(["ADDED", "BOOKMARK"]);
    expect(watch.seen[1]?.object).toMatchObject({
      kind: "ConfigMap",
      metadata: { resourceVersion: double.resourceVersion },
    });
    watch.abort();
  });

  it("turns label changes into ADDED/DELETED on a label-selected watch", async () => {
    const namespace = await newNamespace();
    const created = await apps.createNamespacedStatefulSet({
      namespace,
      body: statefulSet("db", 1, { role: "primary" }),
    });
    const watch = await watchRecording(`/apis/apps/v1/namespaces/${namespace}/statefulsets`, {
      labelSelector: "role=primary",
      resourceVersion: created.metadata!.resourceVersion!,
    });
    const relabel = async (role: string) => {
      const live = await apps.readNamespacedStatefulSet({ name: "db", namespace });
      await apps.replaceNamespacedStatefulSet({
        name: "db",
        namespace,
        body: { ...live, metadata: { ...live.metadata, labels: { app: "db", role } } },
      });
    };
    await relabel("replica");
    await relabel("primary");
    double.setStatus("StatefulSet", namespace, "db", { replicas: 1 });
    await waitFor(() => watch.seen.length === 3, { what: "three events" });
    expect(watch.seen.map((e) => e.type)).toEqual(["DELETED", "ADDED", "MODIFIED"]);
    watch.abort();
  });

  it("streams newline-delimited JSON for watch=1 over plain HTTP", async () => {
    const namespace = await newNamespace();
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "c" } } });
    const controller = new AbortController();
    const res = await fetch(`${double.url}/api/v1/namespaces/${namespace}/configmaps?watch=1`, {
      signal: controller.signal,
    });
    const reader = res.body!.getReader();
    const { value } = await reader.read();
    const line = JSON.parse(new TextDecoder().decode(value).split("\n")[0]!);
    expect(line).toMatchObject({ type: "ADDED", object: { kind: "ConfigMap", metadata: { name: "c" } } });
    controller.abort();
    await waitFor(() => double.openWatches === 0, { what: "the watch to close" });
  });

  it("refuses a watch from a resourceVersion that is not a number", async () => {
    const res = await fetch(`${double.url}/api/v1/pods?watch=true&resourceVersion=abc`);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ kind: "Status", reason: "BadRequest", code: 400 });
  });

  it("ends a watch after timeoutSeconds and on close of the double", async () => {
    const namespace = await newNamespace();
    const timed = await watchRecording(`/api/v1/namespaces/${namespace}/pods`, { timeoutSeconds: 1 });
    await waitFor(() => timed.ended(), { what: "the timed watch to end" });
    expect(timed.ended()?.err).toBeNull();

    const other = await startKubeApiDouble();
    const otherKc = new KubeConfig();
    otherKc.loadFromString(other.kubeConfigYaml);
    let ended = false;
    await new Watch(otherKc).watch(
      "/api/v1/pods",
      {},
      () => {},
      () => {
        ended = true;
      },
    );
    await waitFor(() => other.openWatches === 1, { what: "the watch to open" });
    await other.close();
    await waitFor(() => ended, { what: "the watch to end on close" });
  });
});
