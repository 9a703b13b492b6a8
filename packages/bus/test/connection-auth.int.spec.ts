import { writeFile } from "node:fs/promises";
import {
  makeSelfSignedCert,
  type PrivateNatsServer,
  type SelfSignedCert,
  startPrivateNatsServer,
} from "@dbplane/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Bus, connectBus, type NatsAuth, NatsAuthConfigError } from "../src/index.ts";
import { testLogger } from "./test-bus.ts";

const PASSWORD = "Pw-of-the-collector-31337";
const TOKEN = "Token-of-the-scheduler-4242";

async function connectAs(url: string, auth: NatsAuth): Promise<Bus> {
  return connectBus({ servers: url, name: "collector", logger: testLogger, waitOnFirstConnect: false, auth });
}

describe("NATS credentials and TLS", () => {
  let cert: SelfSignedCert;
  let server: PrivateNatsServer;
  beforeAll(async () => {
    cert = await makeSelfSignedCert();
    // A user with a password, TLS required; the self-signed certificate is its own CA.
    server = await startPrivateNatsServer({
      config: [
        `tls { cert_file: ${JSON.stringify(cert.certPath)}, key_file: ${JSON.stringify(cert.keyPath)} }`,
        `authorization { users: [ { user: collector, password: "${PASSWORD}" } ] }`,
      ].join("\n"),
      probe: (port) => ({
        servers: `tls://localhost:${port}`,
        user: "collector",
        pass: PASSWORD,
        tls: { caFile: cert.certPath },
      }),
    });
  });
  afterAll(async () => {
    await server?.dispose();
    await cert?.remove();
  });
  const url = () => `tls://localhost:${server.port}`;

  it("connects with user/password over TLS verified against the CA", async () => {
    const bus = await connectAs(url(), {
      user: "collector",
      password: PASSWORD,
      tls: { caFile: cert.certPath },
    });
    expect(bus.isConnected()).toBe(true);
    await bus.close();
  });

  it("is refused with a wrong password, without the password in the error", async () => {
    const err = await connectAs(url(), {
      user: "collector",
      password: "wrong-Pw-0",
      tls: { caFile: cert.certPath },
    }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toMatch(/authorization/i);
    expect(String(err?.stack)).not.toContain("wrong-Pw-0");
  });

  it("refuses a server certificate no configured CA signed", async () => {
    await expect(connectAs(url(), { user: "collector", password: PASSWORD })).rejects.toThrow(/certificate/i);
  });

  it("fails the start on contradictory or unreadable settings, naming the file and never the secret", async () => {
    const missing = `/nonexistent/dbplane-${Date.now()}.creds`;
    await expect(connectAs(url(), { credsFile: missing })).rejects.toThrow(
      new NatsAuthConfigError(
        `NATS creds file ${missing}: ENOENT: no such file or directory, open '${missing}'`,
      ),
    );
    const both = connectAs(url(), { user: "collector", password: PASSWORD, token: TOKEN });
    await expect(both).rejects.toBeInstanceOf(NatsAuthConfigError);
    await expect(both).rejects.toThrow("choose one of user/password, token");
    await expect(connectAs(url(), { user: "collector" })).rejects.toThrow("a user needs a password");
    await expect(connectAs(url(), { tls: { certFile: cert.certPath } })).rejects.toThrow("needs its key");
    const empty = `${cert.certPath}.empty`;
    await writeFile(empty, "");
    await expect(connectAs(url(), { nkeySeedFile: empty })).rejects.toThrow(
      `NATS NKey seed file ${empty}: file is empty`,
    );
    for (const err of await Promise.allSettled([both])) {
      if (err.status === "rejected") expect(String(err.reason)).not.toContain(TOKEN);
    }
  });
});
