/**
 * Certificate files on disk: the layout `pullguard certs` writes and `pullguard serve` reads.
 * Names follow the kubernetes.io/tls Secret keys, so a mounted Secret and a local `certs/`
 * directory look the same to the server.
 */
import { randomBytes, X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  DEFAULT_VALIDITY_DAYS, describeCertificate, generateCertificates, servingHosts, type CertificateBundle,
} from './generate.ts';

export const CERTIFICATE_FILE_NAMES = {
  caCert: 'ca.crt',
  caKey: 'ca.key',
  tlsCert: 'tls.crt',
  tlsKey: 'tls.key',
} as const;

export type CertificateFileRole = keyof typeof CERTIFICATE_FILE_NAMES;
export type CertificatePaths = Readonly<Record<CertificateFileRole, string>>;

/** Default output directory for `pullguard certs` and `npm start` (git-ignored). */
export const DEFAULT_CERTIFICATE_DIR = 'certs';
/** Private keys readable by the owner only; certificates are public. */
export const KEY_FILE_MODE = 0o600;
export const CERT_FILE_MODE = 0o644;
/** Dev certificates are renewed this long before they expire, so a long-running `npm start` does not hit expiry. */
export const DEV_RENEW_BEFORE_MS = 24 * 60 * 60 * 1000;
/** A local `npm start` is reached as localhost (127.0.0.1 is always added). */
export const DEV_DEFAULT_HOSTS: readonly string[] = ['localhost'];

/** Renamed in this order: the serving pair last, key before certificate. */
const WRITE_ORDER: readonly CertificateFileRole[] = ['caCert', 'caKey', 'tlsKey', 'tlsCert'];

export function certificatePaths(dir: string): CertificatePaths {
  return {
    caCert: join(dir, CERTIFICATE_FILE_NAMES.caCert),
    caKey: join(dir, CERTIFICATE_FILE_NAMES.caKey),
    tlsCert: join(dir, CERTIFICATE_FILE_NAMES.tlsCert),
    tlsKey: join(dir, CERTIFICATE_FILE_NAMES.tlsKey),
  };
}

/** Refusing to overwrite existing files without `overwrite: true`. */
export class CertificateFilesExistError extends Error {
  readonly paths: readonly string[];
  constructor(paths: readonly string[]) {
    super(`certificate files already exist (pass overwrite to replace them): ${paths.join(', ')}`);
    this.name = 'CertificateFilesExistError';
    this.paths = paths;
  }
}

function isMissingFile(error: unknown): boolean {
  return error instanceof Error && 'code' in error && error.code === 'ENOENT';
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if (isMissingFile(error)) return false;
    throw error;
  }
}

/** A flushed temporary file next to `path`, ready to be renamed over it. */
async function writeTemporary(path: string, content: string, mode: number): Promise<string> {
  const temporary = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const handle = await open(temporary, 'wx', mode);
    try {
      await handle.writeFile(content);
      // The mode argument only applies at creation and is masked by the umask; set it explicitly.
      await handle.chmod(mode);
      await handle.sync();
    } finally {
      await handle.close();
    }
    return temporary;
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/**
 * Writes a temporary file next to the target, flushes it and renames it over the target:
 * rename is atomic within a directory, so a watching server never reads half a file.
 */
export async function writeFileAtomically(path: string, content: string, mode: number): Promise<void> {
  const temporary = await writeTemporary(path, content, mode);
  try {
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

export async function writeCertificateFiles(
  dir: string,
  bundle: CertificateBundle,
  options: { readonly overwrite: boolean },
): Promise<CertificatePaths> {
  const paths = certificatePaths(dir);
  await mkdir(dir, { recursive: true });
  if (!options.overwrite) {
    const present: string[] = [];
    for (const role of WRITE_ORDER) if (await exists(paths[role])) present.push(paths[role]);
    if (present.length > 0) throw new CertificateFilesExistError(present);
  }
  // Every file is written and flushed before the first rename, so the renames follow each other
  // within microseconds and a watcher almost never sees an old certificate next to a new key.
  const temporaries: { role: CertificateFileRole; path: string }[] = [];
  try {
    for (const role of WRITE_ORDER) {
      const mode = role === 'caKey' || role === 'tlsKey' ? KEY_FILE_MODE : CERT_FILE_MODE;
      temporaries.push({ role, path: await writeTemporary(paths[role], bundle[role], mode) });
    }
    while (temporaries.length > 0) {
      const next = temporaries[0];
      if (next === undefined) break;
      await rename(next.path, paths[next.role]);
      temporaries.shift();
    }
  } finally {
    await Promise.all(temporaries.map((temporary) => rm(temporary.path, { force: true })));
  }
  return paths;
}

export type DevCertificateStatus =
  | { readonly created: false; readonly paths: CertificatePaths; readonly notAfter: Date }
  | { readonly created: true; readonly reason: string; readonly paths: CertificatePaths; readonly notAfter: Date };

export interface EnsureDevOptions {
  readonly now?: Date;
  readonly validityDays?: number;
}

/** Why the existing files cannot be reused, or undefined when they can. */
async function reasonToRegenerate(paths: CertificatePaths, wantedNames: readonly string[], now: Date): Promise<string | undefined> {
  const contents: Partial<Record<CertificateFileRole, string>> = {};
  for (const role of WRITE_ORDER) {
    try {
      contents[role] = await readFile(paths[role], 'utf8');
    } catch (error) {
      if (isMissingFile(error)) return `${paths[role]} is missing`;
      throw error;
    }
  }
  try {
    const serving = new X509Certificate(contents.tlsCert ?? '');
    const ca = new X509Certificate(contents.caCert ?? '');
    if (!serving.checkPrivateKey(createPrivateKey(contents.tlsKey ?? ''))) return 'tls.key does not match tls.crt';
    if (!ca.checkPrivateKey(createPrivateKey(contents.caKey ?? ''))) return 'ca.key does not match ca.crt';
    if (!serving.verify(ca.publicKey)) return 'tls.crt is not signed by ca.crt';
    const description = describeCertificate(serving.raw);
    if (description.notAfter.getTime() - DEV_RENEW_BEFORE_MS <= now.getTime()) {
      return `tls.crt expires at ${description.notAfter.toISOString()}`;
    }
    if (ca.validToDate.getTime() <= now.getTime()) return `ca.crt expired at ${ca.validToDate.toISOString()}`;
    const names = new Set([...description.dnsNames, ...description.ipAddresses]);
    const missing = wantedNames.filter((name) => !names.has(name));
    if (missing.length > 0) return `tls.crt does not cover ${missing.join(', ')}`;
    return undefined;
  } catch (error) {
    return `existing files do not parse (${error instanceof Error ? error.message : String(error)})`;
  }
}

/**
 * For `npm start`: keeps valid dev certificates (same CA, so a trusted dev CA stays trusted) and
 * writes a fresh CA and serving pair when any file is missing, unparsable, mismatched, expired
 * (or within DEV_RENEW_BEFORE_MS of expiry), or does not cover a requested host.
 */
export async function ensureDevCertificates(
  dir: string,
  hosts: readonly string[],
  options: EnsureDevOptions = {},
): Promise<DevCertificateStatus> {
  const now = options.now ?? new Date();
  const paths = certificatePaths(dir);
  const effectiveHosts = hosts.length > 0 ? hosts : DEV_DEFAULT_HOSTS;
  // Validated before touching the files, so a bad host is reported as such, not as "files do not parse".
  const wantedNames = servingHosts(effectiveHosts).map((host) => host.name);
  const reason = await reasonToRegenerate(paths, wantedNames, now);
  if (reason === undefined) {
    const notAfter = describeCertificate(await readFile(paths.tlsCert)).notAfter;
    return { created: false, paths, notAfter };
  }
  const bundle = generateCertificates({ hosts: effectiveHosts, validityDays: options.validityDays ?? DEFAULT_VALIDITY_DAYS, now });
  await writeCertificateFiles(dir, bundle, { overwrite: true });
  return { created: true, reason, paths, notAfter: bundle.notAfter };
}
