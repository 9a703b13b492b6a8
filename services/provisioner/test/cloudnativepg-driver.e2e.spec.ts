import { X509Certificate } from "node:crypto";
import type { DatabaseReady } from "@dbplane/contracts";
import {
  httpClient,
  type KubeApiDouble,
  type ServiceReplica,
  startKubeApiDouble,
  waitFor,
} from "@dbplane/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CNPG_CRD_FILES, cnpgCrd, cnpgValidator, schemaErrors } from "./cnpg-crds.ts";
import { createProvisionerWorld, type ProvisionerWorld } from "./provisioner-world.ts";

let world: ProvisionerWorld;
let kube: KubeApiDouble;
let replica: ServiceReplica;
let api: ReturnType<typeof httpClient>;
const ns = "default";
const managed = "app.kubernetes.io/managed-by=dbplane,dbplane.io/database=shop";
const Cluster = { apiVersion: "postgresql.cnpg.io/v1", kind: "Cluster" } as const;
const Backup = { apiVersion: "postgresql.cnpg.io/v1", kind: "Backup" } as const;
const HEALTHY = "Cluster in healthy state";

beforeAll(async () => {
  kube = await startKubeApiDouble();
  kube.put({ apiVersion: "v1", kind: "Namespace", metadata: { name: "dbplane" } });
  // CloudNativePG's own CRDs, as `kubectl apply` of the operator would store them.
  for (const plural of CNPG_CRD_FILES) kube.put(cnpgCrd(plural));
  world = await createProvisionerWorld();
  replica = await world.startReplica({
    env: {
      DBPLANE_PROVISIONER_DRIVER: "cloudnativepg",
      DBPLANE_KUBECONFIG: kube.kubeConfigPath,
      DBPLANE_KUBE_NAMESPACE: ns,
      DBPLANE_KUBE_PLATFORM_NAMESPACE: "dbplane",
      DBPLANE_KUBE_SECRET_READERS: "router=dbplane-router,collector=dbplane-collector",
      DBPLANE_RESYNC_INTERVAL_MS: "200",
      DBPLANE_BACKUP_S3_URL: "s3://dbplane-backups/test",
      DBPLANE_BACKUP_S3_ENDPOINT: "http://minio.example:9000",
      DBPLANE_BACKUP_S3_SECRET: "s3-credentials",
      DBPLANE_PROVISIONER_ROUTER_PG_HOST: "dbplane-router.default.svc",
    },
  });
  api = httpClient(replica.base, world.token());
}, 60_000);
afterAll(async () => {
  await world?.dispose();
  await kube?.close();
}, 60_000);

// biome-ignore lint/suspicious/noExplicitAny: manifest inspection
const cluster = (n: number) => kube.get(Cluster, ns, `shop-shard-${n}`) as any;
const clusterNames = () =>
  kube
    .list(Cluster, { namespace: ns, labelSelector: managed })
    .map((o) => o.metadata?.name)
    .sort();
/** What CloudNativePG's controller writes when the instances are as the spec says. */
const healthy = (n: number, primary = `shop-shard-${n}-1`) =>
  kube.setStatus(Cluster, ns, `shop-shard-${n}`, {
    phase: HEALTHY,
    instances: cluster(n).spec.instances,
    readyInstances: cluster(n).spec.instances,
    currentPrimary: primary,
    targetPrimary: primary,
    writeService: `shop-shard-${n}-rw`,
    readService: `shop-shard-${n}-r`,
  });
const operation = async (id: string) => (await api.call("GET", `/v1/operations/${id}`)).body.state;
const succeeded = (id: string) =>
  waitFor(async () => (await operation(id)) === "succeeded", { timeoutMs: 20_000 });
const passes = (outcome: string) => replica.metric("dbplane_provisioner_reconcile_passes_total", { outcome });
const OUTCOMES = ["idle", "progressed", "ready", "failed", "deleted", "retry"];
const allPasses = async () => {
  let sum = 0;
  for (const outcome of OUTCOMES) sum += (await passes(outcome)) ?? 0;
  return sum;
};
/** Waits until the loop has made a few passes more: whatever it does with the state now, it has done. */
const passesAfterNow = async () => {
  const before = await allPasses();
  await waitFor(async () => (await allPasses()) >= before + 3, { timeoutMs: 20_000 });
};

describe("CloudNativePG driver against the API double with CloudNativePG's CRDs", () => {
  /** Every password and verifier the driver wrote: never in a log line, event or HTTP response. */
  const passwords: string[] = [];

  it("makes one valid Cluster per shard and is ready only once each Cluster's status says healthy", async () => {
    const res = await api.call("POST", "/v1/databases", {
      name: "shop",
      shards: 2,
      replicasPerShard: 1,
      postgresVersion: 17,
      storage: { size: "5Gi", storageClass: "fast" },
      resources: { cpu: "500m", memory: "1Gi" },
      synchronous: { replicas: 1 },
    });
    expect(res.status).toBe(202);
    await waitFor(() => clusterNames().length === 2, { timeoutMs: 20_000 });
    expect(clusterNames()).toEqual(["shop-shard-0", "shop-shard-1"]);
    const validate = cnpgValidator("clusters");
    for (const n of [0, 1]) {
      expect(schemaErrors(validate, cluster(n))).toEqual([]);
      expect(cluster(n).spec).toMatchObject({
        instances: 2,
        enableSuperuserAccess: false,
        storage: { size: "5Gi", storageClass: "fast" },
        // Synchronous mode is CloudNativePG's quorum commit.
        postgresql: {
          parameters: { wal_level: "logical" },
          synchronous: { method: "any", number: 1, dataDurability: "required" },
        },
        bootstrap: { initdb: { database: "shop", owner: "app", secret: { name: "shop-app" } } },
      });
    }
    // Not ready while CloudNativePG is still creating: the status is what counts.
    kube.setStatus(Cluster, ns, "shop-shard-0", { phase: "Setting up primary", readyInstances: 0 });
    await passesAfterNow();
    expect(await operation(res.body.operationId)).toBe("pending");
    healthy(0);
    healthy(1);
    await succeeded(res.body.operationId);

    const secrets = kube
      .list("Secret", { namespace: ns, labelSelector: managed })
      .map((o) => o.metadata?.name)
      .sort();
    expect(secrets).toEqual([
      "shop-app",
      "shop-shard-0-app",
      "shop-shard-0-monitor",
      "shop-shard-0-reshard",
      "shop-shard-0-tls",
      "shop-shard-1-app",
      "shop-shard-1-monitor",
      "shop-shard-1-reshard",
      "shop-shard-1-tls",
    ]);
    // biome-ignore lint/suspicious/noExplicitAny: manifest inspection
    const app = kube.get("Secret", ns, "shop-app") as any;
    expect(app.type).toBe("kubernetes.io/basic-auth");
    expect(Buffer.from(app.data.username, "base64").toString()).toBe("app");
    for (const name of secrets) {
      // biome-ignore lint/suspicious/noExplicitAny: manifest inspection
      const data = (kube.get("Secret", ns, String(name)) as any).data;
      const keys = String(name).endsWith("-tls") ? ["tls.key"] : ["password", "verifier"];
      for (const key of keys) passwords.push(Buffer.from(data[key], "base64").toString());
    }
    // The server certificate: the provisioner's CA (as the router and collector trust it), naming -rw and -ro.
    const caPem = (
      kube.get("ConfigMap", "dbplane", "dbplane-shard-ca") as unknown as { data: Record<string, string> }
    ).data["ca.crt"];
    for (const n of [0, 1]) {
      expect(cluster(n).spec.certificates).toEqual({
        serverTLSSecret: `shop-shard-${n}-tls`,
        serverCASecret: `shop-shard-${n}-tls`,
      });
      // biome-ignore lint/suspicious/noExplicitAny: manifest inspection
      const tls = (kube.get("Secret", ns, `shop-shard-${n}-tls`) as any).data;
      const cert = new X509Certificate(Buffer.from(tls["tls.crt"], "base64"));
      expect(cert.verify(new X509Certificate(String(caPem)).publicKey)).toBe(true);
      expect(cert.checkHost(`shop-shard-${n}-rw.default.svc`)).toBeDefined();
      expect(cert.checkHost(`shop-shard-${n}-ro.default.svc`)).toBeDefined();
      expect(Buffer.from(tls["ca.crt"], "base64").toString()).toBe(caPem);
    }

    const ready = await waitFor(async () =>
      (await world.events()).find((e) => e.type.endsWith("database.ready.v1")),
    );
    const data = ready.data as DatabaseReady;
    const shard0 = data.shards.find((s) => s.shard === 0);
    expect(shard0).toEqual({
      shard: 0,
      primary: { host: "shop-shard-0-rw.default.svc", port: 5432 },
      replicas: [{ host: "shop-shard-0-ro.default.svc", port: 5432 }],
      dbname: "shop",
      user: "app",
      passwordRef: { kind: "secret", namespace: ns, name: "shop-shard-0-app", key: "password" },
      monitoring: {
        user: "dbplane_monitor",
        passwordRef: { kind: "secret", namespace: ns, name: "shop-shard-0-monitor", key: "password" },
      },
      reshard: {
        user: "dbplane_reshard",
        passwordRef: { kind: "secret", namespace: ns, name: "shop-shard-0-reshard", key: "password" },
      },
    });
    // CloudNativePG's superuser Secret is handed to no one.
    expect(JSON.stringify(data)).not.toContain("superuser");
    expect(data.application?.passwordRef).toEqual({
      kind: "secret",
      namespace: ns,
      name: "shop-app",
      key: "password",
    });
  }, 60_000);

  it("scales by changing the Cluster's instances, and is ready again once they are all ready", async () => {
    const res = await api.call("POST", "/v1/databases/shop/replicas", { shard: 1, replicas: 2 });
    expect(res.status).toBe(202);
    await waitFor(() => cluster(1).spec.instances === 3, { timeoutMs: 20_000 });
    expect(cluster(0).spec.instances).toBe(2);
    // Still two of three ready (CloudNativePG is making the new replica).
    kube.setStatus(Cluster, ns, "shop-shard-1", {
      ...cluster(1).status,
      phase: "Creating a new replica",
      readyInstances: 2,
    });
    await passesAfterNow();
    expect(await operation(res.body.operationId)).toBe("pending");
    healthy(1);
    await succeeded(res.body.operationId);
  }, 60_000);

  it("follows CloudNativePG's failover: a new currentPrimary keeps the -rw endpoint, and the database stays ready", async () => {
    kube.setStatus(Cluster, ns, "shop-shard-0", {
      ...cluster(0).status,
      phase: "Failing over",
      readyInstances: 1,
      currentPrimary: "shop-shard-0-1",
      targetPrimary: "shop-shard-0-2",
    });
    await passesAfterNow();
    // While CloudNativePG promotes, the shard's endpoint is still its -rw Service: nothing to re-point.
    const during = (await api.call("GET", "/v1/databases/shop")).body;
    expect(during.shards[0].primary).toEqual({ host: "shop-shard-0-rw.default.svc", port: 5432 });
    healthy(0, "shop-shard-0-2");
    await passesAfterNow();
    const db = await waitFor(
      async () => {
        const body = (await api.call("GET", "/v1/databases/shop")).body;
        return body.state === "ready" ? body : undefined;
      },
      { timeoutMs: 20_000 },
    );
    const shard0 = db.shards.find((s: { shard: number }) => s.shard === 0);
    expect(shard0.primary).toEqual({ host: "shop-shard-0-rw.default.svc", port: 5432 });
    expect(cluster(0).status.currentPrimary).toBe("shop-shard-0-2");
  }, 60_000);

  it("backs a shard up with a CloudNativePG Backup, done when its status says completed", async () => {
    const res = await api.call("POST", "/v1/databases/shop/backups", {
      backupId: "2026-12-04.nightly",
      shard: 1,
    });
    expect(res.status).toBe(202);
    const backup = await waitFor(
      () => kube.list(Backup, { namespace: ns, labelSelector: `${managed},dbplane.io/shard=1` })[0],
      { timeoutMs: 20_000 },
    );
    expect(schemaErrors(cnpgValidator("backups"), backup)).toEqual([]);
    expect(backup.metadata?.annotations?.["dbplane.io/backup-id"]).toBe("2026-12-04.nightly");
    expect(backup.spec).toEqual({ cluster: { name: "shop-shard-1" }, method: "barmanObjectStore" });
    expect(cluster(1).spec.backup.barmanObjectStore).toMatchObject({
      destinationPath: "s3://dbplane-backups/test/shop",
      endpointURL: "http://minio.example:9000",
    });
    const name = String(backup.metadata?.name);
    kube.setStatus(Backup, ns, name, { phase: "running" });
    await passesAfterNow();
    expect(await operation(res.body.operationId)).toBe("pending");
    kube.setStatus(Backup, ns, name, {
      phase: "completed",
      backupId: "20261204T220000",
      destinationPath: "s3://dbplane-backups/test/shop",
      serverName: "shop-shard-1",
    });
    await succeeded(res.body.operationId);
    const completed = await waitFor(async () =>
      (await world.events()).find((e) => e.type.endsWith("backup.completed.v1")),
    );
    expect(completed.data).toMatchObject({
      shard: 1,
      backupId: "2026-12-04.nightly",
      location: "s3://dbplane-backups/test/shop/shop-shard-1/base/20261204T220000",
    });
  }, 60_000);

  it("restores every shard into a new database through CloudNativePG's recovery bootstrap, to one moment", async () => {
    const res = await api.call("POST", "/v1/databases/shop/backups", { backupId: "full" });
    expect(res.status).toBe(202);
    const backupOf = (shard: number) =>
      kube
        .list(Backup, { namespace: ns, labelSelector: `${managed},dbplane.io/shard=${shard}` })
        .find((b) => b.metadata?.annotations?.["dbplane.io/backup-id"] === "full");
    for (const shard of [0, 1]) {
      const backup = await waitFor(() => backupOf(shard), { timeoutMs: 20_000 });
      kube.setStatus(Backup, ns, String(backup.metadata?.name), {
        phase: "completed",
        backupId: `20261204T23000${shard}`,
        destinationPath: "s3://dbplane-backups/test/shop",
        serverName: `shop-shard-${shard}`,
        beginLSN: "0/3000028",
        endLSN: "0/3000100",
      });
    }
    await succeeded(res.body.operationId);
    const listed = (await api.call("GET", "/v1/databases/shop/backups")).body;
    expect(listed.items.filter((i: { backupId: string }) => i.backupId === "full")).toEqual([
      expect.objectContaining({ shard: 0, startLsn: "0/3000028", stopLsn: "0/3000100" }),
      expect.objectContaining({ shard: 1, startLsn: "0/3000028", stopLsn: "0/3000100" }),
    ]);
    expect(listed.window).not.toBeNull();

    const restore = await api.call("POST", "/v1/databases/shop/restores", {
      backupId: "full",
      into: "shop-copy",
    });
    expect(restore.status).toBe(202);
    // biome-ignore lint/suspicious/noExplicitAny: manifest inspection
    const copy = (n: number) => kube.get(Cluster, ns, `shop-copy-shard-${n}`) as any;
    await waitFor(() => copy(0) && copy(1), { timeoutMs: 20_000 });
    const targets = new Set<string>();
    for (const n of [0, 1]) {
      const spec = copy(n).spec;
      expect(schemaErrors(cnpgValidator("clusters"), copy(n))).toEqual([]);
      expect(spec.bootstrap.initdb).toBeUndefined();
      expect(spec.bootstrap.recovery).toMatchObject({ source: "dbplane-restore-source", database: "shop" });
      targets.add(spec.bootstrap.recovery.recoveryTarget.targetTime);
      expect(spec.externalClusters).toEqual([
        {
          name: "dbplane-restore-source",
          barmanObjectStore: expect.objectContaining({
            destinationPath: "s3://dbplane-backups/test/shop",
            serverName: `shop-shard-${n}`,
          }),
        },
      ]);
      // The restored database archives to its own place, never into the source's.
      expect(spec.backup.barmanObjectStore.destinationPath).toBe("s3://dbplane-backups/test/shop-copy");
      // A subscription restored mid-reshard would reach the live source: no apply worker may start.
      expect(spec.postgresql.parameters).toEqual({
        wal_level: "logical",
        max_logical_replication_workers: "0",
      });
      kube.setStatus(Cluster, ns, `shop-copy-shard-${n}`, {
        phase: HEALTHY,
        instances: spec.instances,
        readyInstances: spec.instances,
        currentPrimary: `shop-copy-shard-${n}-1`,
      });
    }
    expect(targets.size).toBe(1);
    await succeeded(restore.body.operationId);
    const db = (await api.call("GET", "/v1/databases/shop-copy")).body;
    expect(db.shards.map((s: { dbname: string }) => s.dbname)).toEqual(["shop", "shop"]);
    // The restore ends saying what is left, once per restored Cluster.
    const warning = "restored Cluster runs with max_logical_replication_workers=0";
    await waitFor(() => world.output().includes(warning), { timeoutMs: 20_000 });
    await passesAfterNow();
    expect(world.output().split(warning).length - 1).toBe(2);
    // Once a person has removed the leftovers and says so, the workers come back (CloudNativePG restarts).
    const annotated = copy(0);
    annotated.metadata.annotations = { "dbplane.io/reshard-leftovers-removed": "true" };
    kube.put(annotated);
    await waitFor(() => copy(0).spec.postgresql.parameters.max_logical_replication_workers === undefined, {
      timeoutMs: 20_000,
    });
    expect(copy(0).spec.postgresql.parameters).toEqual({ wal_level: "logical" });
    expect(copy(1).spec.postgresql.parameters.max_logical_replication_workers).toBe("0");
  }, 60_000);

  it("refuses PostgreSQL 14 with the field named, before any Cluster is made", async () => {
    const res = await api.call("POST", "/v1/databases", { name: "old", postgresVersion: 14 });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([expect.objectContaining({ field: "body.postgresVersion" })]);
    expect(kube.get(Cluster, ns, "old-shard-0")).toBeUndefined();
  }, 60_000);

  it("delete removes the Clusters and dbplane's Secrets, keeping CloudNativePG's volumes unless asked", async () => {
    kube.put({
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: {
        name: "shop-shard-0-1",
        namespace: ns,
        labels: { "cnpg.io/cluster": "shop-shard-0" },
        ownerReferences: [
          {
            apiVersion: "postgresql.cnpg.io/v1",
            kind: "Cluster",
            name: "shop-shard-0",
            uid: String(cluster(0).metadata.uid),
            controller: true,
          },
        ],
      },
      spec: {},
    });
    const res = await api.call("DELETE", "/v1/databases/shop");
    expect(res.status).toBe(202);
    await succeeded(res.body.operationId);
    expect(clusterNames()).toEqual([]);
    expect(kube.list(Backup, { namespace: ns, labelSelector: managed })).toEqual([]);
    expect(kube.list("Secret", { namespace: ns, labelSelector: managed })).toEqual([]);
    expect(kube.list("Role", { namespace: ns, labelSelector: managed })).toEqual([]);
    // The garbage collector would have taken the claim with its Cluster: its owner reference is gone.
    expect(
      kube.get("PersistentVolumeClaim", ns, "shop-shard-0-1")?.metadata?.ownerReferences,
    ).toBeUndefined();
  }, 60_000);

  it("restores the deleted database from its object store (its backups stay), and refuses one never made with 404", async () => {
    const deleted = await api.call("POST", "/v1/databases/shop/restores", {
      backupId: "full",
      into: "shop-again",
    });
    expect(deleted.status).toBe(202);
    // biome-ignore lint/suspicious/noExplicitAny: manifest inspection
    const again = (n: number) => kube.get(Cluster, ns, `shop-again-shard-${n}`) as any;
    await waitFor(() => again(0) && again(1), { timeoutMs: 20_000 });
    for (const n of [0, 1]) {
      expect(again(n).spec.bootstrap.recovery).toMatchObject({
        source: "dbplane-restore-source",
        database: "shop",
      });
      expect(again(n).spec.externalClusters[0].barmanObjectStore).toMatchObject({
        destinationPath: "s3://dbplane-backups/test/shop",
        serverName: `shop-shard-${n}`,
      });
    }
    const never = await api.call("POST", "/v1/databases/nowhere/restores", { backupId: "full", into: "x" });
    expect(never.status).toBe(404);
  });

  it("refuses a backup retention by count (CloudNativePG keeps by age only): 422 naming the field", async () => {
    const schedule = { cron: "0 3 * * *", timezone: "UTC" };
    const created = await api.call("POST", "/v1/databases", {
      name: "counted",
      shards: 1,
      postgresVersion: 17,
      storage: { size: "1Gi" },
      backup: { schedule, retain: { count: 7 } },
    });
    expect(created.status).toBe(422);
    expect(created.body.errors.map((e: { field: string }) => e.field)).toEqual(["body.backup.retain.count"]);
    expect(created.body.detail).toContain("retain.days");
    expect((await api.call("GET", "/v1/databases/counted")).status).toBe(404);

    const made = await api.call("POST", "/v1/databases", {
      name: "dated",
      shards: 1,
      postgresVersion: 17,
      storage: { size: "1Gi" },
      backup: { schedule, retain: { days: 7 } },
    });
    expect(made.status).toBe(202);
    const policy = await api.call("PUT", "/v1/databases/dated/backup", { schedule, retain: { count: 3 } });
    expect(policy.status).toBe(422);
    expect(policy.body.errors.map((e: { field: string }) => e.field)).toEqual(["body.retain.count"]);
  });

  it("no password or verifier appears in any log line, event or HTTP response", async () => {
    expect(passwords.length).toBe(16);
    const events = (await world.events()).map((e) => e.raw).join("\n");
    const leaked = passwords.filter(
      (p) => world.output().includes(p) || events.includes(p) || api.bodies.join("\n").includes(p),
    );
    expect(leaked.length).toBe(0);
  });

  it("a name made again archives under its own serverName; one whose backups are kept is refused with 409", async () => {
    // biome-ignore lint/suspicious/noExplicitAny: manifest inspection
    const dated = () => kube.get(Cluster, ns, "dated-shard-0") as any;
    await waitFor(() => dated(), { timeoutMs: 20_000 });
    expect(dated().spec.backup.barmanObjectStore.serverName).toBeUndefined();
    const gone = await api.call("DELETE", "/v1/databases/dated");
    expect(gone.status).toBe(202);
    await succeeded(gone.body.operationId);
    const again = await api.call("POST", "/v1/databases", {
      name: "dated",
      shards: 1,
      postgresVersion: 17,
      storage: { size: "1Gi" },
      backup: { schedule: { cron: "0 3 * * *", timezone: "UTC" }, retain: { days: 7 } },
    });
    expect(again.status).toBe(202);
    await waitFor(() => dated(), { timeoutMs: 20_000 });
    expect(schemaErrors(cnpgValidator("clusters"), dated())).toEqual([]);
    expect(dated().spec.backup.barmanObjectStore).toMatchObject({
      destinationPath: "s3://dbplane-backups/test/dated",
      serverName: "dated-shard-0-incarnation-2",
    });

    // "shop" was deleted with its backup "full" kept.
    const shop = await api.call("POST", "/v1/databases", { name: "shop", postgresVersion: 17 });
    expect(shop.status).toBe(409);
    expect(shop.body.detail).toContain("POST /v1/databases/shop/restores");
    expect(clusterNames()).toEqual([]);
  });
});
