// Hostile input for a running service (issue 16, item 9): random and mutated HTTP bodies for
// every route of its OpenAPI document, and random payloads for every message of the contract
// catalogue on its NATS namespace. What a service must do with them: answer 4xx (problem+json),
// dead-letter them with a reason, never a 5xx, a crash or a hang. fast-check makes the inputs
// (reproducible: a failure names its seed).
import { randomUUID } from "node:crypto";
import { catalog, type MessageDefinition, parseMessageData } from "@dbplane/contracts";
import { jetstreamManager } from "@nats-io/jetstream";
import { type NatsConnection, headers as natsHeaders } from "@nats-io/transport-node";
import fc from "fast-check";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Schema = { [key: string]: unknown };

/** What went wrong with one input. */
export interface HostileFinding {
  readonly input: string;
  readonly problem: string;
}

export interface HostileHttpOptions {
  /** `http://127.0.0.1:<port>` of a running service. */
  readonly base: string;
  /** A bearer token allowed to call every route (the inputs must reach the body's validation). */
  readonly token: string;
  /** Inputs per route; default 25. */
  readonly runsPerRoute?: number;
  /** fast-check seed; default random (printed in findings). */
  readonly seed?: number;
  /** Routes not to send anything to, as `METHOD /path/{param}`. */
  readonly skip?: readonly string[];
  /** Per request; default 15 s. A route slower than this on garbage is a finding. */
  readonly timeoutMs?: number;
}

const MUTATING = ["post", "put", "patch", "delete"] as const;

/** Values that break naive code: wrong types, huge, deep, odd text. */
function nastyValue(): fc.Arbitrary<Json> {
  return fc.oneof(
    fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>,
    fc.constantFrom<Json>(
      null,
      -1,
      0,
      1e308,
      -(2 ** 63),
      2 ** 64,
      "",
      " ",
      "../../etc/passwd",
      "/proc/self/environ",
      "a\u0000b",
      "'; DROP TABLE x; --",
      "\u202e\ud83d\ude00",
      "9223372036854775808",
      "-9223372036854775809",
      "1e999",
      "NaN",
      true,
      [],
      {},
      { __proto__: { polluted: true } } as unknown as Json,
      { constructor: { prototype: { polluted: true } } },
    ),
    fc.string({ minLength: 1_000, maxLength: 20_000 }),
  );
}

/** A value that matches `schema` as far as a quick reading of JSON Schema goes. */
function fromSchema(schema: Schema | undefined, depth = 0): fc.Arbitrary<Json> {
  if (!schema || depth > 6) return fc.constant(null);
  if (Array.isArray(schema.enum) && schema.enum.length > 0)
    return fc.constantFrom(...(schema.enum as Json[]));
  if ("const" in schema) return fc.constant(schema.const as Json);
  const alternatives = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  if (alternatives?.length) return fc.oneof(...alternatives.map((s) => fromSchema(s, depth + 1)));
  const allOf = schema.allOf as Schema[] | undefined;
  if (allOf?.length) return fromSchema(allOf[0], depth + 1);
  const type = Array.isArray(schema.type) ? (schema.type[0] as string) : (schema.type as string | undefined);
  switch (type) {
    case "object": {
      const properties = (schema.properties ?? {}) as Record<string, Schema>;
      const required = new Set((schema.required ?? []) as string[]);
      const record: Record<string, fc.Arbitrary<Json>> = {};
      for (const [name, sub] of Object.entries(properties)) record[name] = fromSchema(sub, depth + 1);
      return fc.record(record, {
        requiredKeys: [...required].filter((k) => k in record),
      }) as fc.Arbitrary<Json>;
    }
    case "array":
      return fc.array(fromSchema(schema.items as Schema, depth + 1), {
        minLength: Math.min(Number(schema.minItems ?? 0), 3),
        maxLength: Math.min(Number(schema.maxItems ?? 3), 3),
      });
    case "integer": {
      // Near the schema's own bounds, at most 2000 wide: a minimum above 1000 (a duration in ms)
      // must still give a valid range.
      const min = Math.max(Number(schema.minimum ?? -1000), -1000);
      const max = Math.min(Number(schema.maximum ?? Number.MAX_SAFE_INTEGER), min + 2000);
      return fc.integer({ min, max: Math.max(min, max) });
    }
    case "number":
      return fc.double({ min: -1000, max: 1000, noNaN: true });
    case "boolean":
      return fc.boolean();
    case "string":
      return typeof schema.pattern === "string"
        ? fc.stringMatching(new RegExp(schema.pattern)).filter((s) => s.length <= 200)
        : fc.string({
            minLength: Math.min(Number(schema.minLength ?? 0), 40),
            maxLength: Math.min(Number(schema.maxLength ?? 40), 40),
          });
    default:
      return fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>;
  }
}

/** A schema-shaped value with one place replaced by something nasty (or a field added). */
function mutated(schema: Schema | undefined): fc.Arbitrary<Json> {
  return fc
    .tuple(fromSchema(schema), nastyValue(), fc.nat(), fc.boolean())
    .map(([value, nasty, pick, add]) => {
      if (value === null || typeof value !== "object" || Array.isArray(value)) return nasty;
      const keys = Object.keys(value);
      if (add || keys.length === 0) return { ...value, [`x${pick % 7}`]: nasty };
      return { ...value, [keys[pick % keys.length]!]: nasty };
    });
}

/** Nested `depth` deep: `[[[…]]]` or `{"a":{"a":…}}`. */
export function deeplyNested(depth: number, kind: "array" | "object"): string {
  return kind === "array"
    ? `${"[".repeat(depth)}${"]".repeat(depth)}`
    : `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;
}

/** Path parameter values: plausible names and hostile ones. */
const pathParam = fc.oneof(
  fc.constantFrom(
    "fuzz",
    "fuzz-db",
    "0",
    "-1",
    "99999999999999999999",
    "..",
    "%2e%2e%2f",
    "a%00b",
    "x".repeat(300),
  ),
  fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/),
);

interface Operation {
  readonly method: (typeof MUTATING)[number] | "get";
  readonly path: string;
  readonly body: Schema | undefined;
  /** Names of its query parameters. */
  readonly query: readonly string[];
}

function operations(
  document: { paths?: Record<string, Record<string, Schema>> },
  skip: readonly string[],
): Operation[] {
  const out: Operation[] = [];
  for (const [path, item] of Object.entries(document.paths ?? {})) {
    if (!path.startsWith("/v1/")) continue;
    for (const method of [...MUTATING, "get"] as const) {
      const op = item[method];
      if (!op || skip.includes(`${method.toUpperCase()} ${path}`)) continue;
      const content = (op.requestBody as Schema | undefined)?.content as Record<string, Schema> | undefined;
      const query = ((op.parameters ?? []) as { in?: string; name?: string }[])
        .filter((p) => p.in === "query" && p.name)
        .map((p) => p.name!);
      out.push({ method, path, body: content?.["application/json"]?.schema as Schema | undefined, query });
    }
  }
  return out;
}

/**
 * Sends random and mutated bodies (and a few fixed hostile ones: deep nesting, a body over the
 * 1 MiB cap, not JSON at all) to every mutating `/v1` route of the service's OpenAPI document,
 * and hostile path parameters and query values to every `/v1` GET, with a token that may call
 * them. Returns what was answered with a 5xx, not answered in time, or
 * answered 4xx without problem+json; empty when the service held. Ends by checking it is still
 * ready.
 */
export async function sendHostileHttp(options: HostileHttpOptions): Promise<HostileFinding[]> {
  const { base, token } = options;
  const timeoutMs = options.timeoutMs ?? 15_000;
  const document = (await (await fetch(`${base}/docs/json`)).json()) as {
    paths?: Record<string, Record<string, Schema>>;
  };
  const ops = operations(document, options.skip ?? []);
  if (ops.length === 0) throw new Error(`${base}/docs/json lists no /v1 route`);
  const findings: HostileFinding[] = [];
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  const send = async (op: Operation, path: string, raw?: string, contentType = "application/json") => {
    const shown =
      raw === undefined ? "" : raw.length > 300 ? `${raw.slice(0, 300)}… (${raw.length} bytes)` : raw;
    const input = `seed ${seed}: ${op.method.toUpperCase()} ${path.length > 400 ? `${path.slice(0, 400)}…` : path} ${shown}`;
    try {
      const res = await fetch(`${base}${path}`, {
        method: op.method.toUpperCase(),
        headers: {
          authorization: `Bearer ${token}`,
          ...(raw !== undefined && { "content-type": contentType }),
        },
        ...(raw !== undefined && { body: raw }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await res.text();
      if (res.status >= 500)
        findings.push({ input, problem: `answered ${res.status}: ${text.slice(0, 300)}` });
      else if (res.status >= 400 && !res.headers.get("content-type")?.includes("application/problem+json")) {
        findings.push({
          input,
          problem: `answered ${res.status} without problem+json: ${text.slice(0, 200)}`,
        });
      }
    } catch (err) {
      findings.push({ input, problem: `no answer: ${err instanceof Error ? err.message : String(err)}` });
    }
  };
  const runs = options.runsPerRoute ?? 25;
  for (const op of ops) {
    const params = fc.sample(pathParam, { numRuns: runs + 4, seed });
    const fill = (i: number) =>
      op.path.replace(/\{[^}]+\}/g, () => encodeURIComponent(params[i % params.length]!));
    if (op.method === "get") {
      // Hostile path parameters and query values (each query parameter given a nasty value).
      const values = fc.sample(nastyValue(), { numRuns: runs, seed });
      for (const [i, value] of values.entries()) {
        const text = typeof value === "string" ? value : JSON.stringify(value);
        const query = new URLSearchParams(
          op.query.map((name): [string, string] => [name, text.slice(0, 1_000)]),
        );
        await send(op, `${fill(i)}${op.query.length > 0 ? `?${query}` : ""}`);
      }
      continue;
    }
    const bodies = fc.sample(fc.oneof(mutated(op.body), nastyValue(), fc.jsonValue() as fc.Arbitrary<Json>), {
      numRuns: runs,
      seed,
    });
    for (const [i, body] of bodies.entries()) await send(op, fill(i), JSON.stringify(body));
    await send(op, fill(0), deeplyNested(50_000, "array"));
    await send(op, fill(1), deeplyNested(20_000, "object"));
    await send(op, fill(2), `{"a":"${"x".repeat(1_100_000)}"}`);
    await send(op, fill(3), "{not json", "application/json");
    // Each field of a schema-shaped body in turn 10,000 levels deep (a recursive validator of a
    // free-form JSON field must not overflow the stack).
    const [shaped] = fc.sample(fromSchema(op.body), { numRuns: 1, seed });
    if (shaped !== null && typeof shaped === "object" && !Array.isArray(shaped)) {
      for (const [i, key] of Object.keys(shaped).slice(0, 12).entries()) {
        const raw = JSON.stringify({ ...shaped, [key]: "__DEEP__" });
        await send(op, fill(i), raw.replace('"__DEEP__"', deeplyNested(100_000, i % 2 ? "object" : "array")));
      }
    }
  }
  const ready = await fetch(`${base}/health/ready`).catch(() => undefined);
  if (ready?.status !== 200)
    findings.push({ input: `seed ${seed}`, problem: "not ready after the hostile input" });
  return findings;
}

export interface HostileBusOptions {
  readonly nc: NatsConnection;
  /** The test's bus namespace (subjects `<ns>.dbplane.…`, streams `<NS>_DBPLANE_…`). */
  readonly namespace: string;
  /** Inputs per message type; default 8. */
  readonly runsPerMessage?: number;
  readonly seed?: number;
  /** How long the service has to settle every input (deliver, dead-letter or ack); default 60 s. */
  readonly settleTimeoutMs?: number;
  /**
   * False for a service without durable consumers (it reads the streams with ordered consumers):
   * the inputs are published and nothing is expected in the DLQ. Default true.
   */
  readonly durables?: boolean;
}

/** Raw payloads no contract accepts, besides random JSON. */
const RAW_GARBAGE = ["", "not json", "{", "null", "[]", deeplyNested(20_000, "array")];

/**
 * Publishes random payloads for every message of the catalogue (commands and events alike, with
 * correct CloudEvents headers of that message, so only the payload is wrong), plus raw garbage,
 * then waits until every durable in the namespace has nothing pending and checks that each input
 * its durables took and that no schema accepts was dead-lettered with a reason. (The DLQ names
 * follow `busNames` in @dbplane/bus, which depends on this package for its tests.)
 */
export async function sendHostileMessages(options: HostileBusOptions): Promise<HostileFinding[]> {
  const { nc, namespace } = options;
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  const prefix = `${namespace}.`;
  const streams = {
    cmd: `${namespace.toUpperCase()}_DBPLANE_CMD`,
    evt: `${namespace.toUpperCase()}_DBPLANE_EVT`,
  };
  const jsm = await jetstreamManager(nc);
  const js = jsm.jetstream();
  const durables: { stream: string; name: string; filters: string[] }[] = [];
  for (const stream of Object.values(streams)) {
    for await (const c of jsm.consumers.list(stream)) {
      if (!c.config.durable_name) continue;
      const filters =
        c.config.filter_subjects ?? (c.config.filter_subject ? [c.config.filter_subject] : [">"]);
      durables.push({ stream, name: c.config.durable_name, filters });
    }
  }
  const requireDurables = options.durables ?? true;
  if (requireDurables && durables.length === 0)
    throw new Error(`no durable consumer in namespace ${namespace}`);
  const matches = (filter: string, subject: string) => {
    const f = filter.split(".");
    const s = subject.split(".");
    for (let i = 0; i < f.length; i++) {
      if (f[i] === ">") return s.length > i;
      if (f[i] !== "*" && f[i] !== s[i]) return false;
    }
    return f.length === s.length;
  };
  const expected: { id: string; durable: string; type: string; input: string }[] = [];
  const publish = async (def: MessageDefinition, payload: string) => {
    const id = `hostile-${randomUUID()}`;
    const h = natsHeaders();
    h.set("ce-specversion", "1.0");
    h.set("ce-id", id);
    h.set("ce-type", def.type);
    h.set("ce-source", `dbplane/${def.service}`);
    h.set("ce-subject", "hostile");
    h.set("ce-time", new Date().toISOString());
    h.set("ce-datacontenttype", "application/json");
    const subject = `${prefix}${def.subject}`;
    await js.publish(subject, payload, { headers: h, msgID: id });
    let valid = false;
    try {
      parseMessageData(def, JSON.parse(payload));
      valid = true;
    } catch {}
    const input = `seed ${seed}: ${def.type} ${payload.length > 200 ? `${payload.slice(0, 200)}…` : payload}`;
    for (const d of durables) {
      if (!valid && d.filters.some((f) => matches(f, subject)))
        expected.push({ id, durable: d.name, type: def.type, input });
    }
  };
  for (const def of catalog) {
    const values = fc.sample(fc.oneof(nastyValue(), fc.jsonValue() as fc.Arbitrary<Json>), {
      numRuns: options.runsPerMessage ?? 8,
      seed,
    });
    for (const v of values) await publish(def, JSON.stringify(v));
    for (const raw of RAW_GARBAGE) await publish(def, raw);
  }

  // Settled: no durable has anything pending or unacknowledged.
  const deadline = Date.now() + (options.settleTimeoutMs ?? 60_000);
  for (;;) {
    let busy = 0;
    for (const d of durables) {
      const info = await jsm.consumers.info(d.stream, d.name);
      busy += info.num_pending + info.num_ack_pending;
    }
    if (busy === 0) break;
    if (Date.now() > deadline) {
      return [{ input: `seed ${seed}`, problem: `${busy} messages still pending after the settle timeout` }];
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const dead = new Map<string, { reason: string; error: string }>();
  const dlq = `${namespace.toUpperCase()}_DBPLANE_DLQ`;
  const info = await jsm.streams.info(dlq).catch(() => undefined);
  if (info && info.state.messages > 0) {
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      const m = await jsm.streams.getMessage(dlq, { seq }).catch(() => undefined);
      const id = m?.header?.get("ce-id");
      const durable = m?.header?.get("dbplane-dlq-durable");
      if (!m || !id || !durable) continue;
      dead.set(`${id}/${durable}`, {
        reason: m.header?.get("dbplane-dlq-reason") ?? "",
        error: m.header?.get("dbplane-dlq-error") ?? "",
      });
    }
  }
  // A durable filters by a subject prefix and acknowledges the types it does not handle without
  // reading them; a type it handles must dead-letter every input of that type, with a reason.
  const findings: HostileFinding[] = [];
  const byHandler = Map.groupBy(expected, (e) => `${e.durable} ${e.type}`);
  let handled = 0;
  for (const [handler, inputs] of byHandler) {
    if (!inputs.some((e) => dead.has(`${e.id}/${e.durable}`))) continue;
    handled++;
    for (const e of inputs) {
      const d = dead.get(`${e.id}/${e.durable}`);
      if (!d)
        findings.push({
          input: e.input,
          problem: `not dead-lettered by ${handler}, which dead-lettered others`,
        });
      else if (!d.reason || !d.error)
        findings.push({ input: e.input, problem: "dead-lettered without a reason" });
    }
  }
  if (requireDurables && handled === 0) {
    findings.push({ input: `seed ${seed}`, problem: "no durable dead-lettered any hostile message" });
  }
  return findings;
}
