import { describe, expect, it } from "vitest";
import { readOwnership, type WriteScope, writeOwnership } from "../src/kube-api/managed-fields.ts";
import { jsonPatch, mergePatch } from "../src/kube-api/patches.ts";
import { parseFieldSelector, parseLabelSelector } from "../src/kube-api/selectors.ts";
import { recordUpdate, serverSideApply } from "../src/kube-api/server-side-apply.ts";
import { KubeStatusError } from "../src/kube-api/status-error.ts";

const main: WriteScope = { subresource: "main", statusSubresource: true };

describe("label selectors", () => {
  const labels = { tier: "db", role: "primary", "app.kubernetes.io/name": "pg" };
  it.each([
    ["", true],
    ["tier=db", true],
    ["tier==db", true],
    ["tier!=db", false],
    ["missing!=x", true],
    ["role in (primary,replica)", true],
    ["role notin (primary)", false],
    ["missing notin (x)", true],
    ["role", true],
    ["!role", false],
    ["!missing", true],
    ["app.kubernetes.io/name=pg,tier in (db), !missing", true],
    ["tier=db,role=replica", false],
  ])("%j matches: %s", (selector, expected) => {
    expect(parseLabelSelector(selector)(labels)).toBe(expected);
  });

  it("rejects what a real server cannot parse with a 400", () => {
    expect(() => parseLabelSelector("role in primary")).toThrow(KubeStatusError);
    expect(() => parseFieldSelector("spec.replicas=1", "StatefulSet")).toThrow(/field label not supported/);
    expect(parseFieldSelector("status.phase=Running", "Pod")({ status: { phase: "Running" } })).toBe(true);
  });
});

describe("patches", () => {
  it("merge patch merges objects, deletes on null and replaces lists", () => {
    const target = { a: { b: 1, c: 2 }, list: [1, 2], keep: true };
    expect(mergePatch(target, { a: { b: null, d: 3 }, list: [3] })).toEqual({
      a: { c: 2, d: 3 },
      list: [3],
      keep: true,
    });
    expect(target.a).toEqual({ b: 1, c: 2 });
  });

  it("JSON patch runs every RFC 6902 operation on a copy", () => {
    const target = { items: ["a", "c"], meta: { "x/y": 1 } };
    const out = jsonPatch(target, [
      { op: "add", path: "/items/1", value: "b" },
      { op: "add", path: "/items/-", value: "d" },
      { op: "copy", from: "/items/0", path: "/first" },
      { op: "move", from: "/meta/x~1y", path: "/moved" },
      { op: "test", path: "/moved", value: 1 },
      { op: "remove", path: "/items/3" },
    ]);
    expect(out).toEqual({ items: ["a", "b", "c"], meta: {}, first: "a", moved: 1 });
    expect(target.items).toEqual(["a", "c"]);
  });

  it("JSON patch fails with 422 on a missing path or failed test, 400 on a malformed body", () => {
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        return (err as KubeStatusError).code;
      }
      return 0;
    };
    expect(code(() => jsonPatch({}, [{ op: "remove", path: "/nope" }]))).toBe(422);
    expect(code(() => jsonPatch({ a: 1 }, [{ op: "test", path: "/a", value: 2 }]))).toBe(422);
    expect(code(() => jsonPatch({}, { op: "add" }))).toBe(400);
    expect(code(() => jsonPatch({}, [{ op: "frobnicate", path: "/a" }]))).toBe(400);
  });
});

describe("server-side apply ownership", () => {
  const apply = (
    live: Record<string, unknown> | undefined,
    applied: Record<string, unknown>,
    manager: string,
    force = false,
  ) => serverSideApply({ live, applied, manager, force, scope: main, apiVersion: "apps/v1" });

  it("records leaf fields, keeping label keys with dots and slashes intact", () => {
    const obj = apply(
      undefined,
      { metadata: { labels: { "app.kubernetes.io/name": "pg" } }, spec: { replicas: 1 } },
      "m",
    );
    const [entry] = readOwnership(obj);
    expect(entry?.manager).toBe("m");
    expect([...(entry?.fields ?? [])].sort()).toEqual([
      JSON.stringify(["metadata", "labels", "app.kubernetes.io/name"]),
      JSON.stringify(["spec", "replicas"]),
    ]);
  });

  it("writes FieldsV1 with '.' for a field that is also a parent, and reads it back", () => {
    const fields = new Set([JSON.stringify(["spec", "x"]), JSON.stringify(["spec", "x", "y"])]);
    const obj: Record<string, unknown> = {};
    writeOwnership(obj, [{ manager: "m", operation: "Update", apiVersion: "v1", time: "t", fields }]);
    const managed = (obj.metadata as { managedFields: { fieldsV1: unknown }[] }).managedFields;
    expect(managed[0]?.fieldsV1).toEqual({ "f:spec": { "f:x": { ".": {}, "f:y": {} } } });
    expect(readOwnership(obj)[0]?.fields).toEqual(fields);
  });

  it("gives the fields an update changed to its manager and takes them from the others", () => {
    const before = { spec: { x: 1, keep: 1 } };
    recordUpdate(undefined, before, "a", main, "v1");
    const after = { ...structuredClone(before), spec: { x: { y: 2 }, keep: 1 } };
    recordUpdate(before, after, "b", main, "v1");
    const owners = Object.fromEntries(readOwnership(after).map((e) => [e.manager, [...e.fields]]));
    expect(owners).toEqual({
      a: [JSON.stringify(["spec", "keep"])],
      b: [JSON.stringify(["spec", "x", "y"])],
    });
  });

  it("keeps status out of main-resource apply and treats lists as atomic", () => {
    const first = apply(undefined, { spec: { list: [1, 2] }, status: { ready: true } }, "m");
    expect(first.status).toBeUndefined();
    const second = apply(first, { spec: { list: [3] } }, "m");
    expect((second.spec as { list: number[] }).list).toEqual([3]);
  });

  it("lets a manager take an owned field only with force, and reports each conflict once", () => {
    const live = apply(undefined, { spec: { replicas: 1, image: "a" } }, "one");
    let error: KubeStatusError | undefined;
    try {
      apply(live, { spec: { replicas: 2, image: "b" } }, "two");
    } catch (err) {
      error = err as KubeStatusError;
    }
    expect(error?.code).toBe(409);
    expect(error?.details?.causes?.map((c) => c.field).sort()).toEqual([".spec.image", ".spec.replicas"]);
    const forced = apply(live, { spec: { replicas: 2 } }, "two", true);
    const owners = Object.fromEntries(readOwnership(forced).map((e) => [e.manager, [...e.fields]]));
    expect(owners).toEqual({
      one: [JSON.stringify(["spec", "image"])],
      two: [JSON.stringify(["spec", "replicas"])],
    });
  });
});
