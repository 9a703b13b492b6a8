import { randomBytes } from "node:crypto";
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeTestCa } from "@dbplane/testkit";
import type { KubernetesObject } from "@kubernetes/client-node";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  newShardCa,
  parseShardCa,
  shardDnsNames,
  shardServerTls,
} from "../../src/drivers/kubernetes/shard-certificates.ts";
import { shardManifests } from "../../src/drivers/kubernetes/shard-manifests.ts";
import { freeLocalPort, ownedDir, writeOwned } from "../../src/drivers/local/cluster-files.ts";
import { PgBinaryFinder } from "../../src/drivers/local/pg-binaries.ts";
import { runProgram } from "../../src/drivers/local/run-program.ts";
import { resolveServerUser, type ServerUser } from "../../src/drivers/local/server-user.ts";

/*
 * The Kubernetes driver's shard configuration on a real PostgreSQL: its postgresql.conf and
 * pg_hba.conf as the driver renders them (paths moved from the pod's to a temp directory), and a
 * certificate and key from the provisioner's CA laid out as the kubelet mounts the `-tls` Secret
 * (root-owned, group postgres, key 0640). 127.0.0.2 plays the pod network.
 */
const POD_NETWORK_HOST = "127.0.0.2";
const REPLICA_HOST = "shop-shard-0-1.shop-shard-0-headless.shards.svc";

let dir: string;
let user: ServerUser;
let stop: () => Promise<void> = async () => {};
let port: number;
let ca: string;
const password = randomBytes(24).toString("base64url");

/** The ConfigMap data of shard 0 of `shop`, as the driver renders it. */
function renderedConfig(): Record<string, string> {
  const objects = shardManifests({
    spec: {
      name: "shop",
      shards: 1,
      replicasPerShard: 1,
      postgresVersion: 15,
      storage: { size: "1Gi" },
      resources: { memory: "128Mi" },
    } as never,
    shard: 0,
    replicas: 1,
    namespace: "shards",
    image: "postgres",
    password,
    monitor: { password: "x", verifier: "x" },
    reshard: { password: "x", verifier: "x" },
    network: { podCidrs: [`${POD_NETWORK_HOST}/32`], platformNamespace: undefined },
  });
  const configMap = objects.find((o: KubernetesObject) => o.kind === "ConfigMap") as unknown as {
    data: Record<string, string>;
  };
  return configMap.data;
}

beforeAll(async () => {
  const [bins] = await new PgBinaryFinder(process.env.DBPLANE_PG_BIN_DIR).all();
  if (!bins) throw new Error("no PostgreSQL programs (apt-get install postgresql)");
  user = await resolveServerUser("postgres");
  dir = await mkdtemp(join(tmpdir(), "dbplane-k8s-tls-"));
  await chmod(dir, 0o711);
  const data = join(dir, "data");
  const etc = join(dir, "etc");
  await ownedDir(join(dir, "run"), user);
  await mkdir(join(etc, "tls"), { recursive: true, mode: 0o755 });

  // The Secret as the kubelet mounts it: root-owned, the pod's fsGroup (postgres) as group.
  const shardCa = newShardCa();
  ca = shardCa.certPem;
  const tls = shardServerTls(
    {},
    parseShardCa(shardCa.certPem, shardCa.keyPem),
    shardDnsNames("shop", 0, "shards"),
  );
  await writeFile(join(etc, "tls", "tls.crt"), tls["tls.crt"], { mode: 0o644 });
  await writeFile(join(etc, "tls", "tls.key"), tls["tls.key"], { mode: 0o640 });
  if (user.gid !== undefined) await chown(join(etc, "tls", "tls.key"), 0, user.gid);
  else await chmod(join(etc, "tls", "tls.key"), 0o600);

  const config = renderedConfig();
  const moved = (text: string) =>
    text.replaceAll("/var/lib/postgresql/data/pgdata", data).replaceAll("/etc/dbplane", etc);
  await writeFile(join(etc, "postgresql.conf"), moved(config["postgresql.conf"]!), { mode: 0o644 });
  await writeFile(join(etc, "pg_hba.conf"), config["pg_hba.conf"]!, { mode: 0o644 });

  await ownedDir(data, user);
  await writeOwned(join(dir, "run", "pw"), password, user);
  await runProgram(
    bins.path("initdb"),
    ["-D", data, "-U", "dbplane", `--pwfile=${join(dir, "run", "pw")}`, "-N"],
    {
      user,
      timeoutMs: 120_000,
    },
  );
  port = await freeLocalPort();
  const options = [
    `-c config_file=${join(etc, "postgresql.conf")}`,
    `-c port=${port}`,
    `-c listen_addresses=127.0.0.1,${POD_NETWORK_HOST}`,
    `-c unix_socket_directories=${join(dir, "run")}`,
    "-c fsync=off",
  ].join(" ");
  const log = join(dir, "run", "server.log");
  await runProgram(bins.path("pg_ctl"), ["-D", data, "-w", "-l", log, "-o", options, "start"], {
    user,
    timeoutMs: 120_000,
  });
  stop = async () => {
    await runProgram(bins.path("pg_ctl"), ["-D", data, "-m", "immediate", "-w", "stop"], { user }).catch(
      () => {},
    );
  };
}, 180_000);
afterAll(async () => {
  await stop();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 60_000);

/** A socket whose source is the "pod network" address: the kernel would pick 127.0.0.1 otherwise. */
class PodNetworkSocket extends Socket {
  override connect(...args: unknown[]): this {
    const [port, host] = args as [number, string];
    return super.connect({ port, host, localAddress: POD_NETWORK_HOST });
  }
}

async function sslOfSession(host: string, ssl: pg.ClientConfig["ssl"]): Promise<boolean | undefined> {
  const client = new pg.Client({
    host,
    port,
    user: "dbplane",
    password,
    database: "postgres",
    ssl,
    ...(host === POD_NETWORK_HOST && { stream: () => new PodNetworkSocket() }),
  });
  await client.connect();
  try {
    const { rows } = await client.query<{ ssl: boolean }>(
      "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
    );
    return rows[0]?.ssl;
  } finally {
    await client.end();
  }
}

describe("Kubernetes shard configuration on a real PostgreSQL (issue 16 item 8)", () => {
  it("serves TLS with the provisioner's key and certificate, the key root-owned 0640 as mounted", async () => {
    // As the router reaches a replica, a standby its primary (pod 0), the backup Job the Service.
    const names = [
      REPLICA_HOST,
      "shop-shard-0-0.shop-shard-0-headless.shards.svc",
      "shop-shard-0.shards.svc",
    ];
    for (const servername of names)
      expect(
        await sslOfSession(POD_NETWORK_HOST, { ca, servername, rejectUnauthorized: true }),
        servername,
      ).toBe(true);
  });

  it("refuses a plain-text login from the pod network (hostssl)", async () => {
    await expect(sslOfSession(POD_NETWORK_HOST, false)).rejects.toThrow(
      /no pg_hba\.conf entry.*no encryption/,
    );
  });

  it("is refused by a client that trusts another CA (verify-full)", async () => {
    const other = await makeTestCa();
    try {
      await expect(
        sslOfSession(POD_NETWORK_HOST, {
          ca: other.cert,
          servername: REPLICA_HOST,
          rejectUnauthorized: true,
        }),
      ).rejects.toThrow(/certificate/);
    } finally {
      await other.remove();
    }
  });

  it("still lets the pod's own containers in over loopback with the password (the app-role container)", async () => {
    expect(await sslOfSession("127.0.0.1", false)).toBe(false);
  });
});
