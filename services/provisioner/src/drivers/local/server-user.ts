import { readFile } from "node:fs/promises";

/** Who the PostgreSQL servers run as; undefined ids mean "as this process". */
export interface ServerUser {
  readonly name: string;
  readonly uid: number | undefined;
  readonly gid: number | undefined;
}

/**
 * initdb and postgres refuse to run as root. When the provisioner runs as root (containers, CI),
 * the servers run as `osUser` (default `postgres`, which Debian's packages create) and own their
 * data directories; otherwise they run as the provisioner's own user.
 */
export async function resolveServerUser(osUser: string): Promise<ServerUser> {
  if (process.getuid?.() !== 0) return { name: "(current user)", uid: undefined, gid: undefined };
  const passwd = await readFile("/etc/passwd", "utf8");
  for (const line of passwd.split("\n")) {
    const [name, , uid, gid] = line.split(":");
    if (name === osUser && uid && gid) return { name, uid: Number(uid), gid: Number(gid) };
  }
  throw new Error(
    `the provisioner runs as root and PostgreSQL refuses to; create the OS user "${osUser}" ` +
      `(useradd --system ${osUser}) or set DBPLANE_PG_OS_USER to an existing non-root user`,
  );
}
