import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { exists, writeOwned } from "./cluster-files.ts";
import { runProgram } from "./run-program.ts";
import type { ServerUser } from "./server-user.ts";

/** The local shard CA: its certificate is what `DBPLANE_SHARD_TLS_CA` names for clients. */
export interface LocalCa {
  readonly certPath: string;
  readonly keyPath: string;
}

/** Files the provisioner writes for itself (the CA, temporary issue directories). */
const PROCESS_USER: ServerUser = { name: "(current user)", uid: undefined, gid: undefined };
/** P-256 keys: small, fast, accepted by every TLS client the project talks to. */
const NEW_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
/** 825 days: the longest a TLS client still accepts for a server certificate. */
const SERVER_DAYS = "825";
const CA_DAYS = "3650";

const openssl = (args: readonly string[]) =>
  runProgram("openssl", args, { user: PROCESS_USER, timeoutMs: 60_000 });

/**
 * The CA under `dir` (`ca.crt`, `ca.key` 0600), made once with openssl: in a directory of its own
 * first and renamed, so a crash leaves either no CA or a complete one, and two provisioners
 * starting together (they may share a data directory) end up with the one that was renamed first.
 * Undefined when openssl is missing (the servers then run without TLS, as before).
 */
export async function ensureLocalCa(dir: string): Promise<LocalCa | undefined> {
  const ca = { certPath: join(dir, "ca.crt"), keyPath: join(dir, "ca.key") };
  if (await exists(ca.certPath)) return ca;
  const tmp = `${dir}.tmp-${randomBytes(6).toString("hex")}`;
  await mkdir(tmp, { recursive: true, mode: 0o755 });
  try {
    await openssl([
      "req",
      "-x509",
      ...NEW_KEY,
      "-keyout",
      join(tmp, "ca.key"),
      "-out",
      join(tmp, "ca.crt"),
      "-days",
      CA_DAYS,
      "-subj",
      "/CN=dbplane local shard CA",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ]);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  try {
    await rename(tmp, dir);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    if (!(await exists(ca.certPath))) throw err;
  }
  return ca;
}

/**
 * `server.crt` and `server.key` (PostgreSQL's default names) in a data directory, owned by the
 * server user, issued by the local CA for 127.0.0.1 and localhost — the names clients verify
 * with `verify-full`. Kept when present: a replica's copy from pg_basebackup names the same host.
 */
export async function ensureServerCertificate(dataDir: string, ca: LocalCa, user: ServerUser): Promise<void> {
  const certFile = join(dataDir, "server.crt");
  const keyFile = join(dataDir, "server.key");
  if ((await exists(certFile)) && (await exists(keyFile))) return;
  const work = join(ca.certPath, "..", `issue-${randomBytes(6).toString("hex")}`);
  await mkdir(work, { mode: 0o700 });
  try {
    await openssl([
      "req",
      "-x509",
      ...NEW_KEY,
      "-keyout",
      join(work, "server.key"),
      "-out",
      join(work, "server.crt"),
      "-days",
      SERVER_DAYS,
      "-subj",
      "/CN=localhost",
      "-CA",
      ca.certPath,
      "-CAkey",
      ca.keyPath,
      "-addext",
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
      "-addext",
      "basicConstraints=critical,CA:FALSE",
      "-addext",
      "extendedKeyUsage=serverAuth",
    ]);
    // PostgreSQL refuses a key file others can read, or one owned by another user.
    await writeOwned(keyFile, await readFile(join(work, "server.key"), "utf8"), user);
    await writeOwned(certFile, await readFile(join(work, "server.crt"), "utf8"), user, 0o644);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
