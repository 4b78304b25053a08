/**
 * A private CA and a serving certificate for the webhook, built with node-forge.
 * The API server dials the Service DNS name (`NAME.NAMESPACE.svc`) and checks it against the
 * serving certificate's SANs; it trusts the CA through each webhook's `clientConfig.caBundle`.
 */
import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';

/** 365 days: short enough that rotation is exercised, long enough for a Helm release between upgrades. */
export const DEFAULT_VALIDITY_DAYS = 365;
/** 10 years: the CA lives in every caBundle; changing it means patching the webhook configurations. */
export const DEFAULT_CA_VALIDITY_DAYS = 3650;
/** RSA 2048: the smallest size current TLS stacks (and Go's crypto/x509 in the API server) accept without complaint. */
export const DEFAULT_KEY_BITS = 2048;
export const MIN_KEY_BITS = 2048;
/** 5 minutes: notBefore is backdated so a node whose clock runs slightly behind does not reject a fresh certificate. */
export const BACKDATE_MS = 5 * 60 * 1000;
/** Names every serving certificate carries, so local runs and port-forwards work without extra flags. */
export const ALWAYS_INCLUDED_HOSTS = ['localhost', '127.0.0.1'] as const;
/** RFC 1035: 253 characters for a whole name, 63 per label. */
const MAX_DNS_NAME_LENGTH = 253;
const MAX_DNS_LABEL_LENGTH = 63;
/** 16 random bytes (RFC 5280 allows up to 20 octets; CA/B forum asks for at least 64 bits of entropy). */
const SERIAL_BYTES = 16;
const DAY_MS = 24 * 60 * 60 * 1000;

const CA_COMMON_NAME = 'pullguard webhook CA';
const ORGANIZATION = 'pullguard';

export interface GenerateOptions {
  /** Names the serving certificate must be valid for: DNS names or IP literals (v4 or v6). The first is the CN. */
  readonly hosts: readonly string[];
  readonly validityDays: number;
  readonly caValidityDays?: number;
  readonly now?: Date;
  readonly keyBits?: number;
}

/** PEM strings for the CA and the serving certificate, plus the serving certificate's expiry. */
export interface CertificateBundle {
  readonly caCert: string;
  readonly caKey: string;
  readonly tlsCert: string;
  readonly tlsKey: string;
  readonly notAfter: Date;
}

export interface CertificateDescription {
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  readonly subjectCN: string | undefined;
  readonly issuerCN: string | undefined;
  /** Upper-case hex, as node:crypto prints it. */
  readonly serialNumber: string;
  readonly fingerprint256: string;
}

/** Bad input to certificate generation (hosts, durations, key size): the CLI maps it to a usage error. */
export class CertificateOptionsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CertificateOptionsError';
  }
}

type SubjectAltName = { type: 2; value: string } | { type: 7; ip: string };

interface NormalisedHost {
  readonly name: string;
  readonly kind: 'dns' | 'ip';
}

const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;

/**
 * Lower-cases DNS names and canonicalises IP literals (`0:0::1` → `::1`, IPv4-mapped IPv6 to hex),
 * so duplicates collapse and SANs compare equal to what node:crypto reports back.
 */
export function normaliseHost(raw: string): NormalisedHost {
  const host = raw.trim();
  if (host === '') throw new CertificateOptionsError('empty host name');
  const unbracketed = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const family = isIP(unbracketed);
  if (family === 4) return { name: unbracketed, kind: 'ip' };
  if (family === 6) return { name: new URL(`http://[${unbracketed}]`).hostname.slice(1, -1), kind: 'ip' };
  const name = host.toLowerCase().replace(/\.$/, '');
  if (name.length > MAX_DNS_NAME_LENGTH) {
    throw new CertificateOptionsError(`invalid host "${raw}": longer than ${MAX_DNS_NAME_LENGTH} characters`);
  }
  const labels = name.split('.');
  labels.forEach((label, index) => {
    // A wildcard is only meaningful as the whole leftmost label (RFC 6125 §6.4.3 as Go and OpenSSL apply it).
    if (label === '*' && index === 0 && labels.length > 2) return;
    if (label.length > MAX_DNS_LABEL_LENGTH || !DNS_LABEL.test(label)) {
      throw new CertificateOptionsError(
        `invalid host "${raw}": "${label}" is not a DNS label (a-z, 0-9 and inner '-', 1 to ${MAX_DNS_LABEL_LENGTH} characters) nor an IP address`,
      );
    }
  });
  return { name, kind: 'dns' };
}

/** The requested hosts, validated, de-duplicated in order, followed by `localhost` and `127.0.0.1`. */
export function servingHosts(hosts: readonly string[]): NormalisedHost[] {
  if (hosts.length === 0) throw new CertificateOptionsError('at least one host name is required');
  const seen = new Set<string>();
  const result: NormalisedHost[] = [];
  for (const raw of [...hosts, ...ALWAYS_INCLUDED_HOSTS]) {
    const host = normaliseHost(raw);
    if (seen.has(host.name)) continue;
    seen.add(host.name);
    result.push(host);
  }
  return result;
}

function requirePositiveDays(name: string, value: number): void {
  if (!Number.isFinite(value) || value <= 0) {
    throw new CertificateOptionsError(`${name} must be a positive number of days, got ${value}`);
  }
}

/** A positive DER INTEGER without a redundant leading zero: top bit clear, next bit set. */
function randomSerialHex(): string {
  const bytes = randomBytes(SERIAL_BYTES);
  bytes[0] = ((bytes[0] ?? 0) & 0x3f) | 0x40;
  return bytes.toString('hex');
}

interface KeyMaterial {
  readonly privateKeyPem: string;
  readonly privateKey: forge.pki.rsa.PrivateKey;
  readonly publicKey: forge.pki.rsa.PublicKey;
}

/** node:crypto generates the RSA key (native, ~50 ms); forge's pure-JS generator takes seconds. */
function generateRsaKey(bits: number): KeyMaterial {
  const { privateKey: privateKeyPem } = generateKeyPairSync('rsa', {
    modulusLength: bits,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const privateKey = forge.pki.privateKeyFromPem(privateKeyPem);
  const publicKey = forge.pki.setRsaPublicKey(privateKey.n, privateKey.e);
  return { privateKeyPem, privateKey, publicKey };
}

function subject(commonName: string): forge.pki.CertificateField[] {
  return [
    { name: 'commonName', value: commonName },
    { name: 'organizationName', value: ORGANIZATION },
  ];
}

function subjectAltName(host: NormalisedHost): SubjectAltName {
  return host.kind === 'ip' ? { type: 7, ip: host.name } : { type: 2, value: host.name };
}

export function generateCertificates(options: GenerateOptions): CertificateBundle {
  const validityDays = options.validityDays;
  const caValidityDays = options.caValidityDays ?? Math.max(DEFAULT_CA_VALIDITY_DAYS, validityDays);
  requirePositiveDays('validityDays', validityDays);
  requirePositiveDays('caValidityDays', caValidityDays);
  if (caValidityDays < validityDays) {
    throw new CertificateOptionsError(
      `caValidityDays (${caValidityDays}) must not be shorter than validityDays (${validityDays}): clients reject a certificate that outlives its CA`,
    );
  }
  const keyBits = options.keyBits ?? DEFAULT_KEY_BITS;
  if (!Number.isInteger(keyBits) || keyBits < MIN_KEY_BITS) {
    throw new CertificateOptionsError(`keyBits must be an integer of at least ${MIN_KEY_BITS}, got ${keyBits}`);
  }
  const hosts = servingHosts(options.hosts);
  const commonName = hosts[0]?.name ?? 'localhost';
  const now = options.now ?? new Date();
  const notBefore = new Date(now.getTime() - BACKDATE_MS);

  const caKey = generateRsaKey(keyBits);
  const ca = forge.pki.createCertificate();
  ca.publicKey = caKey.publicKey;
  ca.serialNumber = randomSerialHex();
  ca.validity.notBefore = notBefore;
  ca.validity.notAfter = new Date(now.getTime() + caValidityDays * DAY_MS);
  ca.setSubject(subject(CA_COMMON_NAME));
  ca.setIssuer(subject(CA_COMMON_NAME));
  ca.setExtensions([
    // pathLen 0: this CA signs serving certificates only, never another CA.
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  ca.sign(caKey.privateKey, forge.md.sha256.create());
  const caKeyIdentifier = ca.generateSubjectKeyIdentifier().getBytes();

  const tlsKey = generateRsaKey(keyBits);
  const serving = forge.pki.createCertificate();
  serving.publicKey = tlsKey.publicKey;
  serving.serialNumber = randomSerialHex();
  serving.validity.notBefore = notBefore;
  serving.validity.notAfter = new Date(now.getTime() + validityDays * DAY_MS);
  serving.setSubject(subject(commonName));
  serving.setIssuer(ca.subject.attributes);
  serving.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: hosts.map(subjectAltName) },
    { name: 'subjectKeyIdentifier' },
    // Explicit bytes: forge's `keyIdentifier: true` would hash the subject's key, not the issuer's.
    { name: 'authorityKeyIdentifier', keyIdentifier: caKeyIdentifier },
  ]);
  serving.sign(caKey.privateKey, forge.md.sha256.create());

  return {
    caCert: forge.pki.certificateToPem(ca),
    caKey: caKey.privateKeyPem,
    tlsCert: forge.pki.certificateToPem(serving),
    tlsKey: tlsKey.privateKeyPem,
    notAfter: serving.validity.notAfter,
  };
}

/**
 * Splits node:crypto's `subjectAltName` string ("DNS:a, IP Address:1.2.3.4"); values with
 * special characters come JSON-quoted since Node 17 (CVE-2021-44532), so a bare split on ", " is unsafe.
 */
export function parseSubjectAltNames(text: string | undefined): { type: string; value: string }[] {
  if (text === undefined) return [];
  const entries: { type: string; value: string }[] = [];
  const entry = /([^:,]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/gy;
  for (const match of text.matchAll(entry)) {
    const type = match[1] ?? '';
    const rawValue = match[2] ?? '';
    entries.push({ type, value: rawValue.startsWith('"') ? (JSON.parse(rawValue) as string) : rawValue });
  }
  return entries;
}

/** The CN from node:crypto's one-attribute-per-line distinguished name. */
function commonNameOf(distinguishedName: string): string | undefined {
  const line = distinguishedName.split('\n').find((attribute) => attribute.startsWith('CN='));
  return line?.slice('CN='.length);
}

/** Expiry, names and issuer of the first certificate in a PEM (any key type, unlike forge). */
export function describeCertificate(pem: string | Buffer): CertificateDescription {
  const certificate = new X509Certificate(pem);
  const names = parseSubjectAltNames(certificate.subjectAltName);
  return {
    notBefore: certificate.validFromDate,
    notAfter: certificate.validToDate,
    dnsNames: names.filter((name) => name.type === 'DNS').map((name) => name.value),
    ipAddresses: names.filter((name) => name.type === 'IP Address').map((name) => normaliseHost(name.value).name),
    subjectCN: commonNameOf(certificate.subject),
    issuerCN: commonNameOf(certificate.issuer),
    serialNumber: certificate.serialNumber,
    fingerprint256: certificate.fingerprint256,
  };
}

/** A CA that signs client certificates (mutual TLS: `serve --client-ca`). */
export interface ClientCa {
  readonly caCert: string;
  readonly caKey: string;
}

export interface ClientCertificate {
  readonly cert: string;
  readonly key: string;
}

const CLIENT_CA_COMMON_NAME = 'pullguard client CA';

function createCa(commonName: string, now: Date, validityDays: number, keyBits: number): { cert: forge.pki.Certificate; key: KeyMaterial } {
  const key = generateRsaKey(keyBits);
  const ca = forge.pki.createCertificate();
  ca.publicKey = key.publicKey;
  ca.serialNumber = randomSerialHex();
  ca.validity.notBefore = new Date(now.getTime() - BACKDATE_MS);
  ca.validity.notAfter = new Date(now.getTime() + validityDays * DAY_MS);
  ca.setSubject(subject(commonName));
  ca.setIssuer(subject(commonName));
  ca.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  ca.sign(key.privateKey, forge.md.sha256.create());
  return { cert: ca, key };
}

/** A fresh CA for client certificates: what the API server's client certificate is issued by. */
export function generateClientCa(options: { readonly validityDays?: number; readonly now?: Date; readonly keyBits?: number } = {}): ClientCa {
  const validityDays = options.validityDays ?? DEFAULT_CA_VALIDITY_DAYS;
  requirePositiveDays('validityDays', validityDays);
  const { cert, key } = createCa(CLIENT_CA_COMMON_NAME, options.now ?? new Date(), validityDays, options.keyBits ?? DEFAULT_KEY_BITS);
  return { caCert: forge.pki.certificateToPem(cert), caKey: key.privateKeyPem };
}

export interface ClientCertificateOptions {
  /** The subject CN (`--client-cn` checks it, or one of the DNS names). */
  readonly commonName: string;
  readonly dnsNames?: readonly string[];
  readonly validityDays?: number;
  readonly now?: Date;
  readonly keyBits?: number;
}

/** A client certificate (extended key usage clientAuth only) signed by `ca`. */
export function issueClientCertificate(ca: ClientCa, options: ClientCertificateOptions): ClientCertificate {
  const validityDays = options.validityDays ?? DEFAULT_VALIDITY_DAYS;
  requirePositiveDays('validityDays', validityDays);
  const now = options.now ?? new Date();
  const caCert = forge.pki.certificateFromPem(ca.caCert);
  const caKey = forge.pki.privateKeyFromPem(ca.caKey);
  const key = generateRsaKey(options.keyBits ?? DEFAULT_KEY_BITS);
  const client = forge.pki.createCertificate();
  client.publicKey = key.publicKey;
  client.serialNumber = randomSerialHex();
  client.validity.notBefore = new Date(now.getTime() - BACKDATE_MS);
  client.validity.notAfter = new Date(now.getTime() + validityDays * DAY_MS);
  client.setSubject(subject(options.commonName));
  client.setIssuer(caCert.subject.attributes);
  const dnsNames = options.dnsNames ?? [];
  client.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', clientAuth: true },
    ...(dnsNames.length === 0 ? [] : [{ name: 'subjectAltName', altNames: dnsNames.map((value) => ({ type: 2, value })) }]),
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  client.sign(caKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(client), key: key.privateKeyPem };
}
