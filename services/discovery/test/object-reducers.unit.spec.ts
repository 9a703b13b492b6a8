import type { V1Secret } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import {
  reduceCommon,
  reduceConfigMap,
  reduceSecret,
  toSecretKeys,
  toWorkload,
} from "../src/kubernetes/object-reducers.ts";

const b64 = (text: string) => Buffer.from(text).toString("base64");

describe("objects reduced on arrival", () => {
  it("leaves no Secret value anywhere in the cached object, only key names and connection hints", () => {
    const password = "Pa55-word-in-secret";
    const secret = {
      metadata: {
        name: "creds",
        namespace: "shop",
        uid: "u1",
        annotations: {
          "kubectl.kubernetes.io/last-applied-configuration": JSON.stringify({ stringData: { password } }),
          team: "pay",
        },
        managedFields: [{ manager: "kubectl", fieldsV1: { "f:data": { "f:password": {} } } }],
      },
      data: { password: b64(password), DATABASE_URL: b64(`postgres://app:${password}@pg.shop:5432/shop`) },
      stringData: { token: password },
    } as V1Secret;
    reduceCommon(secret as never);
    reduceSecret(secret);
    reduceSecret(secret); // idempotent: a second pass (list item, then add callback) keeps the hints
    const text = JSON.stringify(secret);
    expect(text).not.toContain(password);
    expect(text).not.toContain(b64(password));
    expect(toSecretKeys(secret)).toEqual({
      kind: "Secret",
      namespace: "shop",
      name: "creds",
      uid: "u1",
      keys: ["password", "DATABASE_URL", "token"],
      hints: { DATABASE_URL: { host: "pg.shop", port: 5432, dbname: "shop" } },
    });
  });

  it("drops ConfigMap values over 2 KiB and binary data", () => {
    const cm = {
      metadata: { name: "c" },
      data: { small: "pg", big: "x".repeat(3_000) },
      binaryData: { blob: "AAAA" },
    };
    reduceConfigMap(cm as never);
    expect(cm).toEqual({ metadata: { name: "c" }, data: { small: "pg" } });
  });

  it.each([
    ["no spec", {}],
    ["containers not a list", { spec: { template: { spec: { containers: "x" } } } }],
    [
      "entries of the wrong type",
      { spec: { template: { spec: { containers: [null, 3, { env: "x", ports: [{}] }] } } } },
    ],
  ])("reads a workload with %s as empty rather than throwing", (_what, body) => {
    const workload = toWorkload(
      { metadata: { name: "w", namespace: "n", uid: "u" }, ...body } as never,
      "Deployment",
    );
    expect(workload.containers.every((c) => c.env.length === 0 && c.ports.length === 0)).toBe(true);
  });
});
