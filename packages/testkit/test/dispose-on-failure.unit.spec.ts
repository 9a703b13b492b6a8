import { describe, expect, it } from "vitest";
import { disposeOnFailure } from "../src/index.ts";

describe("disposeOnFailure", () => {
  it("disposes what was started when the set-up throws, and rethrows its error", async () => {
    const calls: string[] = [];
    const failed = disposeOnFailure(
      async () => calls.push("dispose"),
      async () => {
        calls.push("start");
        throw new Error("replica not ready");
      },
    );
    await expect(failed).rejects.toThrow("replica not ready");
    expect(calls).toEqual(["start", "dispose"]);
  });

  it("leaves a world that started alone, and a failing dispose does not hide the set-up's error", async () => {
    let disposed = 0;
    const world = await disposeOnFailure(
      async () => disposed++,
      async () => "world",
    );
    expect([world, disposed]).toEqual(["world", 0]);
    await expect(
      disposeOnFailure(
        async () => {
          throw new Error("dispose failed too");
        },
        async () => {
          throw new Error("the cause");
        },
      ),
    ).rejects.toThrow("the cause");
  });
});
