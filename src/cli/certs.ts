import { parseArgs } from 'node:util';
import { ApiException, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { CertificateFilesExistError, DEFAULT_CERTIFICATE_DIR, writeCertificateFiles } from '../certs/files.ts';
import {
  CertificateOptionsError, DEFAULT_CA_VALIDITY_DAYS, DEFAULT_VALIDITY_DAYS, describeCertificate, generateCertificates, servingHosts,
} from '../certs/generate.ts';
import { patchWebhookCaBundles, writeTlsSecret } from '../certs/publish.ts';
import { EXIT_OK, UsageError } from './errors.ts';
import type { CommandIo } from './io.ts';
import { plural } from '../report/table.ts';

export const CERTS_HELP = `Usage: pullguard certs [--out DIR] --host NAME... [options]

Creates a CA and a serving certificate for the webhook (node-forge), writes ca.crt, ca.key, tls.crt
and tls.key into DIR, and optionally publishes them to the cluster (what the Helm chart's
certificate Job runs; no cert-manager needed).

  --out DIR                    output directory (default ${DEFAULT_CERTIFICATE_DIR}); '' to write no files
  --host NAME                  DNS name or IP for the serving certificate; repeatable
                               (localhost and 127.0.0.1 are always included)
  --days N                     serving certificate validity in days (default ${DEFAULT_VALIDITY_DAYS})
  --ca-days N                  CA validity in days (default ${DEFAULT_CA_VALIDITY_DAYS})
  --force                      overwrite existing files in DIR
  --secret NAMESPACE/NAME      create or update a kubernetes.io/tls Secret with tls.crt, tls.key, ca.crt
  --mutating-webhook NAME      write the CA into caBundle of this MutatingWebhookConfiguration; repeatable
  --validating-webhook NAME    same for a ValidatingWebhookConfiguration; repeatable
  --renew-before DAYS          with --secret: keep the Secret's certificate when it covers every host and
                               is valid for longer than this (default 30); the caBundles are still patched
  --kubeconfig FILE            kubeconfig for --secret and the webhooks (default: KUBECONFIG,
                               ~/.kube/config, then in-cluster)
  -h, --help                   show this help
  -v, --version                print the version

Exit status: 0 done, 1 the cluster could not be reached or refused a write (the message says which),
2 usage error or an unusable kubeconfig.
`;

const DAY_MS = 24 * 60 * 60 * 1000;

function positiveInteger(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed <= 0) throw new UsageError(`${flag} must be a positive whole number of days, got ${value}`);
  return parsed;
}

export function loadKubeConfig(path: string | undefined): KubeConfig {
  const kubeConfig = new KubeConfig();
  if (path !== undefined) kubeConfig.loadFromFile(path);
  else kubeConfig.loadFromDefault();
  return kubeConfig;
}

interface ExistingSecret {
  /** The pair and CA, when still good enough to keep. */
  readonly reusable: { caCert: string; tlsCert: string; tlsKey: string; notAfter: Date } | undefined;
  /** The CA currently published, while it is still valid: kept in caBundles during a rotation. */
  readonly previousCa: string | undefined;
}

/** Reads the serving Secret: is its certificate still good, and which CA do clients trust now? */
async function readExistingSecret(kubeConfig: KubeConfig, namespace: string, name: string, hosts: readonly string[], renewBeforeDays: number): Promise<ExistingSecret> {
  let secret;
  try {
    secret = await kubeConfig.makeApiClient(CoreV1Api).readNamespacedSecret({ name, namespace });
  } catch {
    return { reusable: undefined, previousCa: undefined };
  }
  const data = secret.data ?? {};
  const [tlsCert, tlsKey, caCert] = [data['tls.crt'], data['tls.key'], data['ca.crt']].map((value) => (value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8')));
  let previousCa: string | undefined;
  try {
    if (caCert !== undefined && describeCertificate(caCert).notAfter.getTime() > Date.now()) previousCa = caCert;
  } catch {
    previousCa = undefined;
  }
  if (tlsCert === undefined || tlsKey === undefined || caCert === undefined) return { reusable: undefined, previousCa };
  try {
    const description = describeCertificate(tlsCert);
    const names = new Set([...description.dnsNames, ...description.ipAddresses]);
    const covered = servingHosts(hosts).every((host) => names.has(host.name));
    if (!covered || description.notAfter.getTime() - Date.now() < renewBeforeDays * DAY_MS) return { reusable: undefined, previousCa };
    return { reusable: { caCert, tlsCert, tlsKey, notAfter: description.notAfter }, previousCa };
  } catch {
    return { reusable: undefined, previousCa };
  }
}

export async function runCerts(args: readonly string[], io: CommandIo): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      out: { type: 'string', default: DEFAULT_CERTIFICATE_DIR },
      host: { type: 'string', multiple: true, default: [] },
      days: { type: 'string' },
      'ca-days': { type: 'string' },
      force: { type: 'boolean', default: false },
      secret: { type: 'string' },
      'mutating-webhook': { type: 'string', multiple: true, default: [] },
      'validating-webhook': { type: 'string', multiple: true, default: [] },
      'renew-before': { type: 'string' },
      kubeconfig: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    io.stdout.write(CERTS_HELP);
    return EXIT_OK;
  }
  if (values.host.length === 0) throw new UsageError('at least one --host is needed (the webhook Service DNS name, e.g. pullguard.pullguard.svc)');
  const validityDays = positiveInteger(values.days, '--days', DEFAULT_VALIDITY_DAYS);
  const caValidityDays = positiveInteger(values['ca-days'], '--ca-days', Math.max(DEFAULT_CA_VALIDITY_DAYS, validityDays));
  const renewBeforeDays = positiveInteger(values['renew-before'], '--renew-before', 30);
  let secretTarget: { namespace: string; name: string } | undefined;
  if (values.secret !== undefined) {
    const match = /^([a-z0-9-]+)\/([a-z0-9.-]+)$/.exec(values.secret);
    if (match === null) throw new UsageError(`--secret must be NAMESPACE/NAME, got ${values.secret}`);
    secretTarget = { namespace: match[1] as string, name: match[2] as string };
  }
  const publishing = secretTarget !== undefined || values['mutating-webhook'].length > 0 || values['validating-webhook'].length > 0;
  let kubeConfig: KubeConfig | undefined;
  try {
    kubeConfig = publishing ? loadKubeConfig(values.kubeconfig) : undefined;
  } catch (error) {
    throw new UsageError(`cannot load a kubeconfig${values.kubeconfig === undefined ? '' : ` from ${values.kubeconfig}`}: ${(error as Error).message}`);
  }

  let bundle: { caCert: string; tlsCert: string; tlsKey: string; caKey?: string; notAfter: Date } | undefined;
  let previousCa: string | undefined;
  if (kubeConfig !== undefined && secretTarget !== undefined) {
    const existing = await readExistingSecret(kubeConfig, secretTarget.namespace, secretTarget.name, values.host, renewBeforeDays);
    bundle = existing.reusable;
    previousCa = existing.previousCa;
    if (bundle !== undefined) io.stdout.write(`kept the certificate in Secret ${values.secret}: valid until ${bundle.notAfter.toISOString()}\n`);
  }
  const reused = bundle !== undefined;
  if (bundle === undefined) {
    try {
      bundle = generateCertificates({ hosts: values.host, validityDays, caValidityDays });
    } catch (error) {
      if (error instanceof CertificateOptionsError) throw new UsageError(error.message);
      throw error;
    }
    io.stdout.write(`created a CA and a serving certificate for ${values.host.join(', ')} (+ localhost, 127.0.0.1), valid until ${bundle.notAfter.toISOString()}\n`);
  }
  if (values.out !== '' && !reused && bundle.caKey !== undefined) {
    try {
      const paths = await writeCertificateFiles(values.out, { ...bundle, caKey: bundle.caKey }, { overwrite: values.force });
      io.stdout.write(`wrote ${paths.caCert}, ${paths.tlsCert}, ${paths.tlsKey} (and ${paths.caKey})\n`);
    } catch (error) {
      if (error instanceof CertificateFilesExistError) throw new UsageError(`${error.message}; pass --force to overwrite`);
      throw error;
    }
  }
  if (kubeConfig !== undefined && secretTarget !== undefined && !reused) {
    let action;
    try {
      action = await writeTlsSecret(kubeConfig, secretTarget.namespace, secretTarget.name, bundle);
    } catch (error) {
      io.stderr.write(`pullguard certs: cannot write Secret ${values.secret} (API server ${kubeConfig.getCurrentCluster()?.server ?? 'unknown'}): ${describeApiError(error)}\n`);
      return EXIT_PUBLISH_FAILED;
    }
    io.stdout.write(`Secret ${values.secret}: ${action}\n`);
  }
  if (kubeConfig !== undefined && (values['mutating-webhook'].length > 0 || values['validating-webhook'].length > 0)) {
    // During a rotation the pods still serve the old certificate until the kubelet refreshes the
    // mounted Secret (up to a minute or two): trust both CAs until the next run drops the old one.
    const caBundle = !reused && previousCa !== undefined && previousCa.trim() !== bundle.caCert.trim() ? `${bundle.caCert.trimEnd()}\n${previousCa.trimEnd()}\n` : bundle.caCert;
    let results;
    try {
      results = await patchWebhookCaBundles(kubeConfig, { mutating: values['mutating-webhook'], validating: values['validating-webhook'] }, caBundle);
    } catch (error) {
      io.stderr.write(`pullguard certs: cannot write the caBundle of the webhook configurations (API server ${kubeConfig.getCurrentCluster()?.server ?? 'unknown'}): ${describeApiError(error)}\n`);
      return EXIT_PUBLISH_FAILED;
    }
    for (const result of results) {
      io.stdout.write(`${result.kind} ${result.name}: caBundle ${result.patched ? 'updated' : 'already current'} (${plural(result.webhooks, 'webhook')})\n`);
    }
  }
  return EXIT_OK;
}

/** The cluster refused a write or could not be reached: a message, not a stack trace (the chart's Job logs it). */
export const EXIT_PUBLISH_FAILED = 1;

/** What went wrong talking to the API server, in one line: the HTTP status and the API's message, or the network error. */
function describeApiError(error: unknown): string {
  if (error instanceof ApiException) {
    const body: unknown = typeof error.body === 'string' ? safeJson(error.body) : error.body;
    const message = typeof body === 'object' && body !== null && typeof (body as { message?: unknown }).message === 'string' ? (body as { message: string }).message : undefined;
    return `HTTP ${error.code}${message === undefined ? '' : `: ${message}`}`;
  }
  if (!(error instanceof Error)) return String(error);
  // fetch wraps the network error ("fetch failed"): its cause says what happened (ECONNREFUSED, ...).
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
