/** Builders of Kubernetes objects for tests. Credentials here are fake and never leave the test. */

export function b64(text: string): string {
  return Buffer.from(text).toString('base64');
}

export interface AuthEntry {
  readonly username?: string;
  readonly password?: string;
  readonly auth?: string;
  readonly identitytoken?: string;
}

export function dockerConfigJsonSecret(namespace: string, name: string, auths: Record<string, AuthEntry | null>): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace },
    type: 'kubernetes.io/dockerconfigjson',
    data: { '.dockerconfigjson': b64(JSON.stringify({ auths })) },
  };
}

export function secretOfType(namespace: string, name: string, type: string, data: Record<string, string>): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace }, type, data };
}

/** A pull secret with one good `auth` entry per key. */
export function pullSecret(namespace: string, name: string, ...keys: string[]): Record<string, unknown> {
  return dockerConfigJsonSecret(namespace, name, Object.fromEntries(keys.map((key) => [key, { auth: b64('user:not-a-real-password') }])));
}

/** An ECR-style secret whose token envelope expires at `expiresAtSeconds`. */
export function ecrSecret(namespace: string, name: string, host: string, expiresAtSeconds: number): Record<string, unknown> {
  const envelope = b64(JSON.stringify({ payload: 'p', datakey: 'd', version: '2', type: 'DATA_KEY', expiration: expiresAtSeconds }));
  return dockerConfigJsonSecret(namespace, name, { [host]: { username: 'AWS', password: envelope } });
}

export function serviceAccount(namespace: string, name: string, ...pullSecrets: string[]): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name, namespace },
    ...(pullSecrets.length > 0 ? { imagePullSecrets: pullSecrets.map((secret) => ({ name: secret })) } : {}),
  };
}

export function namespaceObject(name: string, labels: Record<string, string> = {}): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } };
}

export interface ContainerSpec {
  readonly name: string;
  readonly image: string;
  readonly imagePullPolicy?: string;
}

export interface PodOptions {
  readonly namespace?: string;
  readonly name?: string;
  readonly containers?: readonly ContainerSpec[];
  readonly initContainers?: readonly ContainerSpec[];
  readonly ephemeralContainers?: readonly ContainerSpec[];
  readonly imagePullSecrets?: readonly string[];
  readonly serviceAccountName?: string;
  readonly annotations?: Record<string, string>;
}

export function podSpec(options: PodOptions): Record<string, unknown> {
  return {
    ...(options.serviceAccountName !== undefined ? { serviceAccountName: options.serviceAccountName } : {}),
    ...(options.imagePullSecrets !== undefined ? { imagePullSecrets: options.imagePullSecrets.map((name) => ({ name })) } : {}),
    ...(options.initContainers !== undefined ? { initContainers: options.initContainers } : {}),
    containers: options.containers ?? [{ name: 'app', image: 'nginx:1.27' }],
    ...(options.ephemeralContainers !== undefined ? { ephemeralContainers: options.ephemeralContainers } : {}),
  };
}

export function pod(options: PodOptions = {}): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: options.name ?? 'demo', namespace: options.namespace ?? 'team', ...(options.annotations ? { annotations: options.annotations } : {}) },
    spec: podSpec(options),
  };
}

export function deployment(options: PodOptions = {}): Record<string, unknown> {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: options.name ?? 'demo', namespace: options.namespace ?? 'team' },
    spec: { selector: { matchLabels: { app: 'demo' } }, template: { metadata: { labels: { app: 'demo' } }, spec: podSpec(options) } },
  };
}

export function admissionReview(object: Record<string, unknown>, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const kind = String(object['kind']);
  const metadata = object['metadata'] as { name?: string; namespace?: string };
  const resources: Record<string, [string, string]> = {
    Pod: ['', 'pods'], Deployment: ['apps', 'deployments'], ReplicaSet: ['apps', 'replicasets'], StatefulSet: ['apps', 'statefulsets'],
    DaemonSet: ['apps', 'daemonsets'], Job: ['batch', 'jobs'], CronJob: ['batch', 'cronjobs'], ReplicationController: ['', 'replicationcontrollers'], PodTemplate: ['', 'podtemplates'],
  };
  const [group, resource] = resources[kind] ?? ['', kind.toLowerCase() + 's'];
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'uid-1234',
      kind: { group, version: 'v1', kind },
      resource: { group, version: 'v1', resource },
      name: metadata.name ?? '',
      namespace: metadata.namespace ?? 'team',
      operation: 'CREATE',
      userInfo: { username: 'tester' },
      object,
      oldObject: null,
      dryRun: false,
      ...overrides,
    },
  };
}
