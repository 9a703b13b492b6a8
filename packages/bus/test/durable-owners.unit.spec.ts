import { readFileSync } from "node:fs";
import { join } from "node:path";
import { SERVICES } from "@dbplane/contracts";
import { describe, expect, it } from "vitest";
import { COMMAND_DURABLES, EVENT_DURABLES } from "../src/index.ts";

const SERVICES_DIR = join(import.meta.dirname, "../../../services");

/** The `durable:` names of a service's main.ts (`name` is the service's own name). */
function durablesIn(service: string): string[] {
  const source = readFileSync(join(SERVICES_DIR, service, "src/main.ts"), "utf8");
  return [...source.matchAll(/durable: (name|`\$\{name\}(-[a-z-]+)`)/g)].map(
    (m) => `${service}${m[2] ?? ""}`,
  );
}

describe("durable owners", () => {
  // A durable missing from COMMAND_DURABLES / EVENT_DURABLES is left open to every other
  // service's NATS user: this keeps the lists level with the code.
  it("lists every durable the services' main.ts create", () => {
    for (const service of SERVICES) {
      const listed = [...COMMAND_DURABLES[service], ...EVENT_DURABLES[service]].sort();
      expect(durablesIn(service).sort(), service).toEqual(listed);
    }
  });
});
