/**
 * Images of the PostgreSQL family, by the last segment of the repository name. Exact names, so
 * neighbours such as postgres-exporter, pgbouncer or pgadmin are not mistaken for servers.
 */
const POSTGRES_REPOSITORIES = new Set([
  "postgres",
  "postgresql",
  "postgresql-repmgr",
  "postgis",
  "timescaledb",
  "timescaledb-ha",
  "crunchy-postgres",
  "crunchy-postgres-gis",
  "citus",
  "pgvector",
  "pgvecto-rs",
  "paradedb",
  "patroni",
  "percona-postgresql",
  "supabase-postgres",
  "neon",
]);

/** Spilo (Zalando, KubeBlocks) carries the major version in its name: spilo-16. */
const VERSIONED_REPOSITORY = /^spilo(-\d+)?$/;

interface ImageName {
  readonly repository: string;
  readonly tag: string;
}

/** `registry:5000/org/name:tag@sha256:…` → last repository segment and tag. */
export function parseImage(image: string): ImageName {
  const withoutDigest = image.split("@")[0] ?? "";
  const lastSlash = withoutDigest.lastIndexOf("/");
  const lastColon = withoutDigest.lastIndexOf(":");
  const hasTag = lastColon > lastSlash;
  const path = hasTag ? withoutDigest.slice(0, lastColon) : withoutDigest;
  return {
    repository: (path.split("/").at(-1) ?? "").toLowerCase(),
    tag: hasTag ? withoutDigest.slice(lastColon + 1) : "",
  };
}

/** Whether a container image runs a PostgreSQL server. */
export function isPostgresImage(image: string): boolean {
  const { repository } = parseImage(image);
  return POSTGRES_REPOSITORIES.has(repository) || VERSIONED_REPOSITORY.test(repository);
}

/** The PostgreSQL version an image tag names (`17.2-alpine` → `17.2`, `v3.2-pg16.1` → `16.1`), if any. */
export function postgresVersionOf(image: string): string | undefined {
  const { repository, tag } = parseImage(image);
  // The first number that can be a PostgreSQL version, at the start or after "pg" (timescaledb-ha
  // tags lead with their own version: 2.14.2-pg16).
  for (const match of tag.matchAll(/(?:^|pg)(\d{1,2}(?:\.\d{1,2})?)(?!\d)/gi)) {
    if (Number.parseInt(match[1]!, 10) >= 9) return match[1];
  }
  return /^spilo-(\d+)$/.exec(repository)?.[1];
}
