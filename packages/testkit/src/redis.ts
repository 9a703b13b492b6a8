import { Redis } from "ioredis";
import { testServerUrls } from "./env.ts";
import { uniqueName } from "./unique-name.ts";

export interface TestRedis {
  readonly redis: Redis;
  /** Every key this test writes starts with this (ends with `:`). */
  readonly prefix: string;
  readonly url: string;
  /** Deletes every key under the prefix and disconnects. */
  cleanup(): Promise<void>;
}

export async function createTestRedis(): Promise<TestRedis> {
  const url = testServerUrls().redis;
  const prefix = `${uniqueName("t")}:`;
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 3 });
  await redis.connect();
  return {
    redis,
    prefix,
    url,
    async cleanup() {
      let cursor = "0";
      do {
        const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
        if (keys.length > 0) await redis.del(...keys);
        cursor = next;
      } while (cursor !== "0");
      redis.disconnect();
    },
  };
}
