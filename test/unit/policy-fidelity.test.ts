/** Issue 13, policy layer: dead index.docker.io patterns and whole-component path matching. */
import t from 'tap';
import { loadPolicyText } from '../../src/policy/load.ts';
import { policyPatternMatches } from '../../src/policy/pattern-match.ts';
import { parseKeyringKey } from '../../src/credentials/keyring.ts';

const rejected: Record<string, { text: string; path: string; message: RegExp }> = {
  'rejects index.docker.io with a path in registries[].hosts, with the docker.io fix': {
    text: 'registries:\n  - hosts: ["index.docker.io/acme"]\n    access: secret\n',
    path: 'registries[0].hosts[0]',
    message: /never matches: .*rewrit.*docker\.io.*write "docker\.io\/acme"/,
  },
  'rejects the docker login key https://index.docker.io/v1/ in registries[].hosts, with the docker.io fix': {
    text: 'registries:\n  - hosts: ["https://index.docker.io/v1/"]\n    access: public\n',
    path: 'registries[0].hosts[0]',
    message: /never matches: .*write "docker\.io"/,
  },
  'rejects index.docker.io in exemptImages too': {
    text: 'exemptImages: ["index.docker.io/library/busybox"]\n',
    path: 'exemptImages[0]',
    message: /write "docker\.io\/library\/busybox"/,
  },
};
for (const [name, c] of Object.entries(rejected)) {
  t.test(name, async (t) => {
    const result = loadPolicyText(c.text);
    t.equal(result.ok, false);
    if (result.ok) return;
    const error = result.errors.find((entry) => entry.path === c.path);
    t.ok(error, `an error at ${c.path}`);
    t.match(error?.message, c.message);
  });
}

t.test('accepts docker.io patterns', async (t) => {
  t.equal(loadPolicyText('registries:\n  - hosts: ["docker.io/acme", "docker.io"]\n    access: secret\n').ok, true);
});

const matching: Record<string, { pattern: string; image: string; matches: boolean }> = {
  'a path pattern matches its own repository': { pattern: 'docker.io/acme', image: 'docker.io/acme', matches: true },
  'a path pattern matches repositories below it': { pattern: 'docker.io/acme', image: 'docker.io/acme/app', matches: true },
  'a path pattern does not match a longer sibling component (the auths-key quirk)': { pattern: 'docker.io/acme', image: 'docker.io/acmecorp/app', matches: false },
  'a pattern ending in / matches by string prefix': { pattern: 'docker.io/acme/', image: 'docker.io/acme/app', matches: true },
  'a host pattern matches every path': { pattern: 'quay.io', image: 'quay.io/team/app', matches: true },
  'a glob host with a path matches whole components too': { pattern: '*.gcr.io/proj', image: 'eu.gcr.io/project/app', matches: false },
  'a glob host with a path matches the component': { pattern: '*.gcr.io/proj', image: 'eu.gcr.io/proj/app', matches: true },
};
for (const [name, c] of Object.entries(matching)) {
  t.test(name, async (t) => {
    t.equal(policyPatternMatches(parseKeyringKey(c.pattern) as string, c.image), c.matches);
  });
}
