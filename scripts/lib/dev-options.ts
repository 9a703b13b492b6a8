// The command line of ./scripts/dev (scripts/dev-stack.ts), parsed with node:util parseArgs.
import { parseArgs } from "node:util";

export interface DevOptions {
  /** Replicas per service name; services not named get `defaultReplicas`. */
  readonly replicas: ReadonlyMap<string, number>;
  readonly defaultReplicas: number;
  /** `false`: no demo; `true`: every demo; a set: only these services' demos. */
  readonly demos: boolean | ReadonlySet<string>;
  readonly chaos: false | ChaosOptions;
  /** Failed starts in a row (exit or not ready) after which the stack stops. */
  readonly maxStartFailures: number;
}

export interface ChaosOptions {
  readonly kills: number;
  readonly minSeconds: number;
  readonly maxSeconds: number;
}

/** Replica #n of a service listens on its first port + 10·(n−1): #2 on 7111–7116, #3 on 7121–7126. */
export const MAX_REPLICAS = 9;
export const REPLICA_PORT_STEP = 10;

export const USAGE = `usage: ./scripts/dev [chaos] [options]
  --replicas N | NAME=N,…    replicas per service (default 1, at most ${MAX_REPLICAS}); replica #n of a
                             service listens on its port + 10·(n−1) (scheduler#2: 7114), the router's
                             PostgreSQL endpoint likewise (router#2: 7442)
  --no-demo                  run no demo
  --demos NAME,…             run only these services' demos
  --max-start-failures N     failed starts in a row that stop the stack (default 5)
  chaos | --chaos            kill a random replica now and then and print what the platform did
                             (with chaos and no --replicas, every service runs 2 replicas)
  --chaos-kills N            how many kills (default 5)
  --chaos-every MIN-MAX      seconds between kills, drawn at random (default 20-40)`;

export class UsageError extends Error {}

function positiveInt(text: string, what: string, max: number): number {
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > max) {
    throw new UsageError(`${what} must be a whole number from 1 to ${max}, got ${JSON.stringify(text)}`);
  }
  return Number(text);
}

/** Parses argv (without node and the script); `services`: the names that exist. Throws UsageError. */
export function parseDevOptions(argv: readonly string[], services: readonly string[]): DevOptions {
  let parsed: ReturnType<typeof parseWith>;
  try {
    parsed = parseWith(argv);
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const { values, positionals } = parsed;
  for (const word of positionals) {
    if (word !== "chaos") throw new UsageError(`unknown command ${JSON.stringify(word)} (known: chaos)`);
  }
  const chaosOn = values.chaos === true || positionals.includes("chaos");

  const replicas = new Map<string, number>();
  let defaultReplicas = chaosOn ? 2 : 1;
  if (values.replicas !== undefined) {
    if (/^\d+$/.test(values.replicas)) {
      defaultReplicas = positiveInt(values.replicas, "--replicas", MAX_REPLICAS);
    } else {
      defaultReplicas = 1;
      for (const part of values.replicas.split(",")) {
        const match = /^([a-z][a-z0-9-]*)=(.*)$/.exec(part.trim());
        if (!match) throw new UsageError(`--replicas: ${JSON.stringify(part)} is not NAME=N`);
        const [, name, count] = match as unknown as [string, string, string];
        if (!services.includes(name)) {
          throw new UsageError(
            `--replicas: no service ${JSON.stringify(name)} (known: ${services.join(", ")})`,
          );
        }
        replicas.set(name, positiveInt(count, `--replicas ${name}`, MAX_REPLICAS));
      }
    }
  }

  let demos: boolean | Set<string> = !values["no-demo"];
  if (values.demos !== undefined) {
    if (values["no-demo"]) throw new UsageError("--demos and --no-demo exclude each other");
    demos = new Set(values.demos.split(",").map((s) => s.trim()));
    for (const name of demos) {
      if (!services.includes(name)) {
        throw new UsageError(`--demos: no service ${JSON.stringify(name)} (known: ${services.join(", ")})`);
      }
    }
  }

  let chaos: false | ChaosOptions = false;
  if (chaosOn) {
    const kills = positiveInt(values["chaos-kills"] ?? "5", "--chaos-kills", 1000);
    const every = /^(\d+)-(\d+)$/.exec(values["chaos-every"] ?? "20-40");
    if (!every || Number(every[1]) < 1 || Number(every[1]) > Number(every[2])) {
      throw new UsageError(
        `--chaos-every must be MIN-MAX seconds with 1 ≤ MIN ≤ MAX, got ${values["chaos-every"]}`,
      );
    }
    chaos = { kills, minSeconds: Number(every[1]), maxSeconds: Number(every[2]) };
  } else if (values["chaos-kills"] !== undefined || values["chaos-every"] !== undefined) {
    throw new UsageError("--chaos-kills and --chaos-every need chaos (./scripts/dev chaos or --chaos)");
  }

  return {
    replicas,
    defaultReplicas,
    demos,
    chaos,
    maxStartFailures: positiveInt(values["max-start-failures"] ?? "5", "--max-start-failures", 1000),
  };
}

function parseWith(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      replicas: { type: "string" },
      "no-demo": { type: "boolean" },
      demos: { type: "string" },
      chaos: { type: "boolean" },
      "chaos-kills": { type: "string" },
      "chaos-every": { type: "string" },
      "max-start-failures": { type: "string" },
    },
  });
}
