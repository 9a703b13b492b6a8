import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const NEW_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

/** A server certificate issued by a {@link TestCa}, for 127.0.0.1 and localhost. */
export interface IssuedCert {
  readonly certPath: string;
  readonly keyPath: string;
}

/** A throw-away certificate authority (openssl) that issues server certificates. */
export interface TestCa {
  readonly certPath: string;
  /** The CA certificate, PEM. */
  readonly cert: string;
  /** A new server certificate and key (`name` tells files apart) valid for a day. */
  issue(name: string): Promise<IssuedCert>;
  remove(): Promise<void>;
}

/** Makes a CA in a fresh temporary directory. */
export async function makeTestCa(): Promise<TestCa> {
  const dir = await mkdtemp(join(tmpdir(), "dbplane-ca-"));
  const certPath = join(dir, "ca.crt");
  const keyPath = join(dir, "ca.key");
  await run("openssl", [
    "req",
    "-x509",
    ...NEW_KEY,
    "-keyout",
    keyPath,
    "-out",
    certPath,
    "-days",
    "1",
    "-subj",
    "/CN=dbplane test CA",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  return {
    certPath,
    cert: await readFile(certPath, "utf8"),
    async issue(name) {
      const issued = { certPath: join(dir, `${name}.crt`), keyPath: join(dir, `${name}.key`) };
      await run("openssl", [
        "req",
        "-x509",
        ...NEW_KEY,
        "-keyout",
        issued.keyPath,
        "-out",
        issued.certPath,
        "-days",
        "1",
        "-subj",
        "/CN=localhost",
        "-CA",
        certPath,
        "-CAkey",
        keyPath,
        "-addext",
        "subjectAltName=IP:127.0.0.1,DNS:localhost",
        "-addext",
        "basicConstraints=critical,CA:FALSE",
      ]);
      return issued;
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
