import { randomBytes } from "node:crypto";
import { chown, mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import type { ServerUser } from "./server-user.ts";

/** Role every local server is created with; the password lives in the shard's 0600 file. */
export const SUPERUSER = "dbplane";

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function own(path: string, user: ServerUser): Promise<void> {
  if (user.uid !== undefined && user.gid !== undefined) await chown(path, user.uid, user.gid);
}

/** A directory the server user owns (it creates data directories and logs inside). */
export async function ownedDir(path: string, user: ServerUser): Promise<void> {
  await mkdir(path, { recursive: true, mode: 0o700 });
  await own(path, user);
}

/** Writes a file the server user owns, e.g. config inside a data directory. */
export async function writeOwned(
  path: string,
  content: string,
  user: ServerUser,
  mode = 0o600,
): Promise<void> {
  await writeFile(path, content, { mode });
  await own(path, user);
}

/**
 * The shard's password: 32 random bytes, base64url, generated once and kept in a 0600 file (its
 * path is the passwordRef every consumer gets). Reused when it exists, so a create interrupted
 * after writing it and retried gives the same credentials.
 */
export async function ensurePassword(path: string, user: ServerUser): Promise<string> {
  if (await exists(path)) return (await readFile(path, "utf8")).trim();
  const password = randomBytes(32).toString("base64url");
  await writeOwned(`${path}.new`, `${password}\n`, user);
  // Rename is atomic: a crash leaves either no password file or a complete one.
  await rename(`${path}.new`, path);
  return password;
}

/** A TCP port free on 127.0.0.1 right now. */
export function freeLocalPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Removes a half-made data directory (`*.tmp`) left by a crash. The program that was filling it
 * (initdb, pg_basebackup) may still run — it outlives a SIGKILLed provisioner — so it is killed
 * first, by the pid recorded when it started.
 */
export async function discardPartial(tmpDir: string): Promise<void> {
  const pidFile = `${tmpDir}.pid`;
  if (await exists(pidFile)) {
    const pid = Number((await readFile(pidFile, "utf8")).trim());
    if (Number.isInteger(pid) && pid > 1) {
      for (const target of [-pid, pid]) {
        try {
          process.kill(target, "SIGKILL");
        } catch {
          // Already gone.
        }
      }
      await waitGone(pid);
    }
    await rm(pidFile, { force: true });
  }
  await rm(tmpDir, { recursive: true, force: true, maxRetries: 5 });
}

async function waitGone(pid: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
