import { describe, expect, it } from "vitest";
import { catalog, findMessageBySubject, findMessageByType, SERVICES } from "../src/index.ts";

// Event names end in a past participle; these few states read better as adjectives.
const STATE_WORDS = new Set(["ready", "lost", "hot"]);
// A phrasal verb keeps its particle after the participle (`shard.failed-over`, the name).
const PARTICLES = new Set(["over"]);

describe("message catalog", () => {
  it("has a unique subject and a unique type per message", () => {
    expect(new Set(catalog.map((d) => d.subject)).size).toBe(catalog.length);
    expect(new Set(catalog.map((d) => d.type)).size).toBe(catalog.length);
  });

  it.each(catalog.map((d) => [d.type, d] as const))("%s follows the naming rules", (_, def) => {
    expect(SERVICES).toContain(def.service);
    expect(def.type).toBe(`io.dbplane.${def.service}.${def.name}.v${def.version}`);
    expect(def.summary.length).toBeGreaterThan(10);
    if (def.kind === "command") {
      expect(def.name).toMatch(/^[a-z]+-[a-z][a-z-]*$/);
      expect(def.subject).toBe(`dbplane.cmd.${def.service}.${def.name}`);
    } else {
      expect(def.name).toMatch(/^[a-z][a-z-]*\.[a-z][a-z-]*$/);
      expect(def.subject).toBe(`dbplane.evt.${def.service}.${def.name}`);
      const [participle, particle] = def.name.split(".")[1]!.split("-");
      const verb =
        particle === undefined || PARTICLES.has(particle) ? participle! : `${participle}-${particle}`;
      expect(verb.endsWith("ed") || STATE_WORDS.has(verb), `${verb} should be a past verb`).toBe(true);
    }
  });

  it("covers every service", () => {
    expect(new Set(catalog.map((d) => d.service))).toEqual(new Set(SERVICES));
  });

  it("finds definitions by type and by subject, also under a test namespace", () => {
    for (const def of catalog) {
      expect(findMessageByType(def.type)).toBe(def);
      expect(findMessageBySubject(def.subject)).toBe(def);
      expect(findMessageBySubject(`t_abc123.${def.subject}`)).toBe(def);
    }
    expect(findMessageByType("io.dbplane.provisioner.create-database.v9")).toBeUndefined();
    expect(findMessageBySubject("dbplane.cmd.provisioner.nope")).toBeUndefined();
    expect(findMessageBySubject("a.b.dbplane.cmd.provisioner.create-database")).toBeUndefined();
  });
});
