import { type KubeApiDouble, type KubeObject, startKubeApiDouble } from "@dbplane/testkit";
import type { V1ConfigMap } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  applyObject,
  connectKube,
  deleteObject,
  type KubeClient,
  labelSelector,
  listLabelled,
  readObject,
} from "../src/index.ts";

let kube: KubeApiDouble;
let client: KubeClient;

beforeAll(async () => {
  kube = await startKubeApiDouble();
  client = connectKube(kube.kubeConfigPath);
});
afterAll(() => kube?.close());

const configMap = (name: string, labels: Record<string, string>, value = "1"): V1ConfigMap => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace: "default", labels },
  data: { value },
});
const header = (name: string) => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace: "default" },
});

describe("@dbplane/kube against the Kubernetes API double", () => {
  it("applies server-side: creates, changes nothing when unchanged, and takes fields back by force", async () => {
    const first = await applyObject(client.objects, configMap("a", { team: "x" }), "dbplane-test");
    const again = await applyObject(client.objects, configMap("a", { team: "x" }), "dbplane-test");
    expect(again.metadata?.resourceVersion).toBe(first.metadata?.resourceVersion);
    await applyObject(client.objects, configMap("a", { team: "x" }, "2"), "someone-else");
    const back = await applyObject(client.objects, configMap("a", { team: "x" }), "dbplane-test");
    expect(back.data?.value).toBe("1");
  });

  it("reads and deletes tolerantly: undefined and false for what does not exist", async () => {
    expect(await readObject(client.objects, header("missing"))).toBeUndefined();
    expect(await deleteObject(client.objects, header("missing"))).toBe(false);
    expect(await deleteObject(client.objects, header("a"))).toBe(true);
    expect(kube.get("ConfigMap", "default", "a")).toBeUndefined();
  });

  it("lists by labels, with kind and apiVersion filled in", async () => {
    kube.put(configMap("b", { app: "p", tier: "db" }) as KubeObject);
    kube.put(configMap("c", { app: "p" }) as KubeObject);
    expect(labelSelector({ app: "p", tier: "db" })).toBe("app=p,tier=db");
    const found = await listLabelled(client.objects, "v1", "ConfigMap", "default", { app: "p", tier: "db" });
    expect(found.map((o) => [o.apiVersion, o.kind, o.metadata?.name])).toEqual([["v1", "ConfigMap", "b"]]);
  });
});
