// The command line of ./scripts/dev: replicas per service, demos, chaos, and a clear error
// naming the flag for every bad input.
import { describe, expect, test } from "vitest";
import { parseDevOptions, UsageError } from "./lib/dev-options.ts";

const services = ["discovery", "provisioner", "router", "scheduler", "projection-coordinator", "collector"];

describe("parseDevOptions", () => {
  test("defaults: one replica each, every demo, no chaos, 5 failed starts", () => {
    const o = parseDevOptions([], services);
    expect(o).toMatchObject({ defaultReplicas: 1, demos: true, chaos: false, maxStartFailures: 5 });
    expect(o.replicas.size).toBe(0);
  });

  test("--replicas N and NAME=N,…", () => {
    expect(parseDevOptions(["--replicas", "3"], services).defaultReplicas).toBe(3);
    const o = parseDevOptions(["--replicas", "scheduler=3,collector=2"], services);
    expect(o.defaultReplicas).toBe(1);
    expect(Object.fromEntries(o.replicas)).toEqual({ scheduler: 3, collector: 2 });
  });

  test("chaos: the command or the flag, two replicas each unless told, bounded kills", () => {
    expect(parseDevOptions(["chaos"], services)).toMatchObject({
      defaultReplicas: 2,
      chaos: { kills: 5, minSeconds: 20, maxSeconds: 40 },
    });
    expect(
      parseDevOptions(["--chaos", "--replicas", "4", "--chaos-kills", "2", "--chaos-every", "3-3"], services),
    ).toMatchObject({ defaultReplicas: 4, chaos: { kills: 2, minSeconds: 3, maxSeconds: 3 } });
  });

  test("--no-demo and --demos", () => {
    expect(parseDevOptions(["--no-demo"], services).demos).toBe(false);
    expect(parseDevOptions(["--demos", "scheduler,router"], services).demos).toEqual(
      new Set(["scheduler", "router"]),
    );
  });

  test.each([
    [["--replicas", "0"], /--replicas must be a whole number from 1 to 9, got "0"/],
    [["--replicas", "10"], /--replicas must be a whole number from 1 to 9/],
    [["--replicas", "sched=2"], /--replicas: no service "sched" \(known: discovery, /],
    [["--replicas", "scheduler"], /--replicas: "scheduler" is not NAME=N/],
    [["--replicas", "scheduler=x"], /--replicas scheduler must be a whole number/],
    [["--demos", "nope"], /--demos: no service "nope"/],
    [["--demos", "router", "--no-demo"], /--demos and --no-demo exclude each other/],
    [["--chaos-kills", "3"], /--chaos-kills and --chaos-every need chaos/],
    [["chaos", "--chaos-every", "9-3"], /--chaos-every must be MIN-MAX seconds/],
    [["chaos", "--chaos-kills", "0"], /--chaos-kills must be a whole number/],
    [["--max-start-failures", "-1"], /--max-start-failures|'-1'/],
    [["monkey"], /unknown command "monkey" \(known: chaos\)/],
    [["--bogus"], /Unknown option '--bogus'/],
  ])("%j is refused", (argv, message) => {
    expect(() => parseDevOptions(argv, services)).toThrow(UsageError);
    expect(() => parseDevOptions(argv, services)).toThrow(message);
  });
});
