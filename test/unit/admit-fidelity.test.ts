/**
 * Issue 13 at the admission seam: what the webhook answers (mutate and validate) for the
 * behaviours the decision layer refined. Each case failed before its fix.
 */
import t from 'tap';
import { admit, type Phase } from '../../src/admission/admit.ts';
import { decodeAdmissionReview } from '../../src/admission/review.ts';
import { parsePolicyObject } from '../../src/policy/load.ts';
import { PolicyResolver } from '../../src/policy/resolve.ts';
import { MemorySnapshot } from '../../src/snapshot/memory.ts';
import { snapshotFromObjects } from '../../src/snapshot/from-objects.ts';
import { admissionReview, deployment, namespaceObject, pod, pullSecret, serviceAccount } from '../helpers/objects.ts';

const NOW = Date.parse('2026-06-01T12:00:00Z');
const PRIVATE = 'registry.example.com/team/app:1';

interface Case {
  readonly state: readonly Record<string, unknown>[];
  readonly review: Record<string, unknown>;
  readonly phase: Phase;
  readonly policy?: Record<string, unknown>;
  /** The snapshot holds every ServiceAccount, as the live webhook's does. */
  readonly live?: boolean;
  readonly allowed: boolean;
  readonly patched?: boolean;
  readonly action?: string;
  /** Fragments of the status message, the warnings and the audit annotations. */
  readonly says?: readonly string[];
  readonly neverSays?: readonly string[];
}

function answer(c: Case): ReturnType<typeof admit> {
  const loaded = parsePolicyObject(c.policy ?? {});
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
  const offline = snapshotFromObjects(c.state);
  const snapshot = c.live === true ? MemorySnapshot.fromMaps(offline.namespaceViews(), offline.namespaceStates(), false, true) : offline;
  return admit(decodeAdmissionReview(c.review), c.phase, { snapshot, policy: new PolicyResolver(loaded.policy), now: NOW });
}

function enforcing(account: Record<string, unknown>): Record<string, unknown> {
  (account['metadata'] as Record<string, unknown>)['annotations'] = { 'kubernetes.io/enforce-mountable-secrets': 'true' };
  return account;
}

function withVolumes(object: Record<string, unknown>, volumes: readonly Record<string, unknown>[]): Record<string, unknown> {
  const spec = object['kind'] === 'Pod' ? (object['spec'] as Record<string, unknown>) : ((object['spec'] as { template: { spec: Record<string, unknown> } }).template.spec);
  spec['volumes'] = volumes;
  return object;
}

const cases: Record<string, Case> = {
  // 4
  'in warn mode does not inject a secret the enforcing ServiceAccount does not list (the API server would reject the pod)': {
    state: [enforcing(serviceAccount('team', 'default')), pullSecret('team', 'regcred', 'registry.example.com'), namespaceObject('team', { 'pullguard.io/mode': 'warn' })],
    review: admissionReview(pod({ containers: [{ name: 'app', image: PRIVATE }] })),
    phase: 'mutate',
    allowed: true,
    patched: false,
  },
  // 5
  'checks a Deployment UPDATE that only switches a latest image to IfNotPresent': {
    state: [],
    review: admissionReview(deployment({ containers: [{ name: 'web', image: 'nginx:latest', imagePullPolicy: 'IfNotPresent' }] }), {
      operation: 'UPDATE',
      oldObject: deployment({ containers: [{ name: 'web', image: 'nginx:latest', imagePullPolicy: 'Always' }] }),
    }),
    phase: 'validate',
    policy: { latestWithIfNotPresent: 'deny' },
    allowed: false,
    says: ['LatestWithIfNotPresent'],
  },
  'still skips an UPDATE that changes neither image nor pull policy': {
    state: [],
    review: admissionReview(deployment({ containers: [{ name: 'web', image: 'nginx:latest', imagePullPolicy: 'IfNotPresent' }] }), {
      operation: 'UPDATE',
      oldObject: deployment({ containers: [{ name: 'web', image: 'nginx:latest', imagePullPolicy: 'IfNotPresent' }] }),
    }),
    phase: 'validate',
    policy: { latestWithIfNotPresent: 'deny' },
    allowed: true,
    action: 'skip',
  },
  // 8
  'injects a pull secret for an image volume of a pod': {
    state: [pullSecret('team', 'regcred', 'registry.example.com')],
    review: admissionReview(withVolumes(pod({ containers: [{ name: 'web', image: 'nginx:1.27' }] }), [{ name: 'models', image: { reference: 'registry.example.com/ml/models:3', pullPolicy: 'IfNotPresent' } }])),
    phase: 'mutate',
    allowed: true,
    patched: true,
    says: ['models: injected imagePullSecrets regcred'],
  },
  'denies a Deployment whose image volume no secret covers, at spec.template.spec.volumes[0].image': {
    state: [],
    review: admissionReview(withVolumes(deployment({ containers: [{ name: 'web', image: 'nginx:1.27' }] }), [{ name: 'models', image: { reference: 'private.example.net/ml/models:3' } }])),
    phase: 'validate',
    allowed: false,
    says: ['spec.template.spec.volumes[0].image: models: no pull secret has a key for private.example.net'],
  },
  // 10
  'warns on a template whose ServiceAccount does not exist in the live cluster, with the fix': {
    state: [serviceAccount('team', 'default')],
    review: admissionReview(deployment({ serviceAccountName: 'buidler', containers: [{ name: 'web', image: 'nginx:1.27' }] })),
    phase: 'validate',
    live: true,
    allowed: true,
    action: 'warn',
    says: ['ServiceAccount buidler does not exist'],
  },
  // 12
  'on pod UPDATE asks to recreate the pod with its whole new list, existing entries kept': {
    state: [pullSecret('team', 'quay', 'quay.io'), pullSecret('team', 'regcred', 'registry.example.com')],
    review: admissionReview(pod({ imagePullSecrets: ['quay'], containers: [{ name: 'app', image: PRIVATE }] }), {
      operation: 'UPDATE',
      oldObject: pod({ imagePullSecrets: ['quay'], containers: [{ name: 'app', image: 'quay.io/acme/app:1' }] }),
    }),
    phase: 'validate',
    allowed: false,
    says: ['recreate the pod with imagePullSecrets: [quay, regcred]', 'ServiceAccount default'],
    neverSays: ['list it in imagePullSecrets', 'add imagePullSecrets'],
  },
  'on pod UPDATE never suggests listing a new secret when no namespace secret covers the image': {
    state: [pullSecret('team', 'quay', 'quay.io')],
    review: admissionReview(pod({ imagePullSecrets: ['quay'], containers: [{ name: 'app', image: 'private.example.net/a/b:1' }] }), {
      operation: 'UPDATE',
      oldObject: pod({ imagePullSecrets: ['quay'], containers: [{ name: 'app', image: 'quay.io/acme/app:1' }] }),
    }),
    phase: 'validate',
    allowed: false,
    says: ['cannot change after creation', 'imagePullSecrets: [quay, NEW-SECRET]'],
    neverSays: ['list it in imagePullSecrets'],
  },
  'on an ephemeral container UPDATE never suggests listing the shadowed ServiceAccount secret': {
    state: [pullSecret('team', 'quay', 'quay.io'), pullSecret('team', 'sa-cred', 'registry.example.com'), serviceAccount('team', 'default', 'sa-cred')],
    review: admissionReview(pod({ imagePullSecrets: ['quay'], containers: [{ name: 'web', image: 'quay.io/acme/web:1' }], ephemeralContainers: [{ name: 'debug', image: PRIVATE }] }), {
      subResource: 'ephemeralcontainers',
      operation: 'UPDATE',
      oldObject: pod({ imagePullSecrets: ['quay'], containers: [{ name: 'web', image: 'quay.io/acme/web:1' }] }),
    }),
    phase: 'validate',
    policy: { injection: { enabled: false } },
    allowed: false,
    says: ['was not copied; a pod\'s imagePullSecrets cannot change after creation, and an ephemeral container pulls with them: debug with an image they cover'],
    neverSays: ['list it too', 'recreate the pod', 'kubectl debug --copy-to'],
  },
  // 14
  'says mirror pods are admitted but not mutated': {
    state: [],
    review: admissionReview(pod({ annotations: { 'kubernetes.io/config.mirror': 'abc' }, containers: [{ name: 'app', image: PRIVATE }] }), {
      userInfo: { username: 'system:node:worker-1' },
    }),
    phase: 'validate',
    allowed: true,
    action: 'skip',
    says: ['admitted', 'not mutated'],
    neverSays: ['never admitted'],
  },
};

for (const [name, c] of Object.entries(cases)) {
  t.test(name, async (t) => {
    const outcome = answer(c);
    const response = outcome.response;
    t.equal(response.allowed, c.allowed, 'allowed');
    if (c.patched !== undefined) t.equal(response.patch !== undefined, c.patched, 'patched');
    if (c.action !== undefined) t.equal(outcome.action, c.action, 'action');
    const text = [outcome.reason, response.status?.message ?? '', ...(response.warnings ?? []), ...Object.values(response.auditAnnotations ?? {})].join('\n');
    for (const fragment of c.says ?? []) t.match(text, fragment, `says "${fragment}"`);
    for (const fragment of c.neverSays ?? []) t.notMatch(text, fragment, `never says "${fragment}"`);
  });
}
