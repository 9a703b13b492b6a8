/** URLs of the real servers tests talk to; the same variables the services read, local defaults. */
export interface TestServerUrls {
  readonly nats: string;
  readonly postgres: string;
  readonly redis: string;
}

export function testServerUrls(env: NodeJS.ProcessEnv = process.env): TestServerUrls {
  return {
    nats: env.DBPLANE_NATS_URL ?? "nats://127.0.0.1:4222",
    postgres: env.DBPLANE_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres",
    redis: env.DBPLANE_REDIS_URL ?? "redis://127.0.0.1:6379",
  };
}
