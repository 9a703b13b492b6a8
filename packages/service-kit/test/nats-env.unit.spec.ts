import { describe, expect, it } from "vitest";
import { z } from "zod";
import { natsAuthFromEnv, natsEnv, parseConfig } from "../src/index.ts";

const schema = z.object(natsEnv);

describe("natsEnv credentials", () => {
  it("none set means no credentials and no TLS (./scripts/dev's anonymous NATS)", () => {
    const auth = natsAuthFromEnv(parseConfig(schema, {}));
    expect(Object.values(auth).every((v) => v === undefined)).toBe(true);
  });

  it("maps user/password, files and TLS to the bus's auth", () => {
    const env = parseConfig(schema, {
      DBPLANE_NATS_URL: "tls://nats-0:4222,tls://nats-1:4222",
      DBPLANE_NATS_USER: "provisioner",
      DBPLANE_NATS_PASSWORD: "pw-from-a-secret",
      DBPLANE_NATS_TLS_CA: "/etc/dbplane/nats/ca.crt",
      DBPLANE_NATS_TLS_CERT: "/etc/dbplane/nats/tls.crt",
      DBPLANE_NATS_TLS_KEY: "/etc/dbplane/nats/tls.key",
    });
    expect(natsAuthFromEnv(env)).toEqual({
      user: "provisioner",
      password: "pw-from-a-secret",
      token: undefined,
      nkeySeedFile: undefined,
      credsFile: undefined,
      tls: {
        caFile: "/etc/dbplane/nats/ca.crt",
        certFile: "/etc/dbplane/nats/tls.crt",
        keyFile: "/etc/dbplane/nats/tls.key",
      },
    });
    const creds = natsAuthFromEnv(
      parseConfig(schema, { DBPLANE_NATS_CREDS: "/etc/dbplane/nats/router.creds" }),
    );
    expect(creds.credsFile).toBe("/etc/dbplane/nats/router.creds");
    expect(creds.tls).toBeUndefined();
  });
});
