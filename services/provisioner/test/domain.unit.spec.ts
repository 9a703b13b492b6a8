import { type CreateDatabase, createDatabase } from "@dbplane/contracts";
import { parseScramVerifier } from "@dbplane/pgwire";
import { describe, expect, it } from "vitest";
import { appCredentialEntries, appRoleStatements, newAppSecret } from "../src/domain/application-role.ts";
import { type DatabaseSpec, sameRequest } from "../src/domain/database-spec.ts";
import { isVerifierOf, monitorRoleStatements } from "../src/domain/monitoring-role.ts";
import { postgresSettings, quantityValue, renderSettings } from "../src/domain/postgres-settings.ts";
import {
  assertSupportedVersion,
  DEFAULT_POSTGRES_VERSION,
  withPostgresVersion,
} from "../src/domain/postgres-version.ts";
import { secretReaderRoles } from "../src/drivers/kubernetes/secret-readers.ts";
import { shardManifests, shardNames } from "../src/drivers/kubernetes/shard-manifests.ts";
import { parseMajor } from "../src/drivers/local/pg-binaries.ts";

/** A stored spec: the request parsed, its PostgreSQL version chosen (17 unless `over` names one). */
const spec = (over: Record<string, unknown> = {}) =>
  withVersion(createDatabase.schema.parse({ name: "orders", storage: { size: "1Gi" }, ...over }));
const withVersion = (request: CreateDatabase): DatabaseSpec => ({
  ...request,
  postgresVersion: request.postgresVersion ?? 17,
});

describe("quantities and postgresql.conf sizes", () => {
  it("reads Kubernetes quantities", () => {
    expect(quantityValue("1Gi")).toBe(1024 ** 3);
    expect(quantityValue("512Mi")).toBe(512 * 1024 ** 2);
    expect(quantityValue("2G")).toBe(2e9);
    expect(quantityValue("500m")).toBe(0.5);
    expect(quantityValue("1.5e9")).toBe(1.5e9);
  });

  it("derives sizes from memory and always sets wal_level=logical", () => {
    const s = postgresSettings("4Gi", 5432);
    expect(s).toMatchObject({
      wal_level: "logical",
      shared_buffers: "1024MB",
      effective_cache_size: "3072MB",
      maintenance_work_mem: "256MB",
      port: 5432,
    });
    expect(postgresSettings("64Gi", 1).maintenance_work_mem).toBe("1024MB");
    expect(renderSettings({ port: 1, wal_level: "logical", odd: "it's" })).toBe(
      "port = 1\nwal_level = 'logical'\nodd = 'it''s'\n",
    );
  });
});

describe("create requests", () => {
  it("are the same regardless of key order and defaults written out", () => {
    expect(
      sameRequest(
        spec(),
        withVersion(createDatabase.schema.parse({ storage: { size: "1Gi" }, name: "orders", shards: 1 })),
      ),
    ).toBe(true);
    expect(sameRequest(spec({ shards: 2 }), spec())).toBe(false);
    expect(sameRequest(spec({ resources: { memory: "1Gi" } }), spec())).toBe(false);
  });
});

describe("PostgreSQL binaries", () => {
  it("reads the major version from --version output", () => {
    expect(parseMajor("pg_ctl (PostgreSQL) 15.8 (Debian 15.8-0+deb12u1)")).toBe(15);
    expect(parseMajor("initdb (PostgreSQL) 17.2")).toBe(17);
    expect(parseMajor("something else")).toBeUndefined();
  });
});

describe("Kubernetes shard manifests", () => {
  const input = {
    spec: spec({ shards: 2, replicasPerShard: 1 }),
    shard: 1,
    replicas: 1,
    namespace: "db",
    image: "postgres",
    password: "pw-xyz",
    monitor: { password: "mon-pw-abc", verifier: "SCRAM-SHA-256$4096:c2FsdA==$a:b" },
    reshard: { password: "rs-pw-abc", verifier: "SCRAM-SHA-256$4096:c2FsdA==$c:d" },
    network: { podCidrs: ["10.244.0.0/16"], platformNamespace: "dbplane" },
  };

  it("are a pure function of the desired state", () => {
    expect(shardManifests(input)).toEqual(shardManifests(input));
  });

  it("name and label every object of the shard", () => {
    const objects = shardManifests(input);
    expect(objects.map((o) => `${o.kind}/${o.metadata?.name}`).sort()).toEqual(
      [
        "ConfigMap/orders-shard-1-config",
        "Secret/orders-shard-1-credentials",
        "Secret/orders-shard-1-monitor",
        "Secret/orders-shard-1-reshard",
        "Service/orders-shard-1",
        "Service/orders-shard-1-headless",
        "Service/orders-shard-1-read",
        "StatefulSet/orders-shard-1",
        "NetworkPolicy/orders-shard-1",
        "PodDisruptionBudget/orders-shard-1",
      ].sort(),
    );
    for (const o of objects) {
      expect(o.metadata?.labels).toEqual({
        "app.kubernetes.io/managed-by": "dbplane",
        "dbplane.io/database": "orders",
        "dbplane.io/shard": "1",
      });
    }
    expect(shardNames("orders", 1).secret).toBe("orders-shard-1-credentials");
  });

  it("let a drain evict one pod of the shard at a time, and spread its pods over nodes", () => {
    const objects = shardManifests(input);
    // biome-ignore lint/suspicious/noExplicitAny: manifest inspection
    const sts = objects.find((o) => o.kind === "StatefulSet") as any;
    // biome-ignore lint/suspicious/noExplicitAny: manifest inspection
    const pdb = objects.find((o) => o.kind === "PodDisruptionBudget") as any;
    expect(pdb).toMatchObject({ apiVersion: "policy/v1" });
    expect(pdb.spec).toEqual({
      maxUnavailable: 1,
      selector: sts.spec.selector,
      unhealthyPodEvictionPolicy: "AlwaysAllow",
    });
    // The budget counts exactly this shard's pods: its selector matches their labels.
    expect(sts.spec.template.metadata.labels).toMatchObject(pdb.spec.selector.matchLabels);
    expect(sts.spec.template.spec.affinity).toEqual({
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          {
            weight: 100,
            podAffinityTerm: {
              labelSelector: sts.spec.selector,
              topologyKey: "kubernetes.io/hostname",
            },
          },
        ],
      },
    });
  });

  it("give the pods no service-account token and accept logins from the pod network only, over TLS", () => {
    const objects = shardManifests(input);
    // biome-ignore lint/suspicious/noExplicitAny: manifest inspection
    const sts = objects.find((o) => o.kind === "StatefulSet") as any;
    expect(sts.spec.template.spec.automountServiceAccountToken).toBe(false);
    // biome-ignore lint/suspicious/noExplicitAny: manifest inspection
    const hba: string = (objects.find((o) => o.kind === "ConfigMap") as any).data["pg_hba.conf"];
    // From the network only `hostssl`; plain `host` only for the pod's own loopback (app-role).
    expect(hba.split("\n").filter((line) => line.startsWith("host"))).toEqual([
      "host all all 127.0.0.1/32 scram-sha-256",
      "host all all ::1/128 scram-sha-256",
      "hostssl all all 10.244.0.0/16 scram-sha-256",
      "hostssl replication all 10.244.0.0/16 scram-sha-256",
    ]);
    expect(() => shardManifests({ ...input, network: { ...input.network, podCidrs: [] } })).toThrow(
      /pod CIDR/,
    );
  });

  it("admit only the shard's own pods and the platform's shard clients", () => {
    // biome-ignore lint/suspicious/noExplicitAny: manifest inspection
    const policy = shardManifests(input).find((o) => o.kind === "NetworkPolicy") as any;
    const shardPods = { "dbplane.io/database": "orders", "dbplane.io/shard": "1" };
    expect(policy.spec).toEqual({
      podSelector: { matchLabels: shardPods },
      policyTypes: ["Ingress"],
      ingress: [
        {
          ports: [{ port: 5432, protocol: "TCP" }],
          from: [
            { podSelector: { matchLabels: shardPods } },
            {
              namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "dbplane" } },
              podSelector: { matchLabels: { "dbplane.io/shard-client": "true" } },
            },
          ],
        },
      ],
    });
    const without = shardManifests({ ...input, network: { ...input.network, platformNamespace: undefined } });
    expect(without.some((o) => o.kind === "NetworkPolicy")).toBe(false);
  });

  it("give the router and the collector a Role naming exactly the Secrets each needs", () => {
    const objects = secretReaderRoles("orders", 1, "db", {
      namespace: "dbplane",
      router: "dbplane-router",
      collector: "dbplane-collector",
    });
    // biome-ignore lint/suspicious/noExplicitAny: manifest inspection
    const roles = objects.filter((o) => o.kind === "Role") as any[];
    expect(Object.fromEntries(roles.map((r) => [r.metadata.name, r.rules]))).toEqual({
      "orders-shard-1-router": [
        {
          apiGroups: [""],
          resources: ["secrets"],
          verbs: ["get"],
          // The reshard role's Secret, never the superuser's (-credentials).
          resourceNames: ["orders-shard-1-reshard", "orders-app"],
        },
      ],
      "orders-shard-1-collector": [
        {
          apiGroups: [""],
          resources: ["secrets"],
          verbs: ["get"],
          resourceNames: ["orders-shard-1-monitor"],
        },
      ],
    });
    // biome-ignore lint/suspicious/noExplicitAny: manifest inspection
    const bindings = objects.filter((o) => o.kind === "RoleBinding") as any[];
    expect(bindings.map((b) => [b.metadata.name, b.roleRef.name, b.subjects])).toEqual([
      [
        "orders-shard-1-router",
        "orders-shard-1-router",
        [{ kind: "ServiceAccount", name: "dbplane-router", namespace: "dbplane" }],
      ],
      [
        "orders-shard-1-collector",
        "orders-shard-1-collector",
        [{ kind: "ServiceAccount", name: "dbplane-collector", namespace: "dbplane" }],
      ],
    ]);
    expect(secretReaderRoles("orders", 1, "db", { namespace: "dbplane" })).toEqual([]);
  });

  it("keep the passwords in the Secret only", () => {
    const objects = shardManifests(input);
    const outside = JSON.stringify(objects.filter((o) => o.kind !== "Secret"));
    for (const secret of ["pw-xyz", "mon-pw-abc", input.monitor.verifier]) {
      expect(outside).not.toContain(secret);
      expect(outside).not.toContain(Buffer.from(secret).toString("base64"));
    }
    // biome-ignore lint/suspicious/noExplicitAny: manifest inspection
    const sts = objects.find((o) => o.kind === "StatefulSet") as any;
    const roles = sts.spec.template.spec.containers.find((c: { name: string }) => c.name === "app-role");
    expect(roles.env).toContainEqual({
      name: "MONITOR_VERIFIER",
      valueFrom: { secretKeyRef: { name: "orders-shard-1-monitor", key: "verifier" } },
    });
    expect(roles.command[2]).toContain("GRANT pg_monitor TO dbplane_monitor");
  });
});

describe("monitoring role", () => {
  it("logs in with pg_monitor and nothing more, with statement logging off first", () => {
    const [first, second, role, grant] = monitorRoleStatements("'v'", false);
    expect([first, second]).toEqual(["SET log_statement = 'none'", "SET log_min_error_statement = 'panic'"]);
    expect(role).toBe(
      "CREATE ROLE dbplane_monitor WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT PASSWORD 'v'",
    );
    expect(grant).toBe("GRANT pg_monitor TO dbplane_monitor");
    expect(monitorRoleStatements("'v'", true)[2]).toMatch(/^ALTER ROLE dbplane_monitor/);
  });

  it("recognises a stored verifier of the password, whatever its salt", () => {
    const { password, verifier } = newAppSecret();
    expect(isVerifierOf(password, verifier)).toBe(true);
    expect(isVerifierOf("other", verifier)).toBe(false);
    expect(isVerifierOf(password, "md5abc")).toBe(false);
    expect(isVerifierOf(password, null)).toBe(false);
  });
});

describe("application credentials", () => {
  it("a new secret is an ASCII password and a SCRAM verifier of it", () => {
    const a = newAppSecret();
    expect(a.password).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(parseScramVerifier(a.verifier).iterations).toBe(4096);
    expect(newAppSecret().password).not.toBe(a.password);
  });

  it("uri and jdbc-uri point at the router and encode the password", () => {
    const entries = appCredentialEntries(
      "shop",
      { password: "p@ss/w:rd?&=", verifier: "SCRAM-SHA-256$4096:x$y:z" },
      { host: "dbplane-router.dbplane.svc", port: 6432 },
    );
    expect(entries).toEqual({
      username: "app",
      password: "p@ss/w:rd?&=",
      verifier: "SCRAM-SHA-256$4096:x$y:z",
      uri: "postgresql://app:p%40ss%2Fw%3Ard%3F%26%3D@dbplane-router.dbplane.svc:6432/shop",
      "jdbc-uri":
        "jdbc:postgresql://dbplane-router.dbplane.svc:6432/shop?user=app&password=p%40ss%2Fw%3Ard%3F%26%3D",
    });
    expect(new URL(entries.uri).password).toBe(encodeURIComponent("p@ss/w:rd?&="));
    const v6 = appCredentialEntries("shop", newAppSecret(), { host: "::1", port: 7432 });
    expect(new URL(v6.uri).host).toBe("[::1]:7432");
  });

  it("the role statements give login and ownership, nothing more, and turn statement logging off first", () => {
    const [first, second, role, owner] = appRoleStatements('we"ird', "'v'", false);
    expect([first, second]).toEqual(["SET log_statement = 'none'", "SET log_min_error_statement = 'panic'"]);
    expect(role).toBe(
      "CREATE ROLE app WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT PASSWORD 'v'",
    );
    expect(owner).toBe('ALTER DATABASE "we""ird" OWNER TO app');
    expect(appRoleStatements("shop", "'v'", true)[2]).toMatch(/^ALTER ROLE app WITH LOGIN NOSUPERUSER/);
  });
});

describe("the PostgreSQL version of a create", () => {
  it("keeps the version asked for, else takes the driver's choice", async () => {
    const request = createDatabase.schema.parse({ name: "orders", storage: { size: "1Gi" } });
    expect((await withPostgresVersion(request, async () => 15)).postgresVersion).toBe(15);
    const asked = createDatabase.schema.parse({ ...request, postgresVersion: 16 });
    expect((await withPostgresVersion(asked, async () => 15)).postgresVersion).toBe(16);
    expect(DEFAULT_POSTGRES_VERSION).toBe(17);
  });

  it("refuses a major older than 15 in every driver, saying why (the reshard role's grant)", () => {
    expect(() => assertSupportedVersion({ postgresVersion: 14 })).toThrow(
      /PostgreSQL 14 is not supported: .*GRANT SET ON PARAMETER.*15 or later/,
    );
    expect(() => assertSupportedVersion({ postgresVersion: 15 })).not.toThrow();
  });
});
