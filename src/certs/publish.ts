/**
 * Publishing certificates to the cluster without cert-manager: the CA into every webhook's
 * `clientConfig.caBundle`, the serving pair into a kubernetes.io/tls Secret the Deployment mounts.
 */
import {
  AdmissionregistrationV1Api, ApiException, CoreV1Api, type KubeConfig, type V1Secret,
} from '@kubernetes/client-node';
import type { CertificateBundle } from './generate.ts';

/** Read-then-patch races with other writers (Helm, another Job); retry from a fresh read this many times. */
export const PUBLISH_ATTEMPTS = 3;
export const TLS_SECRET_TYPE = 'kubernetes.io/tls';

/** Only what publishing needs from a KubeConfig; tests pass a fake here. */
export type ApiClientSource = Pick<KubeConfig, 'makeApiClient'>;

export interface WebhookConfigurationNames {
  readonly mutating: readonly string[];
  readonly validating: readonly string[];
}

export interface CaBundlePatchResult {
  readonly kind: 'MutatingWebhookConfiguration' | 'ValidatingWebhookConfiguration';
  readonly name: string;
  /** Webhooks in the configuration (all of them carry the CA afterwards). */
  readonly webhooks: number;
  /** False when every webhook already had this caBundle and no request was sent. */
  readonly patched: boolean;
}

export type SecretWriteAction = 'created' | 'replaced' | 'recreated';

/** The shape both configuration kinds share: enough to build the patch. */
interface WebhookConfigurationLike {
  readonly metadata?: { readonly resourceVersion?: string };
  readonly webhooks?: readonly { readonly name: string; readonly clientConfig?: { readonly caBundle?: string } }[];
}

interface ConfigurationAccess {
  readonly kind: CaBundlePatchResult['kind'];
  read(name: string): Promise<WebhookConfigurationLike>;
  patch(name: string, body: readonly JsonPatchOperation[]): Promise<unknown>;
}

export interface JsonPatchOperation {
  readonly op: 'add' | 'test';
  readonly path: string;
  readonly value: unknown;
}

function statusCode(error: unknown): number | undefined {
  return error instanceof ApiException ? error.code : undefined;
}

/** 409 Conflict, or 422 from a failed JSON Patch `test` (the object changed since we read it). */
function isConcurrentChange(error: unknown): boolean {
  const code = statusCode(error);
  return code === 409 || code === 422;
}

/**
 * A JSON Patch that sets `clientConfig.caBundle` on every webhook, guarded by a `test` of the
 * resourceVersion so a webhook added or reordered since the read is never written at a stale index.
 * `add` on an object member replaces it when present (RFC 6902 §4.1), so it covers both cases.
 * Returns undefined when nothing would change (keeps repeated Job runs from bumping the object).
 */
export function caBundlePatch(configuration: WebhookConfigurationLike, caBundle: string): JsonPatchOperation[] | undefined {
  const webhooks = configuration.webhooks ?? [];
  const operations: JsonPatchOperation[] = [];
  webhooks.forEach((webhook, index) => {
    if (webhook.clientConfig?.caBundle === caBundle) return;
    operations.push({ op: 'add', path: `/webhooks/${index}/clientConfig/caBundle`, value: caBundle });
  });
  if (operations.length === 0) return undefined;
  const resourceVersion = configuration.metadata?.resourceVersion;
  const guard: JsonPatchOperation[] =
    resourceVersion === undefined ? [] : [{ op: 'test', path: '/metadata/resourceVersion', value: resourceVersion }];
  return [...guard, ...operations];
}

async function patchOne(access: ConfigurationAccess, name: string, caBundle: string): Promise<CaBundlePatchResult> {
  for (let attempt = 1; ; attempt++) {
    const configuration = await access.read(name);
    const webhooks = configuration.webhooks?.length ?? 0;
    const patch = caBundlePatch(configuration, caBundle);
    if (patch === undefined) return { kind: access.kind, name, webhooks, patched: false };
    try {
      await access.patch(name, patch);
      return { kind: access.kind, name, webhooks, patched: true };
    } catch (error) {
      if (!isConcurrentChange(error) || attempt >= PUBLISH_ATTEMPTS) throw error;
    }
  }
}

/** caBundle is base64 of the PEM text (the API field is []byte, serialised as base64 in JSON). */
export function caBundleOf(caPem: string): string {
  return Buffer.from(caPem, 'utf8').toString('base64');
}

export async function patchWebhookCaBundles(
  kubeConfig: ApiClientSource,
  names: WebhookConfigurationNames,
  caPem: string,
): Promise<CaBundlePatchResult[]> {
  const api = kubeConfig.makeApiClient(AdmissionregistrationV1Api);
  const caBundle = caBundleOf(caPem);
  const mutating: ConfigurationAccess = {
    kind: 'MutatingWebhookConfiguration',
    read: (name) => api.readMutatingWebhookConfiguration({ name }),
    patch: (name, body) => api.patchMutatingWebhookConfiguration({ name, body }),
  };
  const validating: ConfigurationAccess = {
    kind: 'ValidatingWebhookConfiguration',
    read: (name) => api.readValidatingWebhookConfiguration({ name }),
    patch: (name, body) => api.patchValidatingWebhookConfiguration({ name, body }),
  };
  const results: CaBundlePatchResult[] = [];
  // Sequential: a handful of objects, and a failure stops before touching the rest with a clear error.
  for (const name of names.mutating) results.push(await patchOne(mutating, name, caBundle));
  for (const name of names.validating) results.push(await patchOne(validating, name, caBundle));
  return results;
}

function secretData(bundle: Pick<CertificateBundle, 'caCert' | 'tlsCert' | 'tlsKey'>): Record<string, string> {
  const base64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
  return { 'tls.crt': base64(bundle.tlsCert), 'tls.key': base64(bundle.tlsKey), 'ca.crt': base64(bundle.caCert) };
}

/**
 * Creates the Secret, or replaces its data in place keeping labels, annotations and owner
 * references (Helm ownership survives). A Secret's type is immutable, so one of another type
 * (say an `Opaque` placeholder) is deleted and created again with the same metadata.
 * The CA key never goes into the Secret: the server does not need it.
 */
export async function writeTlsSecret(
  kubeConfig: ApiClientSource,
  namespace: string,
  name: string,
  bundle: Pick<CertificateBundle, 'caCert' | 'tlsCert' | 'tlsKey'>,
): Promise<SecretWriteAction> {
  const api = kubeConfig.makeApiClient(CoreV1Api);
  const data = secretData(bundle);
  for (let attempt = 1; ; attempt++) {
    let existing: V1Secret | undefined;
    try {
      existing = await api.readNamespacedSecret({ name, namespace });
    } catch (error) {
      if (statusCode(error) !== 404) throw error;
    }
    try {
      if (existing === undefined) {
        await api.createNamespacedSecret({
          namespace,
          body: { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace }, type: TLS_SECRET_TYPE, data },
        });
        return 'created';
      }
      const metadata = {
        name,
        namespace,
        ...(existing.metadata?.labels === undefined ? {} : { labels: existing.metadata.labels }),
        ...(existing.metadata?.annotations === undefined ? {} : { annotations: existing.metadata.annotations }),
        ...(existing.metadata?.ownerReferences === undefined ? {} : { ownerReferences: existing.metadata.ownerReferences }),
      };
      if (existing.type === TLS_SECRET_TYPE) {
        await api.replaceNamespacedSecret({
          name,
          namespace,
          body: {
            apiVersion: 'v1', kind: 'Secret', type: TLS_SECRET_TYPE, data,
            metadata: { ...metadata, ...(existing.metadata?.resourceVersion === undefined ? {} : { resourceVersion: existing.metadata.resourceVersion }) },
          },
        });
        return 'replaced';
      }
      await api.deleteNamespacedSecret({ name, namespace });
      await api.createNamespacedSecret({ namespace, body: { apiVersion: 'v1', kind: 'Secret', metadata, type: TLS_SECRET_TYPE, data } });
      return 'recreated';
    } catch (error) {
      // 409: created or changed by someone else since our read; start again from a fresh read.
      if (statusCode(error) !== 409 || attempt >= PUBLISH_ATTEMPTS) throw error;
    }
  }
}
