import { z } from "zod";

/**
 * Zod builders for the shapes of value an environment variable holds, so every service's config
 * parses (and words its errors about) an integer, a duration, a schema name or a list one way.
 * Each returns a fresh schema; chain `.default(…)` and `.describe(…)` as usual.
 */

/** An integer in `[min, max]`, from its decimal text. */
function int(min: number, max: number = Number.MAX_SAFE_INTEGER) {
  return z.coerce.number().int().min(min).max(max);
}

/** A duration in milliseconds in `[min, max]` (an integer; the variable's name ends in `_MS`). */
function ms(min: number, max: number) {
  return int(min, max);
}

/** A lower-case PostgreSQL identifier (a schema name we create and interpolate), ≤ 63 characters. */
function identifier() {
  return z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, "must be a lower-case PostgreSQL identifier");
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** A DNS-1123 label, such as a Kubernetes namespace name. */
function dnsLabel() {
  return z.string().regex(DNS_LABEL, "must be a DNS-1123 label");
}

/** A URL whose scheme is one of `schemes` (`["redis:", "rediss:"]`). */
function url(schemes: readonly string[]) {
  return z.string().refine(
    (value) => {
      try {
        return schemes.includes(new URL(value).protocol);
      } catch {
        return false;
      }
    },
    { message: `must be a ${schemes.map((s) => `${s}//`).join(" or ")} URL` },
  );
}

/**
 * A comma-separated list, parsed to an array with blanks dropped. With `item`, every entry must
 * satisfy it, else the variable fails with `message`. Give a default as the text a user would
 * set (`.prefault("a,b")`), so generated docs show it the way it is written.
 */
function list(item?: z.ZodType<unknown, string>, message = "must be a comma-separated list") {
  const values = z.string().transform((value) =>
    value
      .split(",")
      .map((part) => part.trim())
      .filter(Boolean),
  );
  return item
    ? values.refine((entries) => entries.every((entry) => item.safeParse(entry).success), message)
    : values;
}

/**
 * JSON text whose value must satisfy `schema`; each problem names its path inside the value
 * (`0.url: must be …`), never the value itself.
 */
function json<T extends z.ZodType>(schema: T) {
  return z.string().transform((text, ctx): z.output<T> => {
    try {
      const parsed = schema.safeParse(JSON.parse(text));
      if (parsed.success) return parsed.data;
      for (const issue of parsed.error.issues) {
        ctx.addIssue({ code: "custom", message: `${issue.path.join(".") || "(value)"}: ${issue.message}` });
      }
    } catch {
      ctx.addIssue({ code: "custom", message: "must be JSON" });
    }
    return z.NEVER;
  });
}

/** The builders, by name: `envVar.ms(100, 60_000).default(1_000).describe("…")`. */
export const envVar = { int, ms, identifier, dnsLabel, url, list, json } as const;
