import { createPrivateKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import t from 'tap';
import {
  BACKDATE_MS, CertificateOptionsError, DEFAULT_CA_VALIDITY_DAYS, describeCertificate, generateCertificates,
  type GenerateOptions,
} from '../../src/certs/generate.ts';

const NOW = new Date('2026-06-01T12:00:00Z');
const DAY_MS = 24 * 60 * 60 * 1000;
const SERVER_AUTH_OID = '1.3.6.1.5.5.7.3.1';

/** X.509 times have one-second precision. */
function seconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

t.test('subject alternative names', async (t) => {
  interface Case {
    readonly hosts: readonly string[];
    readonly commonName: string;
    readonly dnsNames: readonly string[];
    readonly ipAddresses: readonly string[];
  }
  const cases: Record<string, Case> = {
    'puts each DNS host in a DNS SAN and always adds localhost and 127.0.0.1': {
      hosts: ['pullguard.pullguard.svc', 'pullguard.pullguard.svc.cluster.local'],
      commonName: 'pullguard.pullguard.svc',
      dnsNames: ['pullguard.pullguard.svc', 'pullguard.pullguard.svc.cluster.local', 'localhost'],
      ipAddresses: ['127.0.0.1'],
    },
    'writes IPv4 and IPv6 literals as IP SANs, never as DNS names': {
      hosts: ['10.96.0.15', 'fd00::15', 'pullguard'],
      commonName: '10.96.0.15',
      dnsNames: ['pullguard', 'localhost'],
      ipAddresses: ['10.96.0.15', 'fd00::15', '127.0.0.1'],
    },
    'lower-cases names and drops duplicates, including the always-added ones': {
      hosts: ['Pullguard.NS.svc', 'localhost', 'pullguard.ns.svc', '127.0.0.1', 'pullguard.ns.svc.'],
      commonName: 'pullguard.ns.svc',
      dnsNames: ['pullguard.ns.svc', 'localhost'],
      ipAddresses: ['127.0.0.1'],
    },
    'canonicalises a bracketed long-form IPv6 literal': {
      hosts: ['[0:0:0:0:0:0:0:1]'],
      commonName: '::1',
      dnsNames: ['localhost'],
      ipAddresses: ['::1', '127.0.0.1'],
    },
    'accepts a wildcard as the whole leftmost label': {
      hosts: ['*.pullguard.svc'],
      commonName: '*.pullguard.svc',
      dnsNames: ['*.pullguard.svc', 'localhost'],
      ipAddresses: ['127.0.0.1'],
    },
  };
  for (const [name, c] of Object.entries(cases)) {
    t.test(name, async (t) => {
      const bundle = generateCertificates({ hosts: c.hosts, validityDays: 30, now: NOW });
      const description = describeCertificate(bundle.tlsCert);
      t.equal(description.subjectCN, c.commonName);
      t.same(description.dnsNames, c.dnsNames);
      t.same(description.ipAddresses, c.ipAddresses);
      const certificate = new X509Certificate(bundle.tlsCert);
      for (const ip of c.ipAddresses) t.equal(certificate.checkIP(ip), ip, `certificate is valid for IP ${ip}`);
    });
  }
});

t.test('certificate structure', async (t) => {
  const bundle = generateCertificates({ hosts: ['pullguard.pullguard.svc'], validityDays: 30, now: NOW });
  const caCertificate = new X509Certificate(bundle.caCert);
  const serving = new X509Certificate(bundle.tlsCert);
  const forgeCa = forge.pki.certificateFromPem(bundle.caCert);
  const forgeServing = forge.pki.certificateFromPem(bundle.tlsCert);

  t.test('makes the CA a CA allowed to sign certificates and nothing below it', async (t) => {
    t.equal(caCertificate.ca, true);
    t.match(forgeCa.getExtension('basicConstraints'), { cA: true, pathLenConstraint: 0, critical: true });
    t.match(forgeCa.getExtension('keyUsage'), { keyCertSign: true, cRLSign: true, critical: true });
    t.equal(caCertificate.checkIssued(caCertificate), true, 'the CA is self-signed');
  });

  t.test('makes the serving certificate a non-CA TLS server certificate', async (t) => {
    t.equal(serving.ca, false);
    t.same(serving.keyUsage, [SERVER_AUTH_OID]);
    t.match(forgeServing.getExtension('keyUsage'), { digitalSignature: true, keyEncipherment: true, keyCertSign: false });
    t.equal(serving.checkHost('pullguard.pullguard.svc'), 'pullguard.pullguard.svc');
    t.equal(serving.checkHost('other.pullguard.svc'), undefined);
  });

  t.test('signs the serving certificate with the CA, using SHA-256 throughout', async (t) => {
    t.equal(serving.checkIssued(caCertificate), true);
    t.equal(serving.verify(caCertificate.publicKey), true);
    t.equal(describeCertificate(bundle.tlsCert).issuerCN, describeCertificate(bundle.caCert).subjectCN);
    t.equal(forge.pki.oids[forgeServing.signatureOid], 'sha256WithRSAEncryption');
    t.equal(forge.pki.oids[forgeCa.signatureOid], 'sha256WithRSAEncryption');
  });

  t.test('links the serving certificate to the CA key identifier', async (t) => {
    const caKeyId = forgeCa.generateSubjectKeyIdentifier().toHex();
    const authority = forgeServing.getExtension('authorityKeyIdentifier') as { value: string } | undefined;
    // DER: SEQUENCE { [0] keyIdentifier }; the identifier is the last 20 bytes.
    t.equal(forge.util.bytesToHex(authority?.value ?? '').slice(-40), caKeyId);
  });

  t.test('pairs each certificate with its own key', async (t) => {
    t.equal(serving.checkPrivateKey(createPrivateKey(bundle.tlsKey)), true);
    t.equal(caCertificate.checkPrivateKey(createPrivateKey(bundle.caKey)), true);
    t.equal(serving.checkPrivateKey(createPrivateKey(bundle.caKey)), false);
  });

  t.test('uses positive random serial numbers', async (t) => {
    const other = generateCertificates({ hosts: ['pullguard.pullguard.svc'], validityDays: 30, now: NOW });
    const serials = [serving, caCertificate, new X509Certificate(other.tlsCert)].map((certificate) => certificate.serialNumber);
    t.equal(new Set(serials).size, 3, 'all serials differ');
    for (const serial of serials) {
      t.ok(Number.parseInt(serial.slice(0, 2), 16) < 0x80, `serial ${serial} has its sign bit clear`);
      t.ok(serial.length >= 30, `serial ${serial} keeps its entropy`);
    }
  });

  t.test('generates 2048-bit RSA keys by default', async (t) => {
    t.equal(createPrivateKey(bundle.tlsKey).asymmetricKeyDetails?.modulusLength, 2048);
    t.equal(createPrivateKey(bundle.caKey).asymmetricKeyDetails?.modulusLength, 2048);
  });
});

t.test('validity', async (t) => {
  interface Case {
    readonly options: Partial<GenerateOptions>;
    readonly servingDays: number;
    readonly caDays: number;
  }
  const cases: Record<string, Case> = {
    'makes the serving certificate valid for validityDays and the CA for ten years by default': {
      options: { validityDays: 90 },
      servingDays: 90,
      caDays: DEFAULT_CA_VALIDITY_DAYS,
    },
    'honours an explicit CA validity': { options: { validityDays: 7, caValidityDays: 30 }, servingDays: 7, caDays: 30 },
    'stretches the default CA validity to cover a serving certificate longer than ten years': {
      options: { validityDays: 4000 },
      servingDays: 4000,
      caDays: 4000,
    },
  };
  for (const [name, c] of Object.entries(cases)) {
    t.test(name, async (t) => {
      const bundle = generateCertificates({ hosts: ['pullguard'], validityDays: 1, now: NOW, ...c.options });
      const serving = describeCertificate(bundle.tlsCert);
      const ca = describeCertificate(bundle.caCert);
      t.equal(seconds(serving.notAfter), seconds(new Date(NOW.getTime() + c.servingDays * DAY_MS)));
      t.equal(seconds(ca.notAfter), seconds(new Date(NOW.getTime() + c.caDays * DAY_MS)));
      t.equal(seconds(bundle.notAfter), seconds(serving.notAfter), 'the bundle reports the serving expiry');
      t.equal(seconds(serving.notBefore), seconds(new Date(NOW.getTime() - BACKDATE_MS)), 'backdated for clock skew');
    });
  }
});

t.test('honours a larger key size', async (t) => {
  const bundle = generateCertificates({ hosts: ['pullguard'], validityDays: 1, now: NOW, keyBits: 3072 });
  t.equal(createPrivateKey(bundle.tlsKey).asymmetricKeyDetails?.modulusLength, 3072);
});

t.test('rejected options', async (t) => {
  const cases: Record<string, { options: GenerateOptions; message: RegExp }> = {
    'rejects an empty host list': { options: { hosts: [], validityDays: 1 }, message: /at least one host/ },
    'rejects an empty host name': { options: { hosts: ['pullguard', ' '], validityDays: 1 }, message: /empty host/ },
    'rejects an underscore in a DNS label': { options: { hosts: ['pull_guard.svc'], validityDays: 1 }, message: /pull_guard/ },
    'rejects a label that starts with a hyphen': { options: { hosts: ['-pullguard.svc'], validityDays: 1 }, message: /not a DNS label/ },
    'rejects an empty label between dots': { options: { hosts: ['pullguard..svc'], validityDays: 1 }, message: /not a DNS label/ },
    'rejects a label longer than 63 characters': { options: { hosts: [`${'a'.repeat(64)}.svc`], validityDays: 1 }, message: /not a DNS label/ },
    'rejects a name longer than 253 characters': {
      options: { hosts: [Array.from({ length: 5 }, () => 'a'.repeat(60)).join('.')], validityDays: 1 },
      message: /longer than 253/,
    },
    'rejects a wildcard that is not the whole leftmost label': { options: { hosts: ['pull*.ns.svc'], validityDays: 1 }, message: /not a DNS label/ },
    'rejects a bare wildcard over a single label': { options: { hosts: ['*.svc'], validityDays: 1 }, message: /not a DNS label/ },
    'rejects a URL given as a host': { options: { hosts: ['https://pullguard.svc'], validityDays: 1 }, message: /invalid host/ },
    'rejects a zero validity': { options: { hosts: ['pullguard'], validityDays: 0 }, message: /validityDays must be a positive/ },
    'rejects a CA that would expire before the serving certificate': {
      options: { hosts: ['pullguard'], validityDays: 30, caValidityDays: 10 },
      message: /must not be shorter/,
    },
    'rejects RSA keys below 2048 bits': { options: { hosts: ['pullguard'], validityDays: 1, keyBits: 1024 }, message: /at least 2048/ },
  };
  for (const [name, c] of Object.entries(cases)) {
    t.test(name, async (t) => {
      t.throws(() => generateCertificates(c.options), { name: 'CertificateOptionsError', message: c.message });
      t.throws(() => generateCertificates(c.options), CertificateOptionsError);
    });
  }
});

t.test('describeCertificate', async (t) => {
  /** A certificate built directly with forge, so it can carry names generateCertificates would refuse. */
  function selfSigned(altNames: { type: number; value?: string; ip?: string }[], commonName: string): string {
    const { privateKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    const key = forge.pki.privateKeyFromPem(privateKey);
    const certificate = forge.pki.createCertificate();
    certificate.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
    certificate.serialNumber = '01';
    certificate.validity.notBefore = NOW;
    certificate.validity.notAfter = new Date(NOW.getTime() + DAY_MS);
    certificate.setSubject([{ name: 'commonName', value: commonName }]);
    certificate.setIssuer([{ name: 'commonName', value: 'Someone Else CA' }]);
    certificate.setExtensions([{ name: 'subjectAltName', altNames }]);
    certificate.sign(key, forge.md.sha256.create());
    return forge.pki.certificateToPem(certificate);
  }

  t.test('reads names node:crypto prints quoted because they contain a comma', async (t) => {
    const pem = selfSigned([{ type: 2, value: 'a,b.example' }, { type: 2, value: 'plain.example' }, { type: 7, ip: '10.0.0.1' }], 'x');
    const description = describeCertificate(pem);
    t.same(description.dnsNames, ['a,b.example', 'plain.example']);
    t.same(description.ipAddresses, ['10.0.0.1']);
  });

  t.test('reports the issuer CN of a certificate from another CA and its expiry', async (t) => {
    const description = describeCertificate(selfSigned([{ type: 2, value: 'svc.example' }], 'svc.example'));
    t.equal(description.issuerCN, 'Someone Else CA');
    t.equal(description.subjectCN, 'svc.example');
    t.equal(description.notAfter.getTime(), NOW.getTime() + DAY_MS);
  });

  t.test('reports no names for a certificate without a SAN extension', async (t) => {
    const bundle = generateCertificates({ hosts: ['pullguard'], validityDays: 1, now: NOW });
    const description = describeCertificate(bundle.caCert);
    t.same(description.dnsNames, []);
    t.same(description.ipAddresses, []);
  });

  t.test('rejects text that is not a certificate', async (t) => {
    t.throws(() => describeCertificate('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'));
  });
});
