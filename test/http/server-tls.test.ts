// The webhook over real TLS connections, wired as `serve` wires it (the reloader's options, then
// attach): which TLS 1.2 cipher suites and versions it accepts (issue 14, item 4), and mutual TLS
// with --client-ca / --client-cn, including a client CA swapped on disk (item 3).
import { writeFile } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import t from 'tap';
import { writeCertificateFiles } from '../../src/certs/files.ts';
import { generateCertificates, generateClientCa, issueClientCertificate, type ClientCertificate } from '../../src/certs/generate.ts';
import { ClientCertificateGate } from '../../src/server/tls-client-auth.ts';
import { createTlsReloader, type MinTlsVersion, type TlsReloader } from '../../src/server/tls-reload.ts';
import { testServer, type TestServer } from '../helpers/server.ts';
import { admissionReview, pod } from '../helpers/objects.ts';

const serving = generateCertificates({ hosts: ['localhost'], validityDays: 30 });
const clientCa = generateClientCa();
const otherCa = generateClientCa();
const apiServer = issueClientCertificate(clientCa, { commonName: 'kube-apiserver' });
const apiServerBySan = issueClientCertificate(clientCa, { commonName: 'front-proxy', dnsNames: ['apiserver.internal'] });
const wrongName = issueClientCertificate(clientCa, { commonName: 'system:anonymous-intruder' });
const untrusted = issueClientCertificate(otherCa, { commonName: 'kube-apiserver' });
const REVIEW = JSON.stringify(admissionReview(pod({ name: 'web', namespace: 'team', containers: [{ name: 'web', image: 'registry.k8s.io/pause:3.10' }] })));

interface Running {
  readonly port: number;
  readonly server: TestServer;
  readonly dir: string;
  readonly reloader: TlsReloader;
}

interface StartOptions {
  readonly minVersion?: MinTlsVersion;
  /** Accepted client names; undefined runs without mutual TLS. */
  readonly clientNames?: readonly string[];
}

interface Teardown {
  teardown(cleanup: () => unknown): void;
  testdir(): string;
}

async function start(t: Teardown, options: StartOptions = {}): Promise<Running> {
  const dir = t.testdir();
  await writeCertificateFiles(dir, serving, { overwrite: false });
  const clientCaFile = join(dir, 'client-ca.crt');
  await writeFile(clientCaFile, clientCa.caCert);
  const reloader = createTlsReloader({
    certFile: join(dir, 'tls.crt'),
    keyFile: join(dir, 'tls.key'),
    ...(options.clientNames === undefined ? {} : { clientCaFile }),
    ...(options.minVersion === undefined ? {} : { minVersion: options.minVersion }),
    pollMs: 0,
    debounceMs: 20,
  });
  const server = testServer([], {}, {
    https: reloader.serverOptions(),
    clientCertificates: options.clientNames === undefined ? undefined : new ClientCertificateGate({ names: options.clientNames }),
  });
  reloader.attach(server.app.server as unknown as tls.Server);
  await server.app.listen({ port: 0, host: '127.0.0.1' });
  t.teardown(async () => {
    reloader.stop();
    await server.app.close();
  });
  return { port: (server.app.server.address() as AddressInfo).port, server, dir, reloader };
}

/** The outcome of one handshake: the protocol and cipher agreed, or the client's error code. */
function handshake(port: number, options: tls.ConnectionOptions): Promise<string> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: serving.caCert, ...options }, () => {
      resolve(`${socket.getProtocol() ?? 'none'} ${socket.getCipher().name}`);
      socket.end();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => resolve(`refused ${error.code ?? error.message}`));
  });
}

interface Answer {
  readonly status: number;
  readonly body: string;
}

function request(port: number, method: 'GET' | 'POST', path: string, client: ClientCertificate | undefined, servername: string | undefined = 'localhost'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent: false,
        ca: serving.caCert,
        ...(servername === undefined ? {} : { servername }),
        ...(client === undefined ? {} : { cert: client.cert, key: client.key }),
        headers: method === 'POST' ? { 'content-type': 'application/json' } : {},
      },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(method === 'POST' ? REVIEW : undefined);
  });
}

t.test('TLS 1.2 is offered only with ECDHE key exchange and AEAD ciphers', async (t) => {
  const { port } = await start(t);
  const cases: Record<string, { ciphers: string; accepted: boolean }> = {
    'refuses AES128-SHA (RSA key exchange, CBC with SHA-1)': { ciphers: 'AES128-SHA', accepted: false },
    'refuses AES256-GCM-SHA384 (AEAD, but RSA key exchange: no forward secrecy)': { ciphers: 'AES256-GCM-SHA384', accepted: false },
    'refuses AES128-SHA256 (RSA key exchange, CBC)': { ciphers: 'AES128-SHA256', accepted: false },
    'refuses ECDHE-RSA-AES128-SHA (forward secret, but CBC with SHA-1)': { ciphers: 'ECDHE-RSA-AES128-SHA', accepted: false },
    'refuses ECDHE-RSA-AES256-SHA384 (forward secret, but CBC)': { ciphers: 'ECDHE-RSA-AES256-SHA384', accepted: false },
    'refuses DHE-RSA-AES128-GCM-SHA256 (finite-field DHE)': { ciphers: 'DHE-RSA-AES128-GCM-SHA256', accepted: false },
    'accepts ECDHE-RSA-AES128-GCM-SHA256': { ciphers: 'ECDHE-RSA-AES128-GCM-SHA256', accepted: true },
    'accepts ECDHE-RSA-AES256-GCM-SHA384': { ciphers: 'ECDHE-RSA-AES256-GCM-SHA384', accepted: true },
    'accepts ECDHE-RSA-CHACHA20-POLY1305': { ciphers: 'ECDHE-RSA-CHACHA20-POLY1305', accepted: true },
  };
  for (const [name, c] of Object.entries(cases)) {
    t.test(name, async (t) => {
      // SECLEVEL=0 lets this client offer what a modern default would not, so a refusal is the server's.
      const outcome = await handshake(port, { maxVersion: 'TLSv1.2', ciphers: `${c.ciphers}@SECLEVEL=0` });
      if (c.accepted) t.equal(outcome, `TLSv1.2 ${c.ciphers}`);
      else t.match(outcome, /^refused ERR_SSL_.*HANDSHAKE_FAILURE$/);
    });
  }
  t.test('accepts a TLS 1.3 client', async (t) => {
    t.match(await handshake(port, {}), /^TLSv1\.3 TLS_/);
  });
});

t.test('--min-tls 1.3 refuses TLS 1.2 clients', async (t) => {
  const { port } = await start(t, { minVersion: 'TLSv1.3' });
  t.match(await handshake(port, { maxVersion: 'TLSv1.2' }), /^refused ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION$/, 'a TLS 1.2 client');
  t.match(await handshake(port, {}), /^TLSv1\.3 /, 'a TLS 1.3 client');
});

t.test('without --client-ca no client certificate is needed', async (t) => {
  const { port } = await start(t);
  const answer = await request(port, 'POST', '/validate', undefined);
  t.equal(answer.status, 200, answer.body);
});

t.test('with --client-ca, the webhook routes answer only callers with an allowed certificate', async (t) => {
  const { port, server } = await start(t, { clientNames: ['kube-apiserver', 'apiserver.internal'] });
  const cases: Record<string, { method: 'GET' | 'POST'; path: string; client: ClientCertificate | undefined; status: number; message?: RegExp }> = {
    'refuses /validate without a client certificate (401)': { method: 'POST', path: '/validate', client: undefined, status: 401, message: /a client certificate is required/ },
    'refuses /mutate without a client certificate (401)': { method: 'POST', path: '/mutate', client: undefined, status: 401, message: /a client certificate is required/ },
    'refuses a certificate from another CA with the right name (401)': { method: 'POST', path: '/validate', client: untrusted, status: 401, message: /not trusted/ },
    'refuses a trusted certificate whose name is not allowed (403)': {
      method: 'POST',
      path: '/validate',
      client: wrongName,
      status: 403,
      message: /system:anonymous-intruder.*not one of the allowed names \(--client-cn kube-apiserver, apiserver\.internal\)/,
    },
    'answers a trusted certificate whose CN is allowed': { method: 'POST', path: '/validate', client: apiServer, status: 200 },
    'answers a trusted certificate whose DNS SAN is allowed': { method: 'POST', path: '/mutate', client: apiServerBySan, status: 200 },
    'keeps /healthz open to a probe without a certificate': { method: 'GET', path: '/healthz', client: undefined, status: 200 },
    'keeps /readyz open to a probe without a certificate': { method: 'GET', path: '/readyz', client: undefined, status: 200 },
  };
  for (const [name, c] of Object.entries(cases)) {
    t.test(name, async (t) => {
      const answer = await request(port, c.method, c.path, c.client);
      t.equal(answer.status, c.status, answer.body);
      if (c.message !== undefined) t.match((JSON.parse(answer.body) as { message: string }).message, c.message);
      if (c.status === 200 && c.method === 'POST') t.match(answer.body, /"allowed":true/);
    });
  }
  t.test('counts the refusals by reason', async (t) => {
    const text = await server.metrics.registry.getSingleMetricAsString('pullguard_client_certificate_rejections_total');
    t.match(text, 'pullguard_client_certificate_rejections_total{webhook="validate",reason="no-certificate"} 1');
    t.match(text, 'pullguard_client_certificate_rejections_total{webhook="mutate",reason="no-certificate"} 1');
    t.match(text, 'pullguard_client_certificate_rejections_total{webhook="validate",reason="untrusted"} 1');
    t.match(text, 'pullguard_client_certificate_rejections_total{webhook="validate",reason="name-not-allowed"} 1');
  });
});

t.test('a client CA replaced on disk is used for new connections, with and without SNI', async (t) => {
  const { port, dir, reloader } = await start(t, { clientNames: ['kube-apiserver'] });
  const rotatedCa = generateClientCa();
  const rotatedClient = issueClientCertificate(rotatedCa, { commonName: 'kube-apiserver' });
  const clients: Record<string, string | undefined> = { 'a client that sends SNI': 'localhost', 'a client that sends no SNI': undefined };
  for (const [name, servername] of Object.entries(clients)) {
    t.test(name, async (t) => {
      t.equal((await request(port, 'POST', '/validate', apiServer, servername)).status, 200, 'the first CA\'s client before the swap');
      t.equal((await request(port, 'POST', '/validate', rotatedClient, servername)).status, 401, 'the new CA\'s client before the swap');
    });
  }
  t.test('after the swap', async (t) => {
    await writeFile(join(dir, 'client-ca.crt'), rotatedCa.caCert);
    // start() does not start the watch; reload as the watch or the poll would.
    t.equal(reloader.reload(), true, 'the new client CA is loaded');
    for (const [name, servername] of Object.entries(clients)) {
      t.test(name, async (t) => {
        t.equal((await request(port, 'POST', '/validate', rotatedClient, servername)).status, 200, 'the new CA\'s client');
        t.equal((await request(port, 'POST', '/validate', apiServer, servername)).status, 401, 'the first CA\'s client');
      });
    }
  });
});
