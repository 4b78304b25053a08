import { X509Certificate } from 'node:crypto';
import { mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import t from 'tap';
import { writeCertificateFiles, writeFileAtomically } from '../../src/certs/files.ts';
import { generateCertificates, generateClientCa, issueClientCertificate, type CertificateBundle } from '../../src/certs/generate.ts';
import {
  createTlsReloader, type LoadedCertificate, type ReloaderTimers, type TlsReloader, type TlsReloaderOptions,
} from '../../src/server/tls-reload.ts';

const bundles: readonly CertificateBundle[] = [1, 2, 3].map(() => generateCertificates({ hosts: ['localhost'], validityDays: 30 }));
const [first, second, third] = bundles as [CertificateBundle, CertificateBundle, CertificateBundle];
const TRUSTED_CAS = bundles.map((bundle) => bundle.caCert);
const WAIT_LIMIT_MS = 5_000;

function fingerprintOf(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_LIMIT_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

interface Recorded {
  readonly reloads: LoadedCertificate[];
  readonly errors: Error[];
}

function recordingOptions(dir: string, extra: Partial<TlsReloaderOptions> = {}): TlsReloaderOptions & Recorded {
  const reloads: LoadedCertificate[] = [];
  const errors: Error[] = [];
  return {
    certFile: join(dir, 'tls.crt'),
    keyFile: join(dir, 'tls.key'),
    debounceMs: 20,
    pollMs: 0,
    onReload: (certificate) => reloads.push(certificate),
    onError: (error) => errors.push(error),
    reloads,
    errors,
    ...extra,
  };
}

/** The one thing the helpers need from a tap test. */
interface Teardown {
  teardown(cleanup: () => unknown): void;
}

interface RunningServer {
  readonly port: number;
  readonly reloader: TlsReloader;
}

/** A real HTTPS server on 127.0.0.1, wired the way `serve` wires it: options from the reloader, then attach. */
async function startServer(t: Teardown, options: TlsReloaderOptions): Promise<RunningServer> {
  const reloader = createTlsReloader(options);
  const server = https.createServer({ ...reloader.serverOptions(), keepAliveTimeout: 30_000 }, (_request, response) => response.end('ok'));
  reloader.attach(server);
  reloader.start();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(async () => {
    reloader.stop();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return { port: (server.address() as AddressInfo).port, reloader };
}

interface Answer {
  readonly fingerprint: string;
  readonly reusedSocket: boolean;
  readonly body: string;
}

function get(port: number, agent: https.Agent, servername: string | undefined): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = https.request(
      { host: '127.0.0.1', port, path: '/', agent, ca: TRUSTED_CAS, ...(servername === undefined ? {} : { servername }) },
      (response) => {
        // Read now: at 'end' a keep-alive socket is already back in the agent.
        const fingerprint = (response.socket as tls.TLSSocket).getPeerCertificate().fingerprint256;
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ fingerprint, reusedSocket: request.reusedSocket, body }));
      },
    );
    request.on('error', reject);
    request.end();
  });
}

function keepAliveAgent(t: Teardown): https.Agent {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  return agent;
}

t.test('serves a swapped certificate to new connections and keeps open connections usable', async (t) => {
  const clients: Record<string, string | undefined> = {
    'for a client that sends SNI (the API server dialling a Service name)': 'localhost',
    'for a client that sends no SNI (dialling an IP address)': undefined,
  };
  for (const [name, servername] of Object.entries(clients)) {
    t.test(name, async (t) => {
      const dir = t.testdir();
      await writeCertificateFiles(dir, first, { overwrite: false });
      const options = recordingOptions(dir);
      const { port, reloader } = await startServer(t, options);
      const openAgent = keepAliveAgent(t);
      const before = await get(port, openAgent, servername);
      t.equal(before.fingerprint, fingerprintOf(first.tlsCert));

      await writeCertificateFiles(dir, second, { overwrite: true });
      await waitFor(() => options.reloads.length > 0, 'the reload');

      const fresh = await get(port, keepAliveAgent(t), servername);
      t.equal(fresh.fingerprint, fingerprintOf(second.tlsCert), 'a new connection gets the new certificate');
      const reused = await get(port, openAgent, servername);
      t.equal(reused.reusedSocket, true, 'the request went over the connection opened before the swap');
      t.equal(reused.body, 'ok');
      t.equal(reused.fingerprint, fingerprintOf(first.tlsCert), 'that connection keeps its original session');
      t.equal(reloader.current().fingerprint256, fingerprintOf(second.tlsCert));
      // The files are renamed one after the other: on a busy machine a read may fall between them
      // and see a half-rotated pair, which is reported (once) and skipped. Nothing else may go wrong.
      t.same(options.errors.filter((error) => !/does not match the certificate/.test(error.message)), []);
    });
  }
});

t.test('ignores a pair that does not belong together and picks up the pair once it is complete', async (t) => {
  const dir = t.testdir();
  await writeCertificateFiles(dir, first, { overwrite: false });
  const options = recordingOptions(dir);
  const { port, reloader } = await startServer(t, options);

  await writeFileAtomically(join(dir, 'tls.crt'), second.tlsCert, 0o644);
  await waitFor(() => options.errors.length > 0, 'the mismatch report');
  t.match(options.errors[0], { name: 'TlsPairError', message: /tls\.key does not match/ });
  t.equal((await get(port, keepAliveAgent(t), 'localhost')).fingerprint, fingerprintOf(first.tlsCert), 'the old pair keeps serving');
  t.equal(reloader.current().fingerprint256, fingerprintOf(first.tlsCert));
  t.equal(options.reloads.length, 0);

  await writeFileAtomically(join(dir, 'tls.key'), second.tlsKey, 0o600);
  await waitFor(() => options.reloads.length > 0, 'the reload of the completed pair');
  t.equal((await get(port, keepAliveAgent(t), 'localhost')).fingerprint, fingerprintOf(second.tlsCert));
});

t.test('ignores a half-written certificate file and keeps serving', async (t) => {
  const dir = t.testdir();
  await writeCertificateFiles(dir, first, { overwrite: false });
  const options = recordingOptions(dir);
  const { port, reloader } = await startServer(t, options);

  // A plain, non-atomic write cut short, as a careless writer would leave it.
  await writeFile(join(dir, 'tls.crt'), second.tlsCert.slice(0, second.tlsCert.length / 2));
  await waitFor(() => options.errors.length > 0, 'the parse error report');
  t.match(options.errors[0], { name: 'TlsPairError', message: /not a PEM certificate/ });
  t.equal((await get(port, keepAliveAgent(t), 'localhost')).fingerprint, fingerprintOf(first.tlsCert));
  t.equal(reloader.reload(), false, 'checking again changes nothing');
  t.equal(options.errors.length, 1, 'the same bad content is reported once');
});

t.test('follows a kubelet Secret volume update (an atomic swap of the ..data symlink)', async (t) => {
  const dir = t.testdir();
  const writeVersion = async (version: string, bundle: CertificateBundle): Promise<void> => {
    await mkdir(join(dir, version));
    await writeFile(join(dir, version, 'tls.crt'), bundle.tlsCert);
    await writeFile(join(dir, version, 'tls.key'), bundle.tlsKey);
    await writeFile(join(dir, version, 'ca.crt'), bundle.caCert);
  };
  await writeVersion('..2026_06_01_a', first);
  await symlink('..2026_06_01_a', join(dir, '..data'));
  for (const file of ['tls.crt', 'tls.key', 'ca.crt']) await symlink(join('..data', file), join(dir, file));
  const options = recordingOptions(dir, { caFile: join(dir, 'ca.crt') });
  const { port } = await startServer(t, options);
  t.equal((await get(port, keepAliveAgent(t), 'localhost')).fingerprint, fingerprintOf(first.tlsCert));

  await writeVersion('..2026_06_01_b', second);
  await symlink('..2026_06_01_b', join(dir, '..data_tmp'));
  await rename(join(dir, '..data_tmp'), join(dir, '..data'));
  await rm(join(dir, '..2026_06_01_a'), { recursive: true });

  await waitFor(() => options.reloads.length > 0, 'the reload after the symlink swap');
  t.equal(options.reloads[0]?.fingerprint256, fingerprintOf(second.tlsCert));
  t.equal((await get(port, keepAliveAgent(t), 'localhost')).fingerprint, fingerprintOf(second.tlsCert));
  t.same(options.errors, []);
});

t.test('refuses TLS 1.1 clients, also after a reload', async (t) => {
  const dir = t.testdir();
  await writeCertificateFiles(dir, first, { overwrite: false });
  const options = recordingOptions(dir);
  const { port, reloader } = await startServer(t, options);
  await writeCertificateFiles(dir, second, { overwrite: true });
  t.equal(reloader.reload(), true);

  const versions: Record<string, { maxVersion: tls.SecureVersion; outcome: string }> = {
    'refuses a client limited to TLS 1.1 with a protocol-version alert': { maxVersion: 'TLSv1.1', outcome: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION' },
    'accepts a client limited to TLS 1.2': { maxVersion: 'TLSv1.2', outcome: 'TLSv1.2' },
  };
  for (const [name, c] of Object.entries(versions)) {
    t.test(name, async (t) => {
      const outcome = await new Promise<string>((resolve) => {
        const socket = tls.connect({
          host: '127.0.0.1',
          port,
          servername: 'localhost',
          ca: TRUSTED_CAS,
          minVersion: 'TLSv1',
          maxVersion: c.maxVersion,
          // Lets this client offer TLS 1.1 at all, so the refusal comes from the server.
          ciphers: 'DEFAULT@SECLEVEL=0',
        }, () => {
          resolve(socket.getProtocol() ?? 'none');
          socket.end();
        });
        socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
      });
      t.equal(outcome, c.outcome);
    });
  }
});

/** Timers the test fires by hand. */
class ManualTimers implements ReloaderTimers {
  readonly timeouts = new Map<number, () => void>();
  readonly intervals = new Map<number, { callback: () => void; ms: number }>();
  private nextId = 1;
  setTimeout(callback: () => void): number {
    const id = this.nextId++;
    this.timeouts.set(id, callback);
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timeouts.delete(handle as number);
  }
  setInterval(callback: () => void, ms: number): number {
    const id = this.nextId++;
    this.intervals.set(id, { callback, ms });
    return id;
  }
  clearInterval(handle: unknown): void {
    this.intervals.delete(handle as number);
  }
  fireTimeouts(): void {
    const pending = [...this.timeouts.values()];
    this.timeouts.clear();
    for (const callback of pending) callback();
  }
  fireIntervals(): void {
    for (const { callback } of this.intervals.values()) callback();
  }
}

interface FakeWatching {
  readonly directories: string[];
  readonly closed: string[];
  change(): void;
}

function fakeWatching(): FakeWatching & { watchDirectory: TlsReloaderOptions['watchDirectory'] } {
  const listeners: (() => void)[] = [];
  const state = {
    directories: [] as string[],
    closed: [] as string[],
    change: () => listeners.forEach((listener) => listener()),
    watchDirectory: (dir: string, onChange: () => void) => {
      state.directories.push(dir);
      listeners.push(onChange);
      return { close: () => state.closed.push(dir) };
    },
  };
  return state;
}

t.test('with injected watch, timers and clock', async (t) => {
  t.test('falls back to the poll when no directory event arrives', async (t) => {
    const dir = t.testdir();
    await writeCertificateFiles(dir, first, { overwrite: false });
    const timers = new ManualTimers();
    const watching = fakeWatching();
    const options = recordingOptions(dir, { timers, watchDirectory: watching.watchDirectory, pollMs: 60_000 });
    const reloader = createTlsReloader(options);
    reloader.start();
    t.same([...timers.intervals.values()].map((interval) => interval.ms), [60_000]);

    await writeCertificateFiles(dir, second, { overwrite: true });
    t.equal(reloader.current().fingerprint256, fingerprintOf(first.tlsCert), 'nothing happens before the poll');
    timers.fireIntervals();
    t.equal(reloader.current().fingerprint256, fingerprintOf(second.tlsCert));
    t.equal(options.reloads.length, 1);
    timers.fireIntervals();
    t.equal(options.reloads.length, 1, 'unchanged content is not reloaded again');

    reloader.stop();
    t.equal(timers.intervals.size, 0, 'stop clears the poll');
    t.same(watching.closed, watching.directories, 'stop closes every watch');
  });

  t.test('watches each directory once and settles a burst of events into one read', async (t) => {
    const root = t.testdir({ keys: {}, certs: {} });
    const certDir = join(root, 'certs');
    const keyDir = join(root, 'keys');
    const timers = new ManualTimers();
    const watching = fakeWatching();
    const write = async (bundle: CertificateBundle): Promise<void> => {
      await writeFileAtomically(join(certDir, 'tls.crt'), bundle.tlsCert, 0o644);
      await writeFileAtomically(join(certDir, 'ca.crt'), bundle.caCert, 0o644);
      await writeFileAtomically(join(keyDir, 'tls.key'), bundle.tlsKey, 0o600);
    };
    await write(first);
    const options = recordingOptions(root, {
      certFile: join(certDir, 'tls.crt'),
      caFile: join(certDir, 'ca.crt'),
      keyFile: join(keyDir, 'tls.key'),
      timers,
      watchDirectory: watching.watchDirectory,
    });
    const reloader = createTlsReloader(options);
    reloader.start();
    t.same(watching.directories.sort(), [certDir, keyDir].sort());

    await writeFileAtomically(join(certDir, 'tls.crt'), second.tlsCert, 0o644);
    watching.change();
    await writeFileAtomically(join(keyDir, 'tls.key'), second.tlsKey, 0o600);
    watching.change();
    watching.change();
    t.equal(timers.timeouts.size, 1, 'one pending read for the whole burst');
    t.equal(options.reloads.length, 0);
    timers.fireTimeouts();
    t.equal(options.reloads.length, 1);
    t.same(options.errors, [], 'the half-rotated state in the middle of the burst was never read');
    t.equal(reloader.current().fingerprint256, fingerprintOf(second.tlsCert));
    reloader.stop();
  });

  t.test('reports a watch that cannot start and still polls', async (t) => {
    const dir = t.testdir();
    await writeCertificateFiles(dir, first, { overwrite: false });
    const timers = new ManualTimers();
    const options = recordingOptions(dir, {
      timers,
      pollMs: 1_000,
      watchDirectory: () => {
        throw new Error('ENOSPC: inotify watch limit reached');
      },
    });
    const reloader = createTlsReloader(options);
    reloader.start();
    t.match(options.errors, [{ message: /inotify/ }]);
    await writeCertificateFiles(dir, third, { overwrite: true });
    timers.fireIntervals();
    t.equal(reloader.current().fingerprint256, fingerprintOf(third.tlsCert));
    reloader.stop();
  });

  t.test('reports a file that disappears once and recovers when it returns', async (t) => {
    const dir = t.testdir();
    await writeCertificateFiles(dir, first, { overwrite: false });
    const options = recordingOptions(dir, { timers: new ManualTimers(), watchDirectory: fakeWatching().watchDirectory });
    const reloader = createTlsReloader(options);
    await rm(join(dir, 'tls.key'));
    t.equal(reloader.reload(), false);
    t.equal(reloader.reload(), false);
    t.match(options.errors, [{ code: 'ENOENT' }]);
    await writeCertificateFiles(dir, second, { overwrite: true });
    t.equal(reloader.reload(), true);
    t.equal(reloader.current().fingerprint256, fingerprintOf(second.tlsCert));
  });

  t.test('counts the seconds until the serving certificate expires with the injected clock', async (t) => {
    const dir = t.testdir();
    await writeCertificateFiles(dir, first, { overwrite: false });
    const notAfter = new X509Certificate(first.tlsCert).validToDate.getTime();
    const cases: Record<string, { now: number; seconds: number }> = {
      'counts down before expiry': { now: notAfter - 90_000, seconds: 90 },
      'goes negative once expired': { now: notAfter + 5_000, seconds: -5 },
    };
    for (const [name, c] of Object.entries(cases)) {
      const reloader = createTlsReloader(recordingOptions(dir, { now: () => c.now }));
      t.equal(reloader.secondsUntilExpiry(), c.seconds, name);
    }
  });

  t.test('refuses to start from a bad pair', async (t) => {
    const cases: Record<string, { files: Record<string, string>; error: { name: string; message: RegExp } | { code: string } }> = {
      'fails when the key belongs to another certificate': {
        files: { 'tls.crt': first.tlsCert, 'tls.key': second.tlsKey },
        error: { name: 'TlsPairError', message: /does not match/ },
      },
      'fails when the key file is missing': { files: { 'tls.crt': first.tlsCert }, error: { code: 'ENOENT' } },
      'fails when the key file is not a key': {
        files: { 'tls.crt': first.tlsCert, 'tls.key': 'not a key' },
        error: { name: 'TlsPairError', message: /not a PEM private key/ },
      },
    };
    for (const [name, c] of Object.entries(cases)) {
      t.throws(() => createTlsReloader(recordingOptions(t.testdir(c.files))), c.error, name);
    }
  });
});

t.test('a client CA bundle', async (t) => {
  const clientCa = generateClientCa();
  const leaf = issueClientCertificate(clientCa, { commonName: 'kube-apiserver' });
  const cases: Record<string, { content: string; error: RegExp | undefined }> = {
    'is accepted when it holds CA certificates': { content: clientCa.caCert + first.caCert, error: undefined },
    'is refused when empty (it would trust nobody and refuse every review)': { content: '', error: /client-ca\.crt holds no PEM certificate/ },
    'is refused when it holds a leaf certificate instead of a CA': { content: leaf.cert, error: /client-ca\.crt holds a certificate that is not a CA \(.*CN=kube-apiserver/ },
    'is refused when a certificate does not parse': {
      content: '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n',
      error: /client-ca\.crt holds a certificate that does not parse/,
    },
  };
  for (const [name, c] of Object.entries(cases)) {
    t.test(name, async (t) => {
      const dir = t.testdir();
      await writeCertificateFiles(dir, first, { overwrite: false });
      await writeFile(join(dir, 'client-ca.crt'), c.content);
      const create = () => createTlsReloader(recordingOptions(dir, { clientCaFile: join(dir, 'client-ca.crt') }));
      if (c.error === undefined) t.doesNotThrow(create);
      else t.throws(create, c.error);
    });
  }
  t.test('a broken replacement is reported once and the loaded client CA stays', async (t) => {
    const dir = t.testdir();
    await writeCertificateFiles(dir, first, { overwrite: false });
    await writeFile(join(dir, 'client-ca.crt'), clientCa.caCert);
    const options = recordingOptions(dir, { clientCaFile: join(dir, 'client-ca.crt') });
    const reloader = createTlsReloader(options);
    await writeFile(join(dir, 'client-ca.crt'), leaf.cert);
    t.equal(reloader.reload(), false);
    t.equal(reloader.reload(), false);
    t.equal(options.errors.length, 1);
    t.match(options.errors[0]?.message, /not a CA/);
    await writeFile(join(dir, 'client-ca.crt'), generateClientCa().caCert);
    t.equal(reloader.reload(), true, 'a valid replacement is loaded');
  });
});
