import type { KubeApiDouble, KubeObject } from "@dbplane/testkit";

type Env = Record<string, unknown>;

export const env = {
  literal: (name: string, value: string): Env => ({ name, value }),
  configMap: (name: string, configMap: string, key: string): Env => ({
    name,
    valueFrom: { configMapKeyRef: { name: configMap, key } },
  }),
  secret: (name: string, secret: string, key: string): Env => ({
    name,
    valueFrom: { secretKeyRef: { name: secret, key } },
  }),
};

export function namespace(double: KubeApiDouble, name: string): void {
  double.put({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
}

export function postgresStatefulSet(ns: string, name: string, extraEnv: Env[] = []): KubeObject {
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name, namespace: ns, labels: { app: name, tier: "data" } },
    spec: {
      serviceName: name,
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          containers: [
            {
              name: "postgres",
              image: "postgres:17.2",
              ports: [{ containerPort: 5432 }],
              env: [{ name: "POSTGRES_DB", value: "shop" }, ...extraEnv],
            },
          ],
        },
      },
    },
  };
}

export function service(ns: string, name: string, selector: Record<string, string>): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: ns },
    spec: { selector, ports: [{ name: "postgres", port: 5432, targetPort: 5432 }] },
  };
}

export function deployment(
  ns: string,
  name: string,
  containerEnv: Env[],
  extra: { envFrom?: unknown[]; annotations?: Record<string, string> } = {},
): KubeObject {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name,
      namespace: ns,
      labels: { app: name, team: "shop" },
      ...(extra.annotations && { annotations: extra.annotations }),
    },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          containers: [
            {
              name: "app",
              image: `example/${name}:1`,
              env: containerEnv,
              ...(extra.envFrom && { envFrom: extra.envFrom }),
            },
          ],
        },
      },
    },
  };
}

export function configMap(ns: string, name: string, data: Record<string, string>): KubeObject {
  return { apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: ns }, data };
}

export function secret(ns: string, name: string, values: Record<string, string>): KubeObject {
  const data = Object.fromEntries(
    Object.entries(values).map(([k, v]) => [k, Buffer.from(v).toString("base64")]),
  );
  return { apiVersion: "v1", kind: "Secret", metadata: { name, namespace: ns }, type: "Opaque", data };
}
