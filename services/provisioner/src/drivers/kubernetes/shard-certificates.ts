import { createPrivateKey, generateKeyPairSync, type KeyObject, X509Certificate } from "node:crypto";
import type { KubernetesObject } from "@kubernetes/client-node";
import { shardLabels, shardNames } from "./shard-manifests.ts";
import { issueCertificate } from "./x509-certificate.ts";

/**
 * Where a shard's server certificate comes from: a cert-manager Issuer or ClusterIssuer named in
 * config, or the provisioner's own CA (a Secret in the platform's namespace, made once, whose
 * certificate alone is published in a ConfigMap of the same name for the router and collector).
 */
export type ShardTlsSource =
  | { readonly kind: "provisioner-ca"; readonly namespace: string; readonly name: string }
  | {
      readonly kind: "cert-manager";
      readonly issuerKind: "Issuer" | "ClusterIssuer";
      readonly issuerName: string;
    };

/** The CA the provisioner signs shard certificates with. */
export interface ShardCa {
  readonly certPem: string;
  readonly cert: X509Certificate;
  readonly privateKey: KeyObject;
}

const CA_COMMON_NAME = "dbplane shard CA";
const DAY_MS = 86_400_000;
/** 825 days: the longest a TLS client still accepts for a server certificate (as the local CA). */
const SERVER_DAYS = 825;
const CA_DAYS = 3650;
/** A certificate with less left than this is issued again on the next reconcile. */
const RENEW_BEFORE_DAYS = 30;

const newKey = () => generateKeyPairSync("ec", { namedCurve: "prime256v1" });
const pkcs8 = (key: KeyObject) => key.export({ type: "pkcs8", format: "pem" }).toString();

/**
 * The names clients connect to, which the certificate must carry (verify-full): the primary,
 * read and headless Services (short, namespaced and `.svc`), and each pod under the headless
 * Service (`<sts>-<i>.<headless>.<ns>.svc`, how replicas are announced) as one wildcard.
 */
export function shardDnsNames(database: string, shard: number, namespace: string): string[] {
  const names = shardNames(database, shard);
  return [
    ...[names.service, names.readService, names.headlessService].flatMap((svc) => [
      svc,
      `${svc}.${namespace}`,
      `${svc}.${namespace}.svc`,
    ]),
    `*.${names.headlessService}.${namespace}.svc`,
  ];
}

/** A new self-signed CA: its certificate and key as PEM, for the CA Secret. */
export function newShardCa(now = new Date()): { certPem: string; keyPem: string } {
  const { publicKey, privateKey } = newKey();
  const certPem = issueCertificate(
    {
      commonName: CA_COMMON_NAME,
      publicKey,
      isCa: true,
      notBefore: new Date(now.getTime() - 60_000),
      notAfter: new Date(now.getTime() + CA_DAYS * DAY_MS),
    },
    { commonName: CA_COMMON_NAME, privateKey },
  );
  return { certPem, keyPem: pkcs8(privateKey) };
}

/** The CA from its Secret's `tls.crt` and `tls.key`. */
export function parseShardCa(certPem: string, keyPem: string): ShardCa {
  return { certPem, cert: new X509Certificate(certPem), privateKey: createPrivateKey(keyPem) };
}

/** Whether an existing server certificate can stay: signed by `ca`, its key, every name, not near expiry. */
function stillGood(
  data: Readonly<Record<string, string>>,
  ca: ShardCa,
  dnsNames: readonly string[],
): boolean {
  const { "tls.crt": certPem, "tls.key": keyPem } = data;
  if (!certPem || !keyPem || data["ca.crt"] !== ca.certPem) return false;
  try {
    const cert = new X509Certificate(certPem);
    const sans = new Set((cert.subjectAltName ?? "").split(", ").map((s) => s.replace(/^DNS:/, "")));
    return (
      cert.verify(ca.cert.publicKey) &&
      cert.checkPrivateKey(createPrivateKey(keyPem)) &&
      dnsNames.every((name) => sans.has(name)) &&
      Date.parse(cert.validTo) - Date.now() > RENEW_BEFORE_DAYS * DAY_MS
    );
  } catch {
    return false;
  }
}

/**
 * The `data` of a shard's `kubernetes.io/tls` Secret (`tls.crt`, `tls.key`, `ca.crt`): the existing
 * one when it is still good, so a re-reconcile makes no new key; else a new P-256 key and a
 * certificate from `ca` for {@link shardDnsNames}.
 */
export function shardServerTls(
  existing: Readonly<Record<string, string>>,
  ca: ShardCa,
  dnsNames: readonly string[],
  now = new Date(),
): { "tls.crt": string; "tls.key": string; "ca.crt": string } {
  if (stillGood(existing, ca, dnsNames))
    return { "tls.crt": existing["tls.crt"]!, "tls.key": existing["tls.key"]!, "ca.crt": ca.certPem };
  const { publicKey, privateKey } = newKey();
  const cert = issueCertificate(
    {
      // A CN is at most 64 characters (RFC 5280); clients check the SANs anyway.
      commonName: (dnsNames[0] ?? "shard").slice(0, 64),
      publicKey,
      dnsNames,
      notBefore: new Date(now.getTime() - 60_000),
      notAfter: new Date(now.getTime() + SERVER_DAYS * DAY_MS),
    },
    { commonName: CA_COMMON_NAME, privateKey: ca.privateKey },
  );
  return { "tls.crt": cert, "tls.key": pkcs8(privateKey), "ca.crt": ca.certPem };
}

/** The shard's `kubernetes.io/tls` Secret from {@link shardServerTls}'s data. */
export function shardTlsSecret(
  database: string,
  shard: number,
  namespace: string,
  data: Readonly<Record<string, string>>,
): KubernetesObject {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: shardNames(database, shard).tlsSecret,
      namespace,
      labels: shardLabels(database, shard),
    },
    type: "kubernetes.io/tls",
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString("base64")])),
  } as KubernetesObject;
}

/**
 * A cert-manager Certificate whose Secret is the shard's `-tls` Secret, labelled like the shard's
 * other objects (so delete removes it too). cert-manager renews it; the key is made by cert-manager.
 */
export function shardCertificate(
  database: string,
  shard: number,
  namespace: string,
  issuer: { readonly issuerKind: string; readonly issuerName: string },
): KubernetesObject {
  const names = shardNames(database, shard);
  const labels = shardLabels(database, shard);
  return {
    apiVersion: "cert-manager.io/v1",
    kind: "Certificate",
    metadata: { name: names.tlsSecret, namespace, labels },
    spec: {
      secretName: names.tlsSecret,
      secretTemplate: { labels },
      dnsNames: shardDnsNames(database, shard, namespace),
      usages: ["server auth", "digital signature", "key encipherment"],
      privateKey: { algorithm: "ECDSA", size: 256, encoding: "PKCS8", rotationPolicy: "Always" },
      issuerRef: { group: "cert-manager.io", kind: issuer.issuerKind, name: issuer.issuerName },
    },
  } as KubernetesObject;
}
