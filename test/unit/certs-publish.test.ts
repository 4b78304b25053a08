import { AdmissionregistrationV1Api, ApiException, CoreV1Api } from '@kubernetes/client-node';
import t from 'tap';
import {
  caBundleOf, patchWebhookCaBundles, PUBLISH_ATTEMPTS, writeTlsSecret, type ApiClientSource,
} from '../../src/certs/publish.ts';

const CA_PEM = '-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n';
const CA_BUNDLE = Buffer.from(CA_PEM).toString('base64');
const BUNDLE = { caCert: CA_PEM, tlsCert: 'serving certificate', tlsKey: 'serving key' };

interface Call {
  readonly method: string;
  readonly param: Record<string, unknown>;
}

interface StoredObject {
  metadata: { name: string; resourceVersion: string; [key: string]: unknown };
  [key: string]: unknown;
}

/**
 * Stands in for the client-node API classes: records each call with its parameter object (the
 * request shape client-node turns into HTTP) and answers from an in-memory store.
 * `failures` queues an HTTP status per method for the next calls.
 */
class FakeApi {
  readonly calls: Call[] = [];
  readonly objects = new Map<string, StoredObject>();
  readonly failures = new Map<string, number[]>();
  readonly source: ApiClientSource;
  /** Runs before each call answers: lets a test play another writer changing the store. */
  beforeAnswer: ((method: string) => void) | undefined;

  constructor() {
    const admission = {
      readMutatingWebhookConfiguration: (param: { name: string }) => this.read('readMutatingWebhookConfiguration', `mutating/${param.name}`, param),
      readValidatingWebhookConfiguration: (param: { name: string }) => this.read('readValidatingWebhookConfiguration', `validating/${param.name}`, param),
      patchMutatingWebhookConfiguration: (param: { name: string }) => this.write('patchMutatingWebhookConfiguration', param),
      patchValidatingWebhookConfiguration: (param: { name: string }) => this.write('patchValidatingWebhookConfiguration', param),
    };
    const core = {
      readNamespacedSecret: (param: { namespace: string; name: string }) => this.read('readNamespacedSecret', `secret/${param.namespace}/${param.name}`, param),
      createNamespacedSecret: (param: Record<string, unknown>) => this.write('createNamespacedSecret', param),
      replaceNamespacedSecret: (param: Record<string, unknown>) => this.write('replaceNamespacedSecret', param),
      deleteNamespacedSecret: (param: Record<string, unknown>) => this.write('deleteNamespacedSecret', param),
    };
    // The fake implements only the methods publish.ts calls, so it cannot satisfy the full generated class types.
    this.source = {
      makeApiClient: ((apiClass: unknown) => {
        if (apiClass === AdmissionregistrationV1Api) return admission;
        if (apiClass === CoreV1Api) return core;
        throw new Error('unexpected API class');
      }) as unknown as ApiClientSource['makeApiClient'],
    };
  }

  private failIfQueued(method: string): void {
    this.beforeAnswer?.(method);
    const code = this.failures.get(method)?.shift();
    if (code !== undefined) throw new ApiException(code, `HTTP ${code}`, {}, {});
  }

  private async read(method: string, key: string, param: object): Promise<StoredObject> {
    this.calls.push({ method, param: { ...param } });
    this.failIfQueued(method);
    const object = this.objects.get(key);
    if (object === undefined) throw new ApiException(404, 'not found', {}, {});
    return structuredClone(object);
  }

  private async write(method: string, param: object): Promise<object> {
    this.calls.push({ method, param: structuredClone(param) as Record<string, unknown> });
    this.failIfQueued(method);
    return {};
  }

  methods(): string[] {
    return this.calls.map((call) => call.method);
  }
}

function webhookConfiguration(name: string, resourceVersion: string, caBundles: readonly (string | undefined)[]): StoredObject {
  return {
    metadata: { name, resourceVersion },
    webhooks: caBundles.map((caBundle, index) => ({
      name: `hook-${index}.pullguard.dev`,
      clientConfig: { service: { name: 'pullguard', namespace: 'pullguard' }, ...(caBundle === undefined ? {} : { caBundle }) },
    })),
  };
}

t.test('patchWebhookCaBundles', async (t) => {
  t.test('sets the base64 PEM on every webhook with one guarded JSON Patch per configuration', async (t) => {
    const fake = new FakeApi();
    fake.objects.set('mutating/pullguard', webhookConfiguration('pullguard', '41', [undefined, 'b2xk']));
    fake.objects.set('validating/pullguard', webhookConfiguration('pullguard', '42', [undefined]));
    const results = await patchWebhookCaBundles(fake.source, { mutating: ['pullguard'], validating: ['pullguard'] }, CA_PEM);
    t.same(fake.calls, [
      { method: 'readMutatingWebhookConfiguration', param: { name: 'pullguard' } },
      {
        method: 'patchMutatingWebhookConfiguration',
        param: {
          name: 'pullguard',
          body: [
            { op: 'test', path: '/metadata/resourceVersion', value: '41' },
            { op: 'add', path: '/webhooks/0/clientConfig/caBundle', value: CA_BUNDLE },
            { op: 'add', path: '/webhooks/1/clientConfig/caBundle', value: CA_BUNDLE },
          ],
        },
      },
      { method: 'readValidatingWebhookConfiguration', param: { name: 'pullguard' } },
      {
        method: 'patchValidatingWebhookConfiguration',
        param: {
          name: 'pullguard',
          body: [
            { op: 'test', path: '/metadata/resourceVersion', value: '42' },
            { op: 'add', path: '/webhooks/0/clientConfig/caBundle', value: CA_BUNDLE },
          ],
        },
      },
    ]);
    t.same(results, [
      { kind: 'MutatingWebhookConfiguration', name: 'pullguard', webhooks: 2, patched: true },
      { kind: 'ValidatingWebhookConfiguration', name: 'pullguard', webhooks: 1, patched: true },
    ]);
  });

  t.test('patches only the webhooks whose caBundle differs', async (t) => {
    const fake = new FakeApi();
    fake.objects.set('validating/pullguard', webhookConfiguration('pullguard', '7', [CA_BUNDLE, 'b2xk', CA_BUNDLE]));
    await patchWebhookCaBundles(fake.source, { mutating: [], validating: ['pullguard'] }, CA_PEM);
    t.same(fake.calls[1]?.param['body'], [
      { op: 'test', path: '/metadata/resourceVersion', value: '7' },
      { op: 'add', path: '/webhooks/1/clientConfig/caBundle', value: CA_BUNDLE },
    ]);
  });

  t.test('sends no patch when every webhook already carries the CA, so a rerun changes nothing', async (t) => {
    const fake = new FakeApi();
    fake.objects.set('mutating/pullguard', webhookConfiguration('pullguard', '9', [CA_BUNDLE, CA_BUNDLE]));
    const results = await patchWebhookCaBundles(fake.source, { mutating: ['pullguard'], validating: [] }, CA_PEM);
    t.same(fake.methods(), ['readMutatingWebhookConfiguration']);
    t.same(results, [{ kind: 'MutatingWebhookConfiguration', name: 'pullguard', webhooks: 2, patched: false }]);
  });

  t.test('starts again from a fresh read when the resourceVersion guard fails', async (t) => {
    const fake = new FakeApi();
    fake.objects.set('mutating/pullguard', webhookConfiguration('pullguard', '1', [undefined]));
    fake.failures.set('patchMutatingWebhookConfiguration', [422]);
    fake.beforeAnswer = (method) => {
      // Another writer adds a webhook between our first read and our patch.
      if (method === 'patchMutatingWebhookConfiguration') {
        fake.objects.set('mutating/pullguard', webhookConfiguration('pullguard', '2', [undefined, undefined]));
      }
    };
    const results = await patchWebhookCaBundles(fake.source, { mutating: ['pullguard'], validating: [] }, CA_PEM);
    t.same(fake.methods(), [
      'readMutatingWebhookConfiguration',
      'patchMutatingWebhookConfiguration',
      'readMutatingWebhookConfiguration',
      'patchMutatingWebhookConfiguration',
    ]);
    t.same(fake.calls[3]?.param['body'], [
      { op: 'test', path: '/metadata/resourceVersion', value: '2' },
      { op: 'add', path: '/webhooks/0/clientConfig/caBundle', value: CA_BUNDLE },
      { op: 'add', path: '/webhooks/1/clientConfig/caBundle', value: CA_BUNDLE },
    ]);
    t.same(results, [{ kind: 'MutatingWebhookConfiguration', name: 'pullguard', webhooks: 2, patched: true }]);
  });

  t.test(`gives up after ${PUBLISH_ATTEMPTS} conflicting attempts with the API error`, async (t) => {
    const fake = new FakeApi();
    fake.objects.set('mutating/pullguard', webhookConfiguration('pullguard', '1', [undefined]));
    fake.failures.set('patchMutatingWebhookConfiguration', Array.from({ length: PUBLISH_ATTEMPTS }, () => 409));
    await t.rejects(patchWebhookCaBundles(fake.source, { mutating: ['pullguard'], validating: [] }, CA_PEM), { code: 409 });
    t.equal(fake.methods().filter((method) => method === 'patchMutatingWebhookConfiguration').length, PUBLISH_ATTEMPTS);
  });

  t.test('fails at once on a configuration that does not exist, before touching the next one', async (t) => {
    const fake = new FakeApi();
    fake.objects.set('validating/pullguard', webhookConfiguration('pullguard', '1', [undefined]));
    await t.rejects(patchWebhookCaBundles(fake.source, { mutating: ['missing'], validating: ['pullguard'] }, CA_PEM), { code: 404 });
    t.same(fake.methods(), ['readMutatingWebhookConfiguration']);
  });

  t.test('does not retry a forbidden patch', async (t) => {
    const fake = new FakeApi();
    fake.objects.set('mutating/pullguard', webhookConfiguration('pullguard', '1', [undefined]));
    fake.failures.set('patchMutatingWebhookConfiguration', [403]);
    await t.rejects(patchWebhookCaBundles(fake.source, { mutating: ['pullguard'], validating: [] }, CA_PEM), { code: 403 });
    t.same(fake.methods(), ['readMutatingWebhookConfiguration', 'patchMutatingWebhookConfiguration']);
  });

  t.test('encodes the PEM text itself, not its DER', async (t) => {
    t.equal(Buffer.from(caBundleOf(CA_PEM), 'base64').toString('utf8'), CA_PEM);
  });
});

t.test('writeTlsSecret', async (t) => {
  const data = {
    'tls.crt': Buffer.from(BUNDLE.tlsCert).toString('base64'),
    'tls.key': Buffer.from(BUNDLE.tlsKey).toString('base64'),
    'ca.crt': CA_BUNDLE,
  };
  const ownership = {
    labels: { 'app.kubernetes.io/managed-by': 'Helm' },
    annotations: { 'meta.helm.sh/release-name': 'pullguard' },
    ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: 'certs', uid: 'u-1' }],
  };

  t.test('creates a kubernetes.io/tls Secret with tls.crt, tls.key and ca.crt when none exists', async (t) => {
    const fake = new FakeApi();
    t.equal(await writeTlsSecret(fake.source, 'pullguard', 'pullguard-tls', BUNDLE), 'created');
    t.same(fake.calls, [
      { method: 'readNamespacedSecret', param: { name: 'pullguard-tls', namespace: 'pullguard' } },
      {
        method: 'createNamespacedSecret',
        param: {
          namespace: 'pullguard',
          body: {
            apiVersion: 'v1',
            kind: 'Secret',
            metadata: { name: 'pullguard-tls', namespace: 'pullguard' },
            type: 'kubernetes.io/tls',
            data,
          },
        },
      },
    ]);
  });

  t.test('replaces the data of an existing TLS Secret, keeping its labels, annotations and owners', async (t) => {
    const fake = new FakeApi();
    fake.objects.set('secret/pullguard/pullguard-tls', {
      metadata: { name: 'pullguard-tls', namespace: 'pullguard', resourceVersion: '12', uid: 'x', ...ownership },
      type: 'kubernetes.io/tls',
      data: { 'tls.crt': 'b2xk', 'tls.key': 'b2xk', 'extra': 'b2xk' },
    });
    t.equal(await writeTlsSecret(fake.source, 'pullguard', 'pullguard-tls', BUNDLE), 'replaced');
    t.same(fake.calls[1], {
      method: 'replaceNamespacedSecret',
      param: {
        name: 'pullguard-tls',
        namespace: 'pullguard',
        body: {
          apiVersion: 'v1',
          kind: 'Secret',
          type: 'kubernetes.io/tls',
          data,
          metadata: { name: 'pullguard-tls', namespace: 'pullguard', ...ownership, resourceVersion: '12' },
        },
      },
    });
  });

  t.test('recreates a Secret of another type, because a Secret type cannot change', async (t) => {
    const fake = new FakeApi();
    fake.objects.set('secret/pullguard/pullguard-tls', {
      metadata: { name: 'pullguard-tls', namespace: 'pullguard', resourceVersion: '3', ...ownership },
      type: 'Opaque',
    });
    t.equal(await writeTlsSecret(fake.source, 'pullguard', 'pullguard-tls', BUNDLE), 'recreated');
    t.same(fake.calls.slice(1), [
      { method: 'deleteNamespacedSecret', param: { name: 'pullguard-tls', namespace: 'pullguard' } },
      {
        method: 'createNamespacedSecret',
        param: {
          namespace: 'pullguard',
          body: {
            apiVersion: 'v1',
            kind: 'Secret',
            metadata: { name: 'pullguard-tls', namespace: 'pullguard', ...ownership },
            type: 'kubernetes.io/tls',
            data,
          },
        },
      },
    ]);
  });

  t.test('reads again and replaces when someone created the Secret between our read and our create', async (t) => {
    const fake = new FakeApi();
    fake.failures.set('createNamespacedSecret', [409]);
    fake.beforeAnswer = (method) => {
      if (method === 'createNamespacedSecret') {
        fake.objects.set('secret/pullguard/pullguard-tls', {
          metadata: { name: 'pullguard-tls', namespace: 'pullguard', resourceVersion: '5' },
          type: 'kubernetes.io/tls',
        });
      }
    };
    t.equal(await writeTlsSecret(fake.source, 'pullguard', 'pullguard-tls', BUNDLE), 'replaced');
    t.same(fake.methods(), ['readNamespacedSecret', 'createNamespacedSecret', 'readNamespacedSecret', 'replaceNamespacedSecret']);
    t.match(fake.calls[3]?.param, { body: { metadata: { resourceVersion: '5' } } });
  });

  t.test('never puts the CA private key into the Secret', async (t) => {
    const fake = new FakeApi();
    await writeTlsSecret(fake.source, 'pullguard', 'pullguard-tls', { ...BUNDLE, caKey: 'CA PRIVATE KEY' } as typeof BUNDLE);
    const body = fake.calls[1]?.param['body'] as { data: Record<string, string> };
    t.same(Object.keys(body.data).sort(), ['ca.crt', 'tls.crt', 'tls.key']);
    t.notMatch(JSON.stringify(fake.calls), Buffer.from('CA PRIVATE KEY').toString('base64'));
  });

  t.test('passes on a read error other than not-found without writing', async (t) => {
    const fake = new FakeApi();
    fake.failures.set('readNamespacedSecret', [403]);
    await t.rejects(writeTlsSecret(fake.source, 'pullguard', 'pullguard-tls', BUNDLE), { code: 403 });
    t.same(fake.methods(), ['readNamespacedSecret']);
  });
});
