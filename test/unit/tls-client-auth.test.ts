import t from 'tap';
import { certificateNames, checkClientCertificate, ClientCertificateGate, type PeerSocket } from '../../src/server/tls-client-auth.ts';

t.test('the names a client certificate answers to', async (t) => {
  const cases: Record<string, { certificate: Parameters<typeof certificateNames>[0]; names: string[] }> = {
    'the subject CN': { certificate: { subject: { CN: 'kube-apiserver', O: 'system:masters' } }, names: ['kube-apiserver'] },
    'every CN when the subject repeats it': { certificate: { subject: { CN: ['a', 'b'] } }, names: ['a', 'b'] },
    'DNS subject alternative names, not IP addresses or URIs': {
      certificate: { subject: { CN: 'front' }, subjectaltname: 'DNS:apiserver.internal, IP Address:10.0.0.1, URI:spiffe://x, DNS:api.example.com' },
      names: ['front', 'apiserver.internal', 'api.example.com'],
    },
    'a quoted value stays one name (Node JSON-quotes a SAN value that holds a comma)': {
      certificate: { subjectaltname: 'DNS:"a, DNS:kube-apiserver, DNS:b", DNS:real' },
      names: ['a, DNS:kube-apiserver, DNS:b', 'real'],
    },
    'nothing for a certificate without CN or SAN': { certificate: { subject: { O: 'x' } }, names: [] },
  };
  for (const [name, c] of Object.entries(cases)) t.test(name, async (t) => t.same(certificateNames(c.certificate), c.names));
});

function socket(authorized: boolean, certificate: Record<string, unknown>): PeerSocket & { reads: number } {
  const fake = {
    authorized,
    authorizationError: authorized ? undefined : new Error('UNABLE_TO_VERIFY_LEAF_SIGNATURE'),
    reads: 0,
    getPeerCertificate() {
      fake.reads++;
      return certificate;
    },
  };
  return fake;
}

t.test('the verdict on a connection', async (t) => {
  const policy = { names: ['kube-apiserver'] };
  const cases: Record<string, { socket: PeerSocket; allowed: boolean; status?: number; reason?: string }> = {
    'no certificate: 401': { socket: socket(false, {}), allowed: false, status: 401, reason: 'no-certificate' },
    'a certificate the client CA did not sign: 401': { socket: socket(false, { subject: { CN: 'kube-apiserver' } }), allowed: false, status: 401, reason: 'untrusted' },
    'a trusted certificate with another name: 403': { socket: socket(true, { subject: { CN: 'intruder' } }), allowed: false, status: 403, reason: 'name-not-allowed' },
    'a trusted certificate with the allowed CN': { socket: socket(true, { subject: { CN: 'kube-apiserver' } }), allowed: true },
  };
  for (const [name, c] of Object.entries(cases)) {
    t.test(name, async (t) => {
      const verdict = checkClientCertificate(c.socket, policy);
      t.equal(verdict.allowed, c.allowed);
      if (!verdict.allowed) t.match(verdict, { status: c.status, reason: c.reason });
    });
  }
  t.test('caps a long name in the message', async (t) => {
    const verdict = checkClientCertificate(socket(true, { subject: { CN: 'x'.repeat(10_000) } }), policy);
    t.ok(!verdict.allowed && verdict.message.length < 400, 'the message stays short');
  });
  t.test('checks each connection once, and refuses a request that came without TLS', async (t) => {
    const gate = new ClientCertificateGate(policy);
    const connection = socket(true, { subject: { CN: 'kube-apiserver' } });
    t.equal(gate.verdict(connection).allowed, true);
    t.equal(gate.verdict(connection).allowed, true);
    t.equal(connection.reads, 1, 'the certificate was read once for two requests');
    t.match(gate.verdict({}), { allowed: false, reason: 'no-certificate' });
  });
  t.test('needs at least one allowed name', async (t) => {
    t.throws(() => new ClientCertificateGate({ names: [] }), /at least one allowed name/);
  });
});
