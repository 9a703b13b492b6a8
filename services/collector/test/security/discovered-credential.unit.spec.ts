// Issue 16 (review finding 6): discovery recognises PostgreSQL by an image name and a Service, both
// of which a tenant can imitate, and anyone on the bus could forge `database.discovered`. The
// collector's credential for discovered servers must go only to the hosts the operator names.

import { parseConfig } from "@dbplane/service-kit";
import { describe, expect, it } from "vitest";
import { configSchema } from "../../src/config.ts";
import { discoveredTarget } from "../../src/domain/target-sources.ts";

const found = (host: string) => ({
  id: `uid-${host}`,
  driver: "kubernetes" as const,
  engine: "postgresql" as const,
  endpoint: { host, port: 5432 },
  observedAt: new Date().toISOString(),
});
const credential = { kind: "secret" as const, namespace: "ops", name: "monitor", key: "password" };
const creds = { user: "monitor", credential, credentialHosts: ["pg.prod.svc", "*.db.svc.cluster.local"] };

describe("the discovered-servers credential", () => {
  it("goes to the hosts the operator named, and nowhere else", () => {
    expect(discoveredTarget(found("pg.prod.svc"), creds)?.credential).toEqual(credential);
    expect(discoveredTarget(found("orders.db.svc.cluster.local"), creds)?.credential).toEqual(credential);
    for (const lookalike of ["postgres.tenant.svc", "evil-pg.prod.svc", "db.svc.cluster.local.evil.io"]) {
      const target = discoveredTarget(found(lookalike), creds);
      expect(target?.url).toBe(`postgresql://monitor@${lookalike}:5432/postgres`);
      expect(target?.credential).toBeUndefined();
    }
  });

  it("cannot be configured without naming those hosts", () => {
    const attempt = () =>
      parseConfig(configSchema, { DBPLANE_COLLECTOR_DISCOVERED_PASSWORD_REF: JSON.stringify(credential) });
    expect(attempt).toThrow(/DBPLANE_COLLECTOR_DISCOVERED_PASSWORD_HOSTS/);
    const config = parseConfig(configSchema, {
      DBPLANE_COLLECTOR_DISCOVERED_PASSWORD_REF: JSON.stringify(credential),
      DBPLANE_COLLECTOR_DISCOVERED_PASSWORD_HOSTS: "pg.prod.svc, *.db.svc",
    });
    expect(config.DBPLANE_COLLECTOR_DISCOVERED_PASSWORD_HOSTS).toEqual(["pg.prod.svc", "*.db.svc"]);
  });
});
