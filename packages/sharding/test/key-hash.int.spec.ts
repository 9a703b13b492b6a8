// The TypeScript hash must equal PostgreSQL's own, computed by the real server: 100,000 random
// keys of each type plus the edge values, sent as arrays so each batch is one round trip.
import { randomBytes, randomInt, randomUUID } from "node:crypto";
import { testServerUrls } from "@dbplane/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashInt8Extended, hashShardKey, hashTextExtended, hashUuidExtended } from "../src/index.ts";

const COUNT = 100_000;
const BATCH = 20_000;
let client: pg.Client;

beforeAll(async () => {
  client = new pg.Client({ connectionString: testServerUrls().postgres });
  await client.connect();
});
afterAll(async () => {
  await client.end();
});

/** Runs `sql` over `keys` in batches; returns PostgreSQL's hashes in key order, as bigints. */
async function serverHashes(sql: string, keys: readonly unknown[]): Promise<bigint[]> {
  const out: bigint[] = [];
  for (let i = 0; i < keys.length; i += BATCH) {
    const res = await client.query<{ h: string }>(sql, [keys.slice(i, i + BATCH)]);
    for (const row of res.rows) out.push(BigInt(row.h));
  }
  return out;
}

function randomInt64(): bigint {
  return BigInt.asIntN(64, randomBytes(8).readBigUInt64LE());
}

/** Random text of random length (0–40) mixing ASCII, 2-, 3- and 4-byte UTF-8 characters. */
function randomText(): string {
  const pools = ["abcxyzABC019 _-'\";", "éüßñøΩж", "日本語中文한국어€", "😀🚀𝄞🍣"];
  const length = randomInt(0, 41);
  let s = "";
  for (let i = 0; i < length; i++) {
    const pool = [...pools[randomInt(0, pools.length)]!];
    s += pool[randomInt(0, pool.length)];
  }
  return s;
}

const INT64_EDGES = [
  0n,
  -1n,
  1n,
  -(2n ** 63n),
  2n ** 63n - 1n,
  2n ** 31n,
  -(2n ** 31n) - 1n,
  2n ** 32n,
  -(2n ** 32n),
];
const TEXT_EDGES = [
  "",
  "a",
  "abcdefghijkl",
  "abcdefghijklm",
  "ünïcödé",
  "😀",
  "日本",
  "x".repeat(1000),
  "'; DROP TABLE t; --",
];
const UUID_EDGES = ["00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff"];

describe("key hashes equal PostgreSQL's on the real server", () => {
  it(`bigint: hashint8extended for ${COUNT} random keys and the edges`, async () => {
    const keys = [...INT64_EDGES, ...Array.from({ length: COUNT }, randomInt64)];
    const expected = await serverHashes(
      "SELECT hashint8extended(x, 0)::text AS h FROM unnest($1::bigint[]) WITH ORDINALITY AS u(x, n) ORDER BY n",
      keys.map(String),
    );
    const mismatches = keys.filter((k, i) => hashInt8Extended(k) !== expected[i]);
    expect(mismatches).toEqual([]);
  });

  it("smallint and integer keys hash like bigint (hashint2/4extended = hashint8extended)", async () => {
    const ints = [
      0,
      -1,
      1,
      32767,
      -32768,
      2147483647,
      -2147483648,
      ...Array.from({ length: 10_000 }, () => randomInt(-(2 ** 31), 2 ** 31)),
    ];
    const res = await client.query<{ h4: string; h8: string; x: number }>(
      "SELECT x, hashint4extended(x, 0)::text AS h4, hashint8extended(x::bigint, 0)::text AS h8 FROM unnest($1::int[]) WITH ORDINALITY AS u(x, n) ORDER BY n",
      [ints],
    );
    for (const row of res.rows) {
      expect(row.h4).toBe(row.h8);
      expect(hashShardKey("integer", row.x)).toBe(BigInt(row.h4));
    }
    const shorts = ints.filter((x) => x >= -32768 && x <= 32767);
    const res2 = await client.query<{ h2: string; x: number }>(
      "SELECT x, hashint2extended(x, 0)::text AS h2 FROM unnest($1::smallint[]) WITH ORDINALITY AS u(x, n) ORDER BY n",
      [shorts],
    );
    for (const row of res2.rows) expect(hashShardKey("smallint", row.x)).toBe(BigInt(row.h2));
  });

  it(`text: hashtextextended for ${COUNT} random UTF-8 strings and the edges`, async () => {
    const keys = [...TEXT_EDGES, ...Array.from({ length: COUNT }, randomText)];
    const expected = await serverHashes(
      "SELECT hashtextextended(x, 0)::text AS h FROM unnest($1::text[]) WITH ORDINALITY AS u(x, n) ORDER BY n",
      keys,
    );
    const mismatches = keys.filter((k, i) => hashTextExtended(k) !== expected[i]);
    expect(mismatches).toEqual([]);
  });

  it(`uuid: uuid_hash_extended for ${COUNT} random uuids and the edges`, async () => {
    const keys = [...UUID_EDGES, ...Array.from({ length: COUNT }, () => randomUUID())];
    const expected = await serverHashes(
      "SELECT uuid_hash_extended(x, 0)::text AS h FROM unnest($1::uuid[]) WITH ORDINALITY AS u(x, n) ORDER BY n",
      keys,
    );
    const mismatches = keys.filter((k, i) => hashUuidExtended(k) !== expected[i]);
    expect(mismatches).toEqual([]);
  });

  it("a non-zero seed perturbs the state exactly as PostgreSQL does", async () => {
    const seeds = [1n, -1n, 2n ** 40n + 7n];
    for (const seed of seeds) {
      const res = await client.query<{ i: string; t: string }>(
        "SELECT hashint8extended(123456789012, $1)::text AS i, hashtextextended('seeded key', $1)::text AS t",
        [seed.toString()],
      );
      expect(hashInt8Extended(123456789012n, seed)).toBe(BigInt(res.rows[0]!.i));
      expect(hashTextExtended("seeded key", seed)).toBe(BigInt(res.rows[0]!.t));
    }
  });
});
