import { z } from "zod";
import { ENGINES } from "./observation.ts";
import { engineOfUrl, splitPassword, type TargetSpec } from "./target-spec.ts";

/** One entry of `DBPLANE_COLLECTOR_TARGETS` (JSON array) or the file at `…_TARGETS_FILE`. */
export const staticTargetEntry = z
  .strictObject({
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._:/-]{0,200}$/, "must be 1-201 characters of [A-Za-z0-9._:/-]"),
    url: z.string().refine((url) => engineOfUrl(url) !== undefined, {
      message: "must be a postgres(ql)://, mysql://, mariadb://, redis(s):// or mongodb(+srv):// URL",
    }),
    engine: z.enum(ENGINES).optional(),
    passwordFile: z.string().min(1).optional().describe("0600 file holding the password"),
  })
  .refine((t) => !t.engine || t.engine === engineOfUrl(t.url), {
    message: "engine does not match the URL scheme",
    path: ["engine"],
  });

export const staticTargetList = z
  .array(staticTargetEntry)
  .refine((list) => new Set(list.map((t) => t.name)).size === list.length, "target names must be unique");

export type StaticTargetEntry = z.output<typeof staticTargetEntry>;

/** Static targets as registry specs, and the passwords their URLs carried (kept in this process only). */
export interface StaticTargets {
  readonly specs: readonly TargetSpec[];
  readonly passwords: ReadonlyMap<string, string>;
}

export function staticTargets(entries: readonly StaticTargetEntry[]): StaticTargets {
  const passwords = new Map<string, string>();
  const specs = entries.map((entry): TargetSpec => {
    const { url, password } = splitPassword(entry.url);
    if (password !== undefined) passwords.set(entry.name, password);
    const credential = entry.passwordFile
      ? ({ kind: "file", path: entry.passwordFile } as const)
      : password !== undefined
        ? ({ kind: "config" } as const)
        : undefined;
    return {
      id: entry.name,
      engine: entry.engine ?? engineOfUrl(entry.url)!,
      source: "static",
      url,
      ...(credential && { credential }),
    };
  });
  return { specs, passwords };
}
