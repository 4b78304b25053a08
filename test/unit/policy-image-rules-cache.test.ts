import t from 'tap';
import { parsePolicyObject } from '../../src/policy/load.ts';
import { IMAGE_RULES_MEMO_MAX_CHARS, PolicyResolver } from '../../src/policy/resolve.ts';

function resolver(policy: Record<string, unknown>): PolicyResolver {
  const result = parsePolicyObject(policy);
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return new PolicyResolver(result.policy);
}

// One resolver answers many namespaces: rule matches are remembered per image for all of them,
// but what a namespace falls back to (defaultAccess) stays its own.
const POLICY = {
  defaultAccess: 'secret',
  registries: [
    { hosts: ['harbor.example.com'], access: 'secret', preferredSecrets: ['harbor-pull'] },
    { hosts: ['*.dkr.ecr.eu-west-1.amazonaws.com'], access: 'node' },
  ],
  exemptImages: ['registry.example.com/infra'],
  namespaces: { overrides: [{ names: ['open'], defaultAccess: 'public' }] },
};

const cases: Record<string, { namespace: string; image: string; access: string; pattern: string | undefined; builtin: boolean; preferred: readonly string[]; exempt: boolean }> = {
  'a rule of the policy, with its preferred secrets': {
    namespace: 'team', image: 'harbor.example.com/team/api', access: 'secret', pattern: 'harbor.example.com', builtin: false, preferred: ['harbor-pull'], exempt: false,
  },
  'a glob rule of the policy': {
    namespace: 'team', image: '123.dkr.ecr.eu-west-1.amazonaws.com/app', access: 'node', pattern: '*.dkr.ecr.eu-west-1.amazonaws.com', builtin: false, preferred: [], exempt: false,
  },
  'the built-in list, marked as built in': {
    namespace: 'team', image: 'docker.io/library/nginx', access: 'public', pattern: 'docker.io/library', builtin: true, preferred: [], exempt: false,
  },
  'defaultAccess of the namespace for an unmatched image': {
    namespace: 'team', image: 'unknown.example.org/app', access: 'secret', pattern: undefined, builtin: false, preferred: [], exempt: false,
  },
  'the override defaultAccess of another namespace for the same unmatched image': {
    namespace: 'open', image: 'unknown.example.org/app', access: 'public', pattern: undefined, builtin: false, preferred: [], exempt: false,
  },
  'an exempt image': {
    namespace: 'team', image: 'registry.example.com/infra/agent', access: 'secret', pattern: undefined, builtin: false, preferred: [], exempt: true,
  },
  [`an image name longer than ${IMAGE_RULES_MEMO_MAX_CHARS} characters (never remembered)`]: {
    namespace: 'team', image: `harbor.example.com/${'a/'.repeat(IMAGE_RULES_MEMO_MAX_CHARS)}app`, access: 'secret', pattern: 'harbor.example.com', builtin: false, preferred: ['harbor-pull'], exempt: false,
  },
};

// Both orders: whichever namespace asks first must not decide what the other one gets.
for (const order of ['in order', 'in reverse order'] as const) {
  t.test(`answers every image for its namespace, asked twice, ${order}`, async (t) => {
    const policy = resolver(POLICY);
    const entries = Object.entries(cases);
    if (order === 'in reverse order') entries.reverse();
    for (const round of [1, 2]) {
      for (const [name, c] of entries) {
        const effective = policy.forNamespace(c.namespace, undefined);
        const access = effective.accessFor(c.image);
        t.same(
          { access: access.access, pattern: access.matchedPattern, builtin: access.builtin, preferred: access.preferredSecrets, exempt: effective.isExempt(c.image) },
          { access: c.access, pattern: c.pattern, builtin: c.builtin, preferred: c.preferred, exempt: c.exempt },
          `${name} (round ${round})`,
        );
        t.equal(effective.accessUnlessExempt(c.image), c.exempt ? undefined : access, `${name}: accessUnlessExempt (round ${round})`);
      }
    }
  });
}

t.test('two resolvers over different policies do not share remembered matches', async (t) => {
  const strict = resolver({ registries: [{ hosts: ['docker.io'], access: 'secret' }] });
  const loose = resolver({});
  t.equal(strict.forNamespace('a', undefined).accessFor('docker.io/library/nginx').access, 'secret');
  t.equal(loose.forNamespace('a', undefined).accessFor('docker.io/library/nginx').access, 'public');
});
