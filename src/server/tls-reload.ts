/**
 * Serving certificate hot reload. cert-manager renews the Secret and the kubelet swaps the mounted
 * files (an atomic rename of the volume's `..data` symlink, seconds to a minute later); we pick the
 * new pair up without a restart. New handshakes get the new certificate; connections already open
 * keep the context they were established with, so nothing is dropped.
 */
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync, watch } from 'node:fs';
import { dirname } from 'node:path';
import { createSecureContext, type SecureContext, type SecureContextOptions, type Server as TlsServer } from 'node:tls';
import { describeCertificate, type CertificateDescription } from '../certs/generate.ts';
import { MIN_TLS_VERSION, TLS12_CIPHERS } from './limits.ts';

/** The protocol versions `--min-tls` offers. */
export type MinTlsVersion = 'TLSv1.2' | 'TLSv1.3';

/** 60 s: the fallback when directory events are lost (some network filesystems, overlay quirks); the kubelet itself syncs Secret volumes about once a minute. */
export const DEFAULT_TLS_POLL_MS = 60_000;
/** 250 ms: a rotation renames several files; wait for the burst of events to settle before reading, so a half-rotated pair is not even tried. */
export const DEFAULT_TLS_DEBOUNCE_MS = 250;

export interface LoadedCertificate extends CertificateDescription {
  readonly loadedAt: Date;
}

/** The options https.createServer / fastify({ https }) need. */
export interface TlsServerOptions {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca?: Buffer;
  readonly minVersion: MinTlsVersion;
  readonly ciphers: string;
  readonly honorCipherOrder: true;
  /**
   * With a client CA: ask every client for a certificate, but let the handshake finish without one,
   * so the kubelet's probes (which have none) still reach /healthz and /readyz. The webhook routes
   * refuse a request whose connection did not present a trusted certificate (tls-client-auth.ts).
   */
  readonly requestCert: boolean;
  readonly rejectUnauthorized: false;
  /** Hands every SNI handshake the current context (the API server always sends SNI for a Service name). */
  readonly SNICallback: (servername: string, callback: (error: Error | null, context?: SecureContext) => void) => void;
}

export interface DirectoryWatch {
  close(): void;
}

/** Seams for tests: directory watching, timers and the clock. */
export type WatchDirectory = (dir: string, onChange: () => void, onError: (error: Error) => void) => DirectoryWatch;

export interface ReloaderTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  setInterval(callback: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export interface TlsReloaderOptions {
  readonly certFile: string;
  readonly keyFile: string;
  /** Optional CA (for example the Secret's `ca.crt`): sent after the certificate so the served chain can be completed. Never trusted for client certificates. */
  readonly caFile?: string;
  /** CA bundle that signs the client certificates callers must present (`--client-ca`); reloaded with the pair. */
  readonly clientCaFile?: string;
  /** Lowest TLS version accepted; default MIN_TLS_VERSION. */
  readonly minVersion?: MinTlsVersion;
  readonly onReload?: (certificate: LoadedCertificate) => void;
  /** A rejected pair or an unreadable file; the previous certificate keeps serving. Reported once per distinct content. */
  readonly onError?: (error: Error) => void;
  /** Fallback poll of the files' content; 0 disables it. */
  readonly pollMs?: number;
  readonly debounceMs?: number;
  readonly now?: () => number;
  readonly watchDirectory?: WatchDirectory;
  readonly timers?: ReloaderTimers;
}

export interface TlsReloader {
  /** The context new handshakes get. */
  secureContext(): SecureContext;
  current(): LoadedCertificate;
  /** Seconds until the serving certificate expires, negative once expired (the expiry gauge). */
  secondsUntilExpiry(): number;
  serverOptions(): TlsServerOptions;
  /** Also swap the server's default context on reload: covers clients that send no SNI (IP-address clients). */
  attach(server: TlsServer): void;
  /** Reads the files now; true when a new pair was loaded. Never throws. */
  reload(): boolean;
  start(): void;
  stop(): void;
}

/** Why a pair was rejected; the message names the files. */
export class TlsPairError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TlsPairError';
  }
}

interface FileContents {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer | undefined;
  readonly clientCa: Buffer | undefined;
}

interface LoadedPair {
  readonly contents: FileContents;
  readonly hash: string;
  readonly context: SecureContext;
  readonly certificate: LoadedCertificate;
}

const defaultTimers: ReloaderTimers = {
  // unref: the reloader must never be what keeps the process alive after the server closed.
  setTimeout: (callback, ms) => setTimeout(callback, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  setInterval: (callback, ms) => setInterval(callback, ms).unref(),
  clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout),
};

/** fs.watch on the directory, not the file: a file watch follows the old inode and goes quiet after a symlink swap or rename. */
const watchWithFs: WatchDirectory = (dir, onChange, onError) => {
  const watcher = watch(dir, { persistent: false }, () => onChange());
  watcher.on('error', (error) => {
    watcher.close();
    onError(error);
  });
  return watcher;
};

function contentHash(contents: FileContents): string {
  const hash = createHash('sha256');
  for (const part of [contents.cert, contents.key, contents.ca ?? Buffer.alloc(0), contents.clientCa ?? Buffer.alloc(0)]) {
    hash.update(String(part.length)).update(':').update(part);
  }
  return hash.digest('hex');
}

/**
 * The serving chain: the certificate, then the serving CA when one is given. The CA goes into the
 * chain, not into `ca`: `ca` is the trust store for client certificates, and the serving CA (whose
 * key may sit next to it, as in the chart's job mode) must never vouch for a caller.
 */
function servedChain(contents: FileContents): Buffer {
  return contents.ca === undefined ? contents.cert : Buffer.concat([contents.cert, Buffer.from('\n'), contents.ca]);
}

function contextOptions(contents: FileContents, minVersion: MinTlsVersion): SecureContextOptions {
  return {
    cert: servedChain(contents),
    key: contents.key,
    ...(contents.clientCa === undefined ? {} : { ca: contents.clientCa }),
    minVersion,
    ciphers: TLS12_CIPHERS,
    honorCipherOrder: true,
  };
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** A client CA bundle must hold at least one CA certificate; an empty or garbled file would trust nobody and refuse every review. */
function checkClientCa(file: string, pem: Buffer): void {
  const blocks = pem.toString('latin1').match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw new TlsPairError(`${file} holds no PEM certificate (the client CA bundle)`);
  for (const block of blocks) {
    let certificate: X509Certificate;
    try {
      certificate = new X509Certificate(block);
    } catch (error) {
      throw new TlsPairError(`${file} holds a certificate that does not parse (the client CA bundle)`, { cause: error });
    }
    if (!certificate.ca) throw new TlsPairError(`${file} holds a certificate that is not a CA (${certificate.subject.replace(/\n/g, ', ')}): --client-ca takes the CA that signs the client certificates`);
  }
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

export function createTlsReloader(options: TlsReloaderOptions): TlsReloader {
  const { certFile, keyFile, caFile, clientCaFile } = options;
  const minVersion = options.minVersion ?? MIN_TLS_VERSION;
  const now = options.now ?? Date.now;
  const timers = options.timers ?? defaultTimers;
  const watchDirectory = options.watchDirectory ?? watchWithFs;
  const pollMs = options.pollMs ?? DEFAULT_TLS_POLL_MS;
  const debounceMs = options.debounceMs ?? DEFAULT_TLS_DEBOUNCE_MS;
  const report = (error: Error): void => options.onError?.(error);

  // Synchronous reads: three small files, and no interleaving of two reloads to reason about.
  function readContents(): FileContents {
    return {
      cert: readFileSync(certFile),
      key: readFileSync(keyFile),
      ca: caFile === undefined ? undefined : readFileSync(caFile),
      clientCa: clientCaFile === undefined ? undefined : readFileSync(clientCaFile),
    };
  }

  function buildPair(contents: FileContents, hash: string): LoadedPair {
    let certificate: X509Certificate;
    try {
      certificate = new X509Certificate(contents.cert);
    } catch (error) {
      throw new TlsPairError(`${certFile} is not a PEM certificate`, { cause: error });
    }
    let matches: boolean;
    try {
      matches = certificate.checkPrivateKey(createPrivateKey(contents.key));
    } catch (error) {
      throw new TlsPairError(`${keyFile} is not a PEM private key`, { cause: error });
    }
    if (!matches) throw new TlsPairError(`${keyFile} does not match the certificate in ${certFile}`);
    if (clientCaFile !== undefined && contents.clientCa !== undefined) checkClientCa(clientCaFile, contents.clientCa);
    let context: SecureContext;
    try {
      context = createSecureContext(contextOptions(contents, minVersion));
    } catch (error) {
      throw new TlsPairError(`${certFile}/${keyFile} rejected by TLS: ${toError(error).message}`, { cause: error });
    }
    return {
      contents,
      hash,
      context,
      certificate: { ...describeCertificate(certificate.raw), loadedAt: new Date(now()) },
    };
  }

  // Initial load throws: a server that cannot serve TLS should fail at startup, loudly.
  const initialContents = readContents();
  let loaded = buildPair(initialContents, contentHash(initialContents));
  /** Content (or read error) last reported, so a bad pair is reported once, not every poll. */
  let lastFailure: string | undefined;
  const servers = new Set<TlsServer>();
  let watches: DirectoryWatch[] = [];
  let pollHandle: unknown;
  let debounceHandle: unknown;
  let started = false;

  function fail(key: string, error: Error): false {
    if (lastFailure !== key) {
      lastFailure = key;
      report(error);
    }
    return false;
  }

  function reload(): boolean {
    let contents: FileContents;
    try {
      contents = readContents();
    } catch (error) {
      const failure = toError(error);
      return fail(`read:${failure.message}`, failure);
    }
    const hash = contentHash(contents);
    if (hash === loaded.hash) {
      lastFailure = undefined;
      return false;
    }
    let next: LoadedPair;
    try {
      next = buildPair(contents, hash);
    } catch (error) {
      return fail(`pair:${hash}`, toError(error));
    }
    loaded = next;
    lastFailure = undefined;
    for (const server of servers) {
      try {
        server.setSecureContext(contextOptions(next.contents, minVersion));
      } catch (error) {
        report(toError(error));
      }
    }
    options.onReload?.(next.certificate);
    return true;
  }

  function scheduleReload(): void {
    if (debounceHandle !== undefined) timers.clearTimeout(debounceHandle);
    debounceHandle = timers.setTimeout(() => {
      debounceHandle = undefined;
      reload();
    }, debounceMs);
  }

  function sniCallback(_servername: string, callback: (error: Error | null, context?: SecureContext) => void): void {
    callback(null, loaded.context);
  }

  return {
    secureContext: () => loaded.context,
    current: () => loaded.certificate,
    secondsUntilExpiry: () => (loaded.certificate.notAfter.getTime() - now()) / 1000,
    serverOptions: () => ({
      cert: servedChain(loaded.contents),
      key: loaded.contents.key,
      ...(loaded.contents.clientCa === undefined ? {} : { ca: loaded.contents.clientCa }),
      minVersion,
      ciphers: TLS12_CIPHERS,
      honorCipherOrder: true,
      requestCert: clientCaFile !== undefined,
      rejectUnauthorized: false,
      SNICallback: sniCallback,
    }),
    attach(server) {
      servers.add(server);
      server.setSecureContext(contextOptions(loaded.contents, minVersion));
    },
    reload,
    start() {
      if (started) return;
      started = true;
      const files = [certFile, keyFile, ...(caFile === undefined ? [] : [caFile]), ...(clientCaFile === undefined ? [] : [clientCaFile])];
      const directories = new Set(files.map((file) => dirname(file)));
      for (const dir of directories) {
        try {
          watches.push(watchDirectory(dir, scheduleReload, report));
        } catch (error) {
          // No watch (for example inotify limits reached): the poll still picks changes up.
          report(toError(error));
        }
      }
      if (pollMs > 0) pollHandle = timers.setInterval(() => reload(), pollMs);
      // Catch a change that happened between the initial read and the watch starting.
      reload();
    },
    stop() {
      started = false;
      for (const directoryWatch of watches) directoryWatch.close();
      watches = [];
      if (pollHandle !== undefined) timers.clearInterval(pollHandle);
      if (debounceHandle !== undefined) timers.clearTimeout(debounceHandle);
      pollHandle = undefined;
      debounceHandle = undefined;
    },
  };
}
