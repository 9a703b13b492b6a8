// Which HTTP statements the router prepares on a shard connection, and under which name.
import type pg from "pg";
import { describe, expect, it } from "vitest";
import {
  forgetPrepared,
  isStalePrepared,
  PreparedStatements,
  statementName,
} from "../src/shards/prepared-statements.ts";

/** A pg client as far as prepared statements go: pg's own records of what it parsed. */
const fakeClient = () => {
  const connection = { parsedStatements: {} as Record<string, string>, submittedNamedStatements: {} };
  return { client: { connection } as unknown as pg.ClientBase, connection };
};
/** What pg records once the server answered ParseComplete. */
const parsed = (c: ReturnType<typeof fakeClient>, text: string) => {
  c.connection.parsedStatements[statementName(text)] = text;
};

describe("PreparedStatements", () => {
  it("names a text from its `after`-th use on, the same name on every connection", () => {
    const p = new PreparedStatements({ after: 3 });
    const a = fakeClient();
    const b = fakeClient();
    expect(p.nameFor(a.client, "SELECT 1")).toBeUndefined();
    expect(p.nameFor(b.client, "SELECT 1")).toBeUndefined();
    const name = p.nameFor(a.client, "SELECT 1");
    expect(name).toBe(statementName("SELECT 1"));
    expect(name).toMatch(/^dbplane_[0-9a-f]{24}$/);
    parsed(a, "SELECT 1");
    expect(p.nameFor(a.client, "SELECT 1")).toBe(name);
    expect(p.nameFor(b.client, "SELECT 1")).toBe(name);
    expect(p.counts).toEqual({ parsed: 2, reused: 1, retried: 0 });
  });

  it("prepares nothing with after 0, nor texts over the length limit", () => {
    const off = new PreparedStatements({ after: 0 });
    const short = new PreparedStatements({ after: 1, maxTextLength: 10 });
    const { client } = fakeClient();
    for (let i = 0; i < 5; i++) {
      expect(off.nameFor(client, "SELECT 1")).toBeUndefined();
      expect(short.nameFor(client, "SELECT 12345678")).toBeUndefined();
    }
    expect(short.nameFor(client, "SELECT 1")).toBe(statementName("SELECT 1"));
  });

  it("prepares at most perConnection texts on one connection; the rest run unnamed there", () => {
    const p = new PreparedStatements({ after: 1, perConnection: 2 });
    const a = fakeClient();
    expect(p.nameFor(a.client, "SELECT 1")).toBeDefined();
    expect(p.nameFor(a.client, "SELECT 2")).toBeDefined();
    expect(p.nameFor(a.client, "SELECT 3")).toBeUndefined();
    expect(p.nameFor(a.client, "SELECT 1")).toBe(statementName("SELECT 1"));
    expect(p.nameFor(fakeClient().client, "SELECT 3")).toBe(statementName("SELECT 3"));
    // A Parse that failed frees its place.
    p.forgetOne(a.client, statementName("SELECT 2"));
    expect(p.nameFor(a.client, "SELECT 3")).toBe(statementName("SELECT 3"));
  });

  it("forgets the oldest texts past its limit, and gives a text seen again its old name", () => {
    const p = new PreparedStatements({ after: 2, texts: 2 });
    const { client } = fakeClient();
    p.nameFor(client, "SELECT 1");
    expect(p.nameFor(client, "SELECT 1")).toBe(statementName("SELECT 1"));
    p.nameFor(client, "SELECT 2");
    p.nameFor(client, "SELECT 3");
    // SELECT 1 was forgotten: counted again from one.
    expect(p.nameFor(client, "SELECT 1")).toBeUndefined();
    expect(p.nameFor(client, "SELECT 1")).toBe(statementName("SELECT 1"));
  });

  it("forgets the oldest texts past its characters limit", () => {
    const p = new PreparedStatements({ after: 2, textChars: 20 });
    const { client } = fakeClient();
    const [a, b, c] = ["SELECT 1 AS aaaaa", "SELECT 2", "SELECT 3 AS c"];
    p.nameFor(client, a);
    p.nameFor(client, b);
    expect(p.nameFor(client, a)).toBeUndefined(); // 17 + 8 characters: a was forgotten for b
    expect(p.nameFor(client, c)).toBeUndefined();
    expect(p.nameFor(client, c)).toBe(statementName(c));
  });

  it("forgetPrepared (after DISCARD ALL) makes pg parse every name again", () => {
    const p = new PreparedStatements({ after: 1 });
    const a = fakeClient();
    p.nameFor(a.client, "SELECT 1");
    parsed(a, "SELECT 1");
    forgetPrepared(a.client);
    expect(a.connection.parsedStatements).toEqual({});
    expect(p.nameFor(a.client, "SELECT 1")).toBe(statementName("SELECT 1"));
    expect(p.counts).toEqual({ parsed: 2, reused: 0, retried: 0 });
  });

  it("tells a lost or changed statement from other errors", () => {
    const name = statementName("SELECT 1");
    const pgError = (code: string, message: string) => Object.assign(new Error(message), { code });
    expect(isStalePrepared(pgError("26000", `prepared statement "${name}" does not exist`), name)).toBe(
      "lost",
    );
    expect(
      isStalePrepared(pgError("26000", 'prepared statement "mine" does not exist'), name),
    ).toBeUndefined();
    expect(isStalePrepared(pgError("0A000", "cached plan must not change result type"), name)).toBe(
      "changed",
    );
    expect(isStalePrepared(pgError("0A000", "something else"), name)).toBeUndefined();
    expect(isStalePrepared(pgError("23505", "duplicate key"), name)).toBeUndefined();
  });
});
