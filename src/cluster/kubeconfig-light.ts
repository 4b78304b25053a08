import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { parse } from 'yaml';
import { configFiles, KubeconfigError, type ClusterAccessOptions } from './kubeconfig-files.ts';

/**
 * The kubeconfig read without @kubernetes/client-node, for commands that make a few GETs and must
 * start fast (`explain`): importing client-node alone costs ~0.9 s of CPU. Same file discovery and
 * kubectl merge as loadClusterAccess (the first file to define a name or the current context
 * wins); supports bearer tokens (inline or file), client certificates (inline or file), basic
 * auth, exec credential plugins (EKS, GKE, AKS kubelogin), CA data or file, and
 * insecure-skip-tls-verify. Undefined for what it does not support (legacy auth-provider, proxy-url):
 * the caller then uses client-node.
 */

export interface LightAccess {
  readonly server: string;
  readonly caPem: string | undefined;
  readonly insecure: boolean;
  readonly tlsServerName: string | undefined;
  readonly authorization: string | undefined;
  readonly cert: string | undefined;
  readonly key: string | undefined;
  readonly namespace: string;
  readonly context: string;
  readonly source: string;
}

type Entry = Record<string, unknown>;

function record(value: unknown): Entry {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Entry) : {};
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

interface Named {
  readonly body: Entry;
  /** Directory of the file it came from: relative paths resolve against it, as kubectl does. */
  readonly base: string;
}

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
const EXEC_TIMEOUT_MS = 30_000;

interface ChosenContext {
  readonly contextName: string;
  readonly context: Named;
  readonly clusters: ReadonlyMap<string, Named>;
  readonly users: ReadonlyMap<string, Named>;
  readonly source: string;
}

/** The kubeconfig files merged as kubectl merges them, and the chosen context; undefined: no file (in-cluster). */
function chooseContext(options: ClusterAccessOptions, env: Readonly<Record<string, string | undefined>>, exists: (path: string) => boolean): ChosenContext | undefined {
  const files = configFiles(options, env, exists);
  if (files.length === 0) return undefined;
  const clusters = new Map<string, Named>();
  const users = new Map<string, Named>();
  const contexts = new Map<string, Named>();
  let current = '';
  for (const file of files) {
    let document: unknown;
    try {
      document = parse(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new KubeconfigError(`cannot read kubeconfig ${file}: ${(error as Error).message}`);
    }
    const config = record(document);
    const base = dirname(file);
    const collect = (list: unknown, field: string, into: Map<string, Named>): void => {
      if (!Array.isArray(list)) return;
      for (const item of list) {
        const name = text(record(item)['name']);
        if (name !== undefined && !into.has(name)) into.set(name, { body: record(record(item)[field]), base });
      }
    };
    collect(config['clusters'], 'cluster', clusters);
    collect(config['users'], 'user', users);
    collect(config['contexts'], 'context', contexts);
    if (current === '') current = text(config['current-context']) ?? '';
  }
  const source = files.join(', ');
  const contextName = options.context ?? current;
  const context = contexts.get(contextName);
  if (context === undefined) {
    if (options.context !== undefined) {
      throw new KubeconfigError(`context "${options.context}" not found in ${source} (contexts: ${[...contexts.keys()].join(', ') || 'none'})`);
    }
    throw new KubeconfigError(`${source} has no usable current context: give --context NAME`);
  }
  return { contextName, context, clusters, users, source };
}

/**
 * The namespace a kubectl command would use: the chosen context's, else `default` (in a pod: the
 * ServiceAccount's). Reads the files only: runs no exec plugin, needs no credentials.
 */
export function contextNamespace(options: ClusterAccessOptions = {}): string {
  const env = options.env ?? process.env;
  const exists = options.fileExists ?? existsSync;
  const chosen = chooseContext(options, env, exists);
  if (chosen === undefined) return inCluster(options, env, exists).namespace;
  return text(chosen.context.body['namespace']) ?? 'default';
}

export async function loadLightAccess(options: ClusterAccessOptions = {}): Promise<LightAccess | undefined> {
  const env = options.env ?? process.env;
  const exists = options.fileExists ?? existsSync;
  const chosen = chooseContext(options, env, exists);
  if (chosen === undefined) return inCluster(options, env, exists);
  const { contextName, context, clusters, users, source } = chosen;
  const cluster = clusters.get(text(context.body['cluster']) ?? '');
  const server = text(cluster?.body['server']);
  if (cluster === undefined || server === undefined) throw new KubeconfigError(`context "${contextName}" names no cluster with a server in ${source}`);
  if (text(cluster.body['proxy-url']) !== undefined) return undefined;
  const user = users.get(text(context.body['user']) ?? '') ?? { body: {}, base: cluster.base };
  if (Object.keys(record(user.body['auth-provider'])).length > 0) return undefined;
  const credentials = await userCredentials(user, env);
  return {
    server,
    caPem: dataOrFile(cluster.body, 'certificate-authority', cluster.base),
    insecure: cluster.body['insecure-skip-tls-verify'] === true,
    tlsServerName: text(cluster.body['tls-server-name']),
    ...credentials,
    namespace: text(context.body['namespace']) ?? 'default',
    context: contextName,
    source,
  };
}

function resolvePath(path: string, base: string): string {
  return isAbsolute(path) ? path : join(base, path);
}

/** `FIELD-data` (base64) or `FIELD` (a file path), as text. */
function dataOrFile(body: Entry, field: string, base: string): string | undefined {
  const data = text(body[`${field}-data`]);
  if (data !== undefined) return Buffer.from(data, 'base64').toString('utf8');
  const file = text(body[field]);
  if (file === undefined) return undefined;
  try {
    return readFileSync(resolvePath(file, base), 'utf8');
  } catch (error) {
    throw new KubeconfigError(`cannot read ${field} ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
}

async function userCredentials(user: Named, env: Readonly<Record<string, string | undefined>>): Promise<Pick<LightAccess, 'authorization' | 'cert' | 'key'>> {
  const body = user.body;
  const cert = dataOrFile(body, 'client-certificate', user.base);
  const key = dataOrFile(body, 'client-key', user.base);
  const token = text(body['token']) ?? (text(body['tokenFile']) !== undefined ? readFileSync(resolvePath(text(body['tokenFile']) as string, user.base), 'utf8').trim() : undefined);
  if (token !== undefined) return { authorization: `Bearer ${token}`, cert, key };
  const username = text(body['username']);
  if (username !== undefined) return { authorization: `Basic ${Buffer.from(`${username}:${text(body['password']) ?? ''}`).toString('base64')}`, cert, key };
  const exec = record(body['exec']);
  if (text(exec['command']) !== undefined) return { ...(await runExec(exec, user.base, env)), ...(cert !== undefined ? { cert, key } : {}) };
  return { authorization: undefined, cert, key };
}

/** A client.authentication.k8s.io exec plugin: run it, read its ExecCredential from stdout. */
async function runExec(exec: Entry, base: string, env: Readonly<Record<string, string | undefined>>): Promise<Pick<LightAccess, 'authorization' | 'cert' | 'key'>> {
  const command = text(exec['command']) as string;
  // A bare name is looked up on PATH; a path with a slash is relative to the kubeconfig's directory.
  const file = command.includes('/') ? resolvePath(command, base) : command;
  const args = Array.isArray(exec['args']) ? exec['args'].filter((arg): arg is string => typeof arg === 'string') : [];
  const extra: Record<string, string> = {};
  if (Array.isArray(exec['env'])) for (const entry of exec['env']) if (text(record(entry)['name']) !== undefined) extra[record(entry)['name'] as string] = String(record(entry)['value'] ?? '');
  const apiVersion = text(exec['apiVersion']) ?? 'client.authentication.k8s.io/v1';
  const info = JSON.stringify({ apiVersion, kind: 'ExecCredential', spec: { interactive: false } });
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(file, args, { env: { ...env, ...extra, KUBERNETES_EXEC_INFO: info }, timeout: EXEC_TIMEOUT_MS, maxBuffer: 1024 * 1024 }, (error, out, err) => {
      if (error !== null) reject(new KubeconfigError(`the kubeconfig's exec plugin ${command} failed: ${String(err).trim().split('\n').slice(-1)[0] || error.message}`));
      else resolve(out);
    });
  });
  let credential: Entry;
  try {
    credential = record(record(JSON.parse(stdout))['status']);
  } catch {
    throw new KubeconfigError(`the kubeconfig's exec plugin ${command} did not print an ExecCredential`);
  }
  const token = text(credential['token']);
  return {
    authorization: token !== undefined ? `Bearer ${token}` : undefined,
    cert: text(credential['clientCertificateData']),
    key: text(credential['clientKeyData']),
  };
}

function inCluster(options: ClusterAccessOptions, env: Readonly<Record<string, string | undefined>>, exists: (path: string) => boolean): LightAccess {
  const root = (options.inClusterRoot ?? '') + SERVICE_ACCOUNT_DIR;
  const host = env['KUBERNETES_SERVICE_HOST'];
  if (host === undefined || !exists(join(root, 'token'))) {
    throw new KubeconfigError('no kubeconfig found: give --kubeconfig FILE, set KUBECONFIG, create ~/.kube/config, or run in a pod with a ServiceAccount');
  }
  const port = env['KUBERNETES_SERVICE_PORT'] ?? '443';
  const namespace = exists(join(root, 'namespace')) ? readFileSync(join(root, 'namespace'), 'utf8').trim() : 'default';
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    caPem: exists(join(root, 'ca.crt')) ? readFileSync(join(root, 'ca.crt'), 'utf8') : undefined,
    insecure: false,
    tlsServerName: undefined,
    authorization: `Bearer ${readFileSync(join(root, 'token'), 'utf8').trim()}`,
    cert: undefined,
    key: undefined,
    namespace: namespace || 'default',
    context: 'in-cluster',
    source: 'in-cluster',
  };
}
