import t from 'tap';
import { DEFAULT_POLICY } from '../../src/policy/default-policy.ts';
import { loadPolicyText, parsePolicyObject, POLICY_MAX_ALIAS_COUNT } from '../../src/policy/load.ts';
import { PolicyResolver } from '../../src/policy/resolve.ts';

t.test('the written-out default policy is exactly what the schema makes of an empty policy', async (t) => {
  const parsed = parsePolicyObject({});
  t.ok(parsed.ok);
  if (parsed.ok) t.strictSame(DEFAULT_POLICY, parsed.policy);
});

t.test('the built-in default policy has documented, cluster-safe defaults', async (t) => {
  t.match(DEFAULT_POLICY, {
    mode: 'enforce',
    defaultAccess: 'secret',
    registries: [],
    builtinRegistries: true,
    injection: { enabled: true, preferredSecrets: [], templates: false },
    latestWithIfNotPresent: 'warn',
    expiredCredentials: 'deny',
    shortLivedCredentials: 'warn',
    dockerHubAnonymous: 'info',
    exemptImages: [],
    namespaces: { exclude: ['kube-system'], modeLabel: 'pullguard.io/mode', overrides: [] },
  });
  t.ok(Object.isFrozen(DEFAULT_POLICY.namespaces.exclude), 'deeply frozen');
});

t.test('the contract example from the issue parses as written', async (t) => {
  const result = loadPolicyText(`mode: enforce
defaultAccess: secret
registries:
  - hosts: ["*.dkr.ecr.*.amazonaws.com"]
    access: node
  - hosts: ["registry.k8s.io"]
    access: public
injection:
  enabled: true
latestWithIfNotPresent: warn
namespaces:
  exclude: [kube-system]
`);
  t.equal(result.ok, true);
  if (result.ok) t.equal(result.policy.registries[0]?.access, 'node');
});

const invalid: Record<string, { text: string; errors: Array<[string, RegExp]> }> = {
  'reports every error with its path at once': {
    text: 'mode: strict\nregistries:\n  - hosts: []\n    access: private\nlatestWithIfNotPresent: maybe\n',
    errors: [['mode', /enforce/], ['registries[0].hosts', /at least one host/], ['registries[0].access', /secret/], ['latestWithIfNotPresent', /ignore/]],
  },
  'rejects unknown fields, catching typos': { text: 'injecton:\n  enabled: false\n', errors: [['(root)', /injecton/]] },
  'rejects unknown nested fields': { text: 'injection:\n  enable: false\n', errors: [['injection', /enable/]] },
  'rejects an override that selects nothing': { text: 'namespaces:\n  overrides:\n    - mode: warn\n', errors: [['namespaces.overrides[0]', /names.*matchLabels/]] },
  'rejects a host pattern that carries a tag, since image names have none': {
    text: 'registries:\n  - hosts: ["quay.io/team/app:1.0"]\n    access: public\n',
    errors: [['registries[0].hosts[0]', /never matches: .*tag or digest/]],
  },
  'rejects a host pattern whose port is not a number (the kubelet cannot parse it)': {
    text: 'registries:\n  - hosts: ["registry.example.com:https"]\n    access: public\n',
    errors: [['registries[0].hosts[0]', /never matches: the kubelet cannot parse it as a URL/]],
  },
  'rejects an upper-case scheme the kubelet would not strip': {
    text: 'registries:\n  - hosts: ["HTTPS://registry.example.com"]\n    access: public\n',
    errors: [['registries[0].hosts[0]', /scheme HTTPS:\/\/ is not stripped/]],
  },
  'rejects an exempt image pattern with an upper-case repository path': {
    text: 'exemptImages: ["registry.example.com/Team/app"]\n',
    errors: [['exemptImages[0]', /lower-case/]],
  },
  'rejects host patterns with spaces': { text: 'registries:\n  - hosts: ["my registry"]\n    access: public\n', errors: [['registries[0].hosts[0]', /kubelet key pattern/]] },
  'rejects YAML syntax errors with a line': { text: 'mode: [enforce\n', errors: [['(yaml)', /line/]] },
  'rejects a policy that is a list': { text: '- mode: enforce\n', errors: [['(root)', /mapping/]] },
  'rejects duplicate keys': { text: 'mode: enforce\nmode: warn\n', errors: [['(yaml)', /unique|duplicate/i]] },
  'rejects more alias expansions than the limit with a policy error, not a crash': {
    text: `registries:\n  - hosts: &hosts ["a.example.com"]\n    access: public\n${'  - hosts: *hosts\n    access: node\n'.repeat(POLICY_MAX_ALIAS_COUNT + 1)}`,
    errors: [['(yaml)', /too many YAML alias expansions \(more than 100/]],
  },
  'rejects a "billion laughs" of nested aliases with a policy error': {
    text: `a: &a ["x","x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n`,
    errors: [['(yaml)', /too many YAML alias expansions/]],
  },
};
for (const [name, c] of Object.entries(invalid)) {
  t.test(name, async (t) => {
    const result = loadPolicyText(c.text);
    t.equal(result.ok, false);
    if (result.ok) return;
    for (const [path, message] of c.errors) {
      t.ok(result.errors.some((error) => error.path === path && message.test(error.message)), `error at ${path} matching ${message}: ${JSON.stringify(result.errors)}`);
    }
  });
}

t.test('a policy using one anchor 90 times loads', async (t) => {
  const text = `registries:\n  - hosts: &hosts ["a.example.com"]\n    access: public\n${'  - hosts: *hosts\n    access: node\n'.repeat(90)}`;
  const result = loadPolicyText(text);
  t.equal(result.ok, true);
  if (result.ok) t.equal(result.policy.registries.length, 91);
});

t.test('an empty document means the defaults', async (t) => {
  const result = loadPolicyText('');
  t.equal(result.ok, true);
  if (result.ok) t.same(result.policy, DEFAULT_POLICY);
});

function resolver(policy: Record<string, unknown>): PolicyResolver {
  const result = parsePolicyObject(policy);
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return new PolicyResolver(result.policy);
}

const access: Record<string, { policy: Record<string, unknown>; image: string; access: string; pattern: string | undefined }> = {
  'well-known public registries are public by default': { policy: {}, image: 'registry.k8s.io/pause', access: 'public', pattern: 'registry.k8s.io' },
  'Docker Hub library images are public by default': { policy: {}, image: 'docker.io/library/nginx', access: 'public', pattern: 'docker.io/library' },
  'unknown registries fall back to defaultAccess': { policy: {}, image: 'registry.example.com/a', access: 'secret', pattern: undefined },
  'rules use kubelet globs: * matches one label only': {
    policy: { registries: [{ hosts: ['*.example.com'], access: 'node' }] },
    image: 'a.b.example.com/app',
    access: 'secret',
    pattern: undefined,
  },
  'the first matching rule wins, before the built-in list': {
    policy: { registries: [{ hosts: ['docker.io/acme'], access: 'secret' }] },
    image: 'docker.io/acme/app',
    access: 'secret',
    pattern: 'docker.io/acme',
  },
  'turning off builtinRegistries makes Docker Hub fall to defaultAccess': {
    policy: { builtinRegistries: false },
    image: 'docker.io/library/nginx',
    access: 'secret',
    pattern: undefined,
  },
  'a lookalike host does not match a rule by prefix': { policy: {}, image: 'registry.k8s.io.evil.com/pause', access: 'secret', pattern: undefined },
};
for (const [name, c] of Object.entries(access)) {
  t.test(name, async (t) => {
    const result = resolver(c.policy).forNamespace('team', undefined).accessFor(c.image);
    t.equal(result.access, c.access);
    t.equal(result.matchedPattern, c.pattern);
  });
}

const modes: Record<string, { policy: Record<string, unknown>; namespace: string; labels: Record<string, string>; mode: string; source: RegExp }> = {
  'excluded namespaces are off': { policy: {}, namespace: 'kube-system', labels: {}, mode: 'off', source: /exclude/ },
  'the mode label overrides the policy mode': { policy: {}, namespace: 'a', labels: { 'pullguard.io/mode': 'dry-run' }, mode: 'dry-run', source: /label/ },
  'an unknown mode label value is ignored': { policy: {}, namespace: 'a', labels: { 'pullguard.io/mode': 'yes' }, mode: 'enforce', source: /policy/ },
  'an override by name sets the mode': { policy: { namespaces: { overrides: [{ names: ['a'], mode: 'warn' }] } }, namespace: 'a', labels: {}, mode: 'warn', source: /overrides\[0\]/ },
  'the label wins over an override (the namespace owner opts in or out last)': {
    policy: { namespaces: { overrides: [{ names: ['a'], mode: 'warn' }] } },
    namespace: 'a',
    labels: { 'pullguard.io/mode': 'enforce' },
    mode: 'enforce',
    source: /label/,
  },
  'a custom mode label is honoured': { policy: { namespaces: { modeLabel: 'example.com/pull-policy' } }, namespace: 'a', labels: { 'example.com/pull-policy': 'off' }, mode: 'off', source: /label/ },
};
for (const [name, c] of Object.entries(modes)) {
  t.test(name, async (t) => {
    const effective = resolver(c.policy).forNamespace(c.namespace, { name: c.namespace, labels: c.labels });
    t.equal(effective.mode, c.mode);
    t.match(effective.modeSource, c.source);
  });
}
