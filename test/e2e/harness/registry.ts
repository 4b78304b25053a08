// Registries that need credentials, for the agreement matrix (issue 12): Debian's docker-registry
// (distribution 2.8, unpacked by test/e2e/build-node.sh, never installed) on a free loopback port
// with TLS from a CA the harness makes and htpasswd users (bcrypt, `htpasswd -Bbn`). Every
// repository needs a login: an anonymous pull gets `401 Unauthorized`, as from a private registry.
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { generateCertificates } from '../../../src/certs/generate.ts';
import { registerEmergencyCleanup } from './control-plane.ts';
import { describeExit, freeLoopbackPorts, hasExited, killNow, spawnLogged, stopProcess, tailFile, waitUntil, type ManagedProcess } from './processes.ts';

const execFileAsync = promisify(execFile);
const LOOPBACK = '127.0.0.1';
const STARTUP_TIMEOUT_MS = 30_000;
const POLL_MS = 100;
const PROBE_TIMEOUT_MS = 5_000;

export interface RegistryUser {
  username: string;
  password: string;
}

/** One CA for every registry of a run: containerd trusts it per host, crane through SSL_CERT_FILE. */
export interface RegistryCa {
  readonly caPem: string;
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

export function makeRegistryCa(dir: string): RegistryCa {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // The serving certificate always carries localhost and 127.0.0.1 (src/certs/generate.ts).
  const bundle = generateCertificates({ hosts: [LOOPBACK], validityDays: 1, caValidityDays: 1 });
  const paths = { caFile: join(dir, 'ca.crt'), certFile: join(dir, 'registry.crt'), keyFile: join(dir, 'registry.key') };
  writeFileSync(paths.caFile, bundle.caCert);
  writeFileSync(paths.certFile, bundle.tlsCert);
  writeFileSync(paths.keyFile, bundle.tlsKey, { mode: 0o600 });
  return { caPem: bundle.caCert, ...paths };
}

export interface RegistryOptions {
  /** Short name for logs and paths: `a`, `b`. */
  name: string;
  /** The unpacked docker-registry binary. */
  binary: string;
  /** Where the config, htpasswd file, storage and log go. */
  dir: string;
  ca: RegistryCa;
  users: readonly RegistryUser[];
}

export interface Registry {
  readonly name: string;
  /** `127.0.0.1:PORT`: what image references and pull-secret keys name. */
  readonly host: string;
  readonly port: number;
  readonly logPath: string;
  pid(): number | undefined;
  /** SIGTERM by PID (SIGKILL after 5 s); storage stays in `dir` for the caller to remove. */
  stop(): Promise<void>;
}

/** `htpasswd -Bbn user password`: one bcrypt line (the password is an argument of a local process only). */
async function htpasswdLine(user: RegistryUser): Promise<string> {
  const { stdout } = await execFileAsync('htpasswd', ['-Bbn', user.username, user.password]);
  return stdout.trim();
}

function registryConfig(options: { port: number; storage: string; htpasswd: string; ca: RegistryCa }): string {
  // JSON is YAML; the registry reads it with its YAML parser.
  return `${JSON.stringify(
    {
      version: 0.1,
      log: { level: 'info', formatter: 'text', accesslog: { disabled: false } },
      storage: { filesystem: { rootdirectory: options.storage }, delete: { enabled: true } },
      http: {
        addr: `${LOOPBACK}:${options.port}`,
        tls: { certificate: options.ca.certFile, key: options.ca.keyFile },
        // No debug server: it would listen on another port.
      },
      auth: { htpasswd: { realm: 'pullguard-e2e', path: options.htpasswd } },
    },
    null,
    2,
  )}\n`;
}

function probe(url: string, caPem: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method: 'GET', agent: false, timeout: PROBE_TIMEOUT_MS, ca: caPem }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end();
  });
}

export async function startRegistry(options: RegistryOptions): Promise<Registry> {
  const dir = join(options.dir, `registry-${options.name}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const [port] = await freeLoopbackPorts(1);
  if (port === undefined) throw new Error('no free loopback port for a registry');
  const htpasswd = join(dir, 'htpasswd');
  writeFileSync(htpasswd, `${(await Promise.all(options.users.map(htpasswdLine))).join('\n')}\n`, { mode: 0o600 });
  const configPath = join(dir, 'config.yml');
  writeFileSync(configPath, registryConfig({ port, storage: join(dir, 'storage'), htpasswd, ca: options.ca }));
  const logPath = join(dir, 'registry.log');
  let proc: ManagedProcess | undefined = await spawnLogged({
    name: `registry-${options.name}`,
    command: options.binary,
    args: ['serve', configPath],
    logPath,
    cwd: dir,
    // The registry reads REGISTRY_* variables over its config file: none from outside.
    env: Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('REGISTRY_'))),
  });
  const started = proc;
  const unregister = registerEmergencyCleanup(() => killNow(started));
  const host = `${LOOPBACK}:${port}`;
  try {
    // /v2/ without credentials answers 401 once the registry serves TLS with its htpasswd realm.
    await waitUntil(`registry ${options.name} on ${host}`, async () => (await probe(`https://${host}/v2/`, options.ca.caPem)) === 401, {
      timeoutMs: STARTUP_TIMEOUT_MS,
      intervalMs: POLL_MS,
      abortReason: () => (hasExited(started) ? `docker-registry ${describeExit(started)}` : undefined),
    });
  } catch (error) {
    await stopProcess(started, 2_000);
    unregister();
    throw new Error(`${(error as Error).message}\n--- ${logPath}\n${tailFile(logPath)}`, { cause: error });
  }
  return {
    name: options.name,
    host,
    port,
    logPath,
    pid: () => proc?.pid,
    async stop() {
      if (proc) await stopProcess(proc, 5_000);
      proc = undefined;
      unregister();
    },
  };
}
