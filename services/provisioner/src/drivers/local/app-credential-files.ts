import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createScramVerifier } from "@dbplane/pgwire";
import {
  APP_CREDENTIAL_KEYS,
  APP_USER,
  type AppCredentials,
  type AppSecret,
  appCredentialEntries,
  newAppSecret,
  type RouterWireEndpoint,
} from "../../domain/application-role.ts";

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/** Replaces a file atomically (a crash leaves the old or the new content), 0600, no trailing newline. */
async function writeSecretFile(path: string, content: string): Promise<void> {
  await writeFile(`${path}.new`, content, { mode: 0o600 });
  await rename(`${path}.new`, path);
}

/**
 * The password, generated once: an existing password file is kept whatever else is missing, so a
 * crash between writing the password and its verifier is repaired with the same password.
 */
async function ensureSecret(dir: string): Promise<AppSecret> {
  const password = await readIfExists(join(dir, "password"));
  if (password === undefined) {
    const fresh = newAppSecret();
    await writeSecretFile(join(dir, "password"), fresh.password);
    await writeSecretFile(join(dir, "verifier"), fresh.verifier);
    return fresh;
  }
  const verifier = await readIfExists(join(dir, "verifier"));
  if (verifier !== undefined) return { password, verifier };
  const derived = createScramVerifier(password);
  await writeSecretFile(join(dir, "verifier"), derived);
  return { password, verifier: derived };
}

/**
 * Local driver: the application's credentials as files in `dir` (`<dataDir>/clusters/<db>/app`),
 * one per key, 0600 in a 0700 directory — the layout of a mounted Kubernetes Secret, so an app
 * reads them the same way in both modes. The password and verifier are made once; `uri` and
 * `jdbc-uri` are rewritten when the router's address changes.
 */
export async function ensureAppCredentialFiles(
  dir: string,
  database: string,
  router: RouterWireEndpoint,
): Promise<AppCredentials> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const secret = await ensureSecret(dir);
  const entries = appCredentialEntries(database, secret, router);
  for (const key of APP_CREDENTIAL_KEYS) {
    const path = join(dir, key);
    if ((await readIfExists(path)) !== entries[key]) await writeSecretFile(path, entries[key]);
  }
  return {
    role: {
      user: APP_USER,
      passwordRef: { kind: "file", path: join(dir, "password") },
      verifierRef: { kind: "file", path: join(dir, "verifier") },
    },
    verifier: secret.verifier,
  };
}
