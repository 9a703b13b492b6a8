import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

/** A throw-away certificate (CN=localhost) and its key, made with openssl. */
export interface SelfSignedCert {
  readonly certPath: string;
  readonly keyPath: string;
  readonly cert: Buffer;
  readonly key: Buffer;
  remove(): Promise<void>;
}

/** Makes a self-signed P-256 pair valid for a day in a fresh temporary directory. */
export async function makeSelfSignedCert(): Promise<SelfSignedCert> {
  const dir = await mkdtemp(join(tmpdir(), "dbplane-tls-"));
  const certPath = join(dir, "cert.pem");
  const keyPath = join(dir, "key.pem");
  await promisify(execFile)("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    keyPath,
    "-out",
    certPath,
    "-days",
    "1",
    "-subj",
    "/CN=localhost",
  ]);
  return {
    certPath,
    keyPath,
    cert: await readFile(certPath),
    key: await readFile(keyPath),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
