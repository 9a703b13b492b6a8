import { createHash } from "node:crypto";
import type { Redis } from "ioredis";

/** A Lua script run by its SHA (EVALSHA), loaded with EVAL the first time a server lacks it. */
export class LuaScript {
  readonly #lua: string;
  readonly #sha: string;

  constructor(lua: string) {
    this.#lua = lua;
    this.#sha = createHash("sha1").update(lua).digest("hex");
  }

  async run(redis: Redis, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.#sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!String((err as Error).message).startsWith("NOSCRIPT")) throw err;
      return redis.eval(this.#lua, keys.length, ...keys, ...args);
    }
  }
}
