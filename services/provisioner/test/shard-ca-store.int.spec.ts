import { X509Certificate } from "node:crypto";
import { connectKube } from "@dbplane/kube";
import { createLogger } from "@dbplane/service-kit";
import { type KubeApiDouble, startKubeApiDouble } from "@dbplane/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadShardCa, ShardCaInvalidError } from "../src/drivers/kubernetes/shard-ca-store.ts";

let kube: KubeApiDouble;
const logger = createLogger({ name: "provisioner", level: "silent" });

beforeAll(async () => {
  kube = await startKubeApiDouble();
});
afterAll(() => kube?.close());

describe("the provisioner's shard CA in the API", () => {
  it("is made once: replicas loading it together all get the one that was stored", async () => {
    const source = { namespace: "default", name: "race-ca" };
    // Separate clients, as separate provisioner replicas would have.
    const loads = await Promise.all(
      Array.from({ length: 4 }, () =>
        loadShardCa(connectKube(kube.kubeConfigPath).objects, source, "test", logger),
      ),
    );
    const secretData = kube.get("Secret", "default", "race-ca")?.data as Record<string, string> | undefined;
    const stored = Buffer.from(secretData?.["tls.crt"] ?? "", "base64").toString();
    for (const ca of loads) expect(ca.certPem).toBe(stored);
    // They did race: more than one create reached the server, and only one Secret was stored.
    const creates = kube.requests.filter(
      (r) => r.method === "POST" && r.path === "/api/v1/namespaces/default/secrets",
    );
    expect(creates.length).toBeGreaterThan(1);
    expect(new X509Certificate(stored).ca).toBe(true);
    expect(kube.get("ConfigMap", "default", "race-ca")?.data).toEqual({ "ca.crt": stored });
    const again = await loadShardCa(connectKube(kube.kubeConfigPath).objects, source, "test", logger);
    expect(again.certPem).toBe(stored);
  });

  it("refuses a Secret that holds no certificate and key, naming it and nothing of its content", async () => {
    kube.put({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "broken-ca", namespace: "default" },
      data: { "tls.crt": Buffer.from("not a certificate").toString("base64") },
    });
    const load = loadShardCa(
      connectKube(kube.kubeConfigPath).objects,
      { namespace: "default", name: "broken-ca" },
      "test",
      logger,
    );
    await expect(load).rejects.toThrow(ShardCaInvalidError);
    await expect(load).rejects.toThrow(/default\/broken-ca: tls\.crt and tls\.key must be a PEM certificate/);
    await expect(load).rejects.not.toThrow(/not a certificate/);
    expect(kube.get("ConfigMap", "default", "broken-ca")).toBeUndefined();
  });
});
