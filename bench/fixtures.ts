/**
 * Benchmark fixtures shared by bench/core.ts and bench/http.ts: a cluster of 10,000 namespaces,
 * a policy with a few registry rules, and the realistic pod the benchmarks decide over and over.
 *
 * The pod (3 containers) at pod admission, where its imagePullSecrets list is already final:
 * - `app` pulls from the team's private Harbor, covered by a secret the pod lists itself;
 * - `proxy` is a public Docker Hub image (anonymous pull: an info finding, still allowed);
 * - `agent` pulls from the platform registry, covered by the secret the ServiceAccount carries.
 * Two variants of the list: the pod lists both secrets itself (it must re-list the SA's secret,
 * because the SA's list is copied only into pods that list none), or the pod listed none and the
 * ServiceAccount admission plugin copied the SA's list in before the webhooks run.
 */
import { snapshotFromObjects } from '../src/snapshot/from-objects.ts';
import type { MemorySnapshot } from '../src/snapshot/memory.ts';
import { parsePolicyObject } from '../src/policy/load.ts';
import { PolicyResolver } from '../src/policy/resolve.ts';
import {
  admissionReview, b64, namespaceObject, pod, pullSecret, secretOfType, serviceAccount, type ContainerSpec,
} from '../test/helpers/objects.ts';

/** The snapshot size the goals are stated for. */
export const NAMESPACE_COUNT = 10_000;
/** Distinct reviews the benchmarks rotate through (different namespaces and repositories), so no single-entry cache flatters the numbers. */
export const REVIEW_POOL_SIZE = 1024;
/** Fixed clock: nothing in the fixtures expires, but decisions should not depend on when the bench runs. */
export const BENCH_NOW = Date.parse('2026-06-01T12:00:00Z');

export const APP_REGISTRY = 'harbor.corp.example.com';
export const PLATFORM_REGISTRY = 'registry.platform.example.net';

/** The default policy plus the rules a platform team typically adds. */
export const BENCH_POLICY_OBJECT = {
  registries: [
    { hosts: [APP_REGISTRY, `${APP_REGISTRY}:8443`], access: 'secret', preferredSecrets: ['harbor-pull'] },
    { hosts: ['*.dkr.ecr.eu-west-1.amazonaws.com'], access: 'node' },
    { hosts: ['docker.io/acme'], access: 'secret', preferredSecrets: ['dockerhub-pull'] },
  ],
} as const;

export function namespaceName(index: number): string {
  return `team-${String(index).padStart(5, '0')}`;
}

function dockerCfgSecret(namespace: string, name: string, keys: readonly string[]): Record<string, unknown> {
  const flat = Object.fromEntries(keys.map((key) => [key, { auth: b64('user:not-a-real-password'), email: 'ci@example.com' }]));
  return secretOfType(namespace, name, 'kubernetes.io/dockercfg', { '.dockercfg': b64(JSON.stringify(flat)) });
}

/** One namespace: 5 pull secrets of 3 keys each (one legacy dockercfg), 2 other secrets, 3 ServiceAccounts. */
export function namespaceObjects(index: number): Record<string, unknown>[] {
  const ns = namespaceName(index);
  const labels: Record<string, string> = { team: `team-${index % 400}`, 'kubernetes.io/metadata.name': ns };
  // A few namespaces run in warn mode, as during a roll-out.
  if (index % 50 === 7) labels['pullguard.io/mode'] = 'warn';
  return [
    namespaceObject(ns, labels),
    pullSecret(ns, 'harbor-pull', APP_REGISTRY, `${APP_REGISTRY}:8443`, 'https://harbor-dr.corp.example.com/v2/'),
    pullSecret(ns, 'platform-pull', PLATFORM_REGISTRY, 'mirror.platform.example.net', '*.cache.platform.example.net'),
    pullSecret(ns, 'dockerhub-pull', 'https://index.docker.io/v1/', 'docker.io/acme', 'registry-1.docker.io'),
    pullSecret(ns, 'quay-pull', 'quay.io/corp', 'quay.io/corp-internal', 'ghcr.io/corp'),
    dockerCfgSecret(ns, 'legacy-cfg', ['legacy.corp.example.com', 'legacy.corp.example.com:5000', 'old-registry.corp.example.com']),
    secretOfType(ns, 'app-config', 'Opaque', { 'config.yaml': b64('feature: on\n') }),
    secretOfType(ns, 'app-tls', 'kubernetes.io/tls', { 'tls.crt': b64('not a cert'), 'tls.key': b64('not a key') }),
    serviceAccount(ns, 'default'),
    serviceAccount(ns, 'payments-api', 'harbor-pull', 'platform-pull'),
    serviceAccount(ns, 'payments-worker', 'platform-pull'),
  ];
}

export function* clusterObjects(count: number = NAMESPACE_COUNT): Generator<Record<string, unknown>> {
  for (let index = 0; index < count; index++) yield* namespaceObjects(index);
}

export interface BenchState {
  readonly snapshot: MemorySnapshot;
  readonly policy: PolicyResolver;
  /** Milliseconds spent building the snapshot (projection of every secret). */
  readonly buildMs: number;
}

/** The bench policy; `excluded` namespaces are not checked (the diagnostic "no decision" target). */
export function benchPolicy(excluded: readonly string[] = []): PolicyResolver {
  const loaded = parsePolicyObject(excluded.length === 0 ? BENCH_POLICY_OBJECT : { ...BENCH_POLICY_OBJECT, namespaces: { exclude: ['kube-system', ...excluded] } });
  if (!loaded.ok) throw new Error(`bench policy is invalid: ${JSON.stringify(loaded.errors)}`);
  return new PolicyResolver(loaded.policy);
}

export function benchState(count: number = NAMESPACE_COUNT): BenchState {
  const started = performance.now();
  const snapshot = snapshotFromObjects(clusterObjects(count));
  return { snapshot, policy: benchPolicy(), buildMs: performance.now() - started };
}

/** How the pod's imagePullSecrets list came to be (see the module comment). */
export type PodVariant = 'pod-lists-secrets' | 'copied-from-sa' | 'needs-injection';

function containers(index: number): ContainerSpec[] {
  return [
    { name: 'app', image: `${APP_REGISTRY}/team-${index % 1000}/api:2.${index % 30}.1`, imagePullPolicy: 'IfNotPresent' },
    { name: 'proxy', image: 'nginx:1.27.3', imagePullPolicy: 'IfNotPresent' },
    { name: 'agent', image: `${PLATFORM_REGISTRY}/observability/agent:3.2.0`, imagePullPolicy: 'IfNotPresent' },
  ];
}

/** The pod as the API server hands it to the webhooks (after the ServiceAccount plugin and defaulting). */
export function benchPod(index: number, variant: PodVariant): Record<string, unknown> {
  const ns = namespaceName(index % NAMESPACE_COUNT);
  const base = { namespace: ns, name: `api-7d9f8b6c5-${index.toString(36).padStart(5, 'x')}`, containers: containers(index) };
  const object =
    variant === 'pod-lists-secrets'
      ? pod({ ...base, serviceAccountName: 'payments-worker', imagePullSecrets: ['harbor-pull', 'platform-pull'] })
      : variant === 'copied-from-sa'
        ? pod({ ...base, serviceAccountName: 'payments-api', imagePullSecrets: ['harbor-pull', 'platform-pull'] })
        : pod({ ...base, serviceAccountName: 'payments-worker', imagePullSecrets: ['platform-pull'] });
  return withRealisticPodFields(object);
}

/** Fields a real pod carries at admission; the webhook ignores them but must parse them. */
function withRealisticPodFields(object: Record<string, unknown>): Record<string, unknown> {
  const metadata = object['metadata'] as Record<string, unknown>;
  const spec = object['spec'] as Record<string, unknown>;
  const containerList = spec['containers'] as Record<string, unknown>[];
  return {
    ...object,
    metadata: {
      ...metadata,
      generateName: 'api-7d9f8b6c5-',
      labels: { app: 'payments-api', 'pod-template-hash': '7d9f8b6c5', 'app.kubernetes.io/part-of': 'payments' },
      annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-05-30T08:00:00Z', 'prometheus.io/scrape': 'true' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'api-7d9f8b6c5', uid: '5f0c7a52-2d5e-4a8e-9d1b-0c2a7b3e4f10', controller: true, blockOwnerDeletion: true }],
    },
    spec: {
      ...spec,
      containers: containerList.map((container) => ({
        ...container,
        ports: [{ containerPort: 8080, protocol: 'TCP' }],
        env: [
          { name: 'LOG_LEVEL', value: 'info' },
          { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
        ],
        resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
        volumeMounts: [{ name: 'kube-api-access-x7k2p', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true }],
        terminationMessagePath: '/dev/termination-log',
        terminationMessagePolicy: 'File',
      })),
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      schedulerName: 'default-scheduler',
      securityContext: { runAsNonRoot: true },
      enableServiceLinks: true,
      preemptionPolicy: 'PreemptLowerPriority',
      priority: 0,
      tolerations: [
        { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
        { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      ],
      volumes: [{ name: 'kube-api-access-x7k2p', projected: { defaultMode: 420, sources: [{ serviceAccountToken: { expirationSeconds: 3607, path: 'token' } }] } }],
    },
    status: { phase: 'Pending', qosClass: 'Burstable' },
  };
}

/** A full AdmissionReview v1 for the pod, as the API server sends it (CREATE, with userInfo). */
export function benchReview(index: number, variant: PodVariant): Record<string, unknown> {
  const object = benchPod(index, variant);
  const metadata = object['metadata'] as { namespace: string };
  return admissionReview(object, {
    uid: `b3c1a0de-0000-4000-8000-${String(index).padStart(12, '0')}`,
    name: '',
    namespace: metadata.namespace,
    requestKind: { group: '', version: 'v1', kind: 'Pod' },
    requestResource: { group: '', version: 'v1', resource: 'pods' },
    userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller', uid: 'c0ffee00-1111-4222-8333-444455556666', groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'] },
    options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
  });
}

/** Indexes spread over every namespace of the snapshot. */
export function poolIndexes(size: number = REVIEW_POOL_SIZE): number[] {
  return Array.from({ length: size }, (_, i) => Math.floor((i * NAMESPACE_COUNT) / size) + (i % 7));
}

/** Reviews bench/http.ts sends: distinct namespaces and repositories. */
export const HTTP_BODY_POOL_SIZE = 32;

/** The namespaces of bench/http.ts's reviews. */
export function benchNamespaces(): string[] {
  return [...new Set(poolIndexes(HTTP_BODY_POOL_SIZE).map((index) => namespaceName(index % NAMESPACE_COUNT)))];
}
