/** Issue 13, policy layer: dead index.docker.io patterns and whole-component path matching. */
import fc from 'fast-check';
import t from 'tap';
import { loadPolicyText, parsePolicyObject } from '../../src/policy/load.ts';
import { compiledPolicyPatternMatches, compilePolicyPattern, policyPatternMatches } from '../../src/policy/pattern-match.ts';
import { BUILTIN_PUBLIC_REGISTRIES } from '../../src/policy/builtin-registries.ts';
import { PolicyResolver } from '../../src/policy/resolve.ts';
import { imageTarget, parseKeyringKey } from '../../src/credentials/keyring.ts';

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

// Patterns compiled once (PolicyResolver) must match exactly as the string form does, and the
// resolver, which remembers rule matches from an image's second sighting and compiles a first-seen
// image once for the rules and the keyring, must answer exactly what a plain scan of its rules
// answers, however often and in whichever order images come.
// Patterns from small vocabularies, and images mostly made from a pattern (its globs filled in,
// its port kept or not, its path extended by a component or by characters), so that many pairs
// match and many differ only where the rules are subtle.
const literalLabel = fc.constantFrom('a', 'b', 'io', 'ab');
const glob = fc.constantFrom('*', 'a*', '*b', '?', '[a-b]');
const patternParts = fc.record({
  scheme: fc.constantFrom('', '', 'https://', 'http://'),
  labels: fc.array(fc.oneof(literalLabel, glob), { minLength: 1, maxLength: 3 }),
  port: fc.constantFrom('', '', ':5000', ':443'),
  path: fc.array(fc.constantFrom('acme', 'acmecorp', 'acme.x', 'app', 'a'), { maxLength: 2 }).map((parts) => parts.map((part) => `/${part}`).join('')),
  slash: fc.constantFrom('', '', '/'),
});
type PatternParts = { scheme: string; labels: string[]; port: string; path: string; slash: string };
const textOf = (parts: PatternParts): string => `${parts.scheme}${parts.labels.join('.')}${parts.port}${parts.path}${parts.slash}`;
const imageFrom = (parts: PatternParts) =>
  fc.record({
    fill: fc.array(literalLabel, { minLength: parts.labels.length, maxLength: parts.labels.length }),
    port: fc.constantFrom(parts.port, parts.port, '', ':5000'),
    tail: fc.constantFrom('', '/app', 'corp', '.x/app', '/acme/app'),
    dropLabel: fc.boolean(),
  }).map(({ fill, port, tail, dropLabel }) => {
    const labels = parts.labels.map((label, index) => (/[*?[]/.test(label) ? (fill[index] as string) : label));
    if (dropLabel && labels.length > 1) labels.pop();
    const path = `${parts.path}${tail}` || '/app';
    return `${labels.join('.')}${port}${path.startsWith('/') ? path : `/${path}`}`;
  });
const anyImage = fc.tuple(fc.array(literalLabel, { minLength: 1, maxLength: 3 }), fc.constantFrom('', ':5000'), fc.constantFrom('/app', '/acme/app', '/acmecorp')).map(([labels, p, rest]) => `${labels.join('.')}${p}${rest}`);
const patternAndImage = patternParts.chain((parts) => fc.tuple(fc.constant(textOf(parts)), fc.oneof(imageFrom(parts), imageFrom(parts), anyImage)));
const patternText = patternParts.map(textOf);

t.test('a compiled policy pattern matches every image exactly as the pattern text does', async (t) => {
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(patternAndImage, ([text, image]) => {
        const pattern = parseKeyringKey(text);
        if (pattern === undefined) return;
        const compiled = compiledPolicyPatternMatches(compilePolicyPattern(pattern), imageTarget(image));
        if (compiled !== policyPatternMatches(pattern, image)) throw new Error(`${pattern} vs ${image}: compiled ${compiled}`);
      }),
      { numRuns: 3000 },
    ),
  );
});

t.test('the resolver answers every image as a plain scan of its rules does, asked again and again', async (t) => {
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(
        // Rules whose patterns overlap, images made from those patterns (and some from none).
        fc.array(fc.array(patternParts, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 4 }).chain((ruleParts) =>
          fc.tuple(
            fc.constant(ruleParts),
            fc.array(fc.constantFrom('public', 'secret', 'node'), { minLength: ruleParts.length, maxLength: ruleParts.length }),
            fc.array(patternText, { maxLength: 2 }),
            fc.array(fc.oneof(anyImage, fc.constantFrom(...ruleParts.flat()).chain(imageFrom)), { minLength: 1, maxLength: 6 }),
          ),
        ),
        fc.array(fc.nat(), { minLength: 1, maxLength: 30 }),
        ([ruleParts, accesses, exemptImages, images], order) => {
          const registries = ruleParts.map((parts, index) => ({ hosts: parts.map(textOf), access: accesses[index] }));
          const loaded = parsePolicyObject({ registries, exemptImages });
          if (!loaded.ok) return;
          const resolver = new PolicyResolver(loaded.policy);
          const effective = resolver.forNamespace('team', undefined);
          const rules = [...loaded.policy.registries, ...BUILTIN_PUBLIC_REGISTRIES];
          for (const pick of order) {
            const image = images[pick % images.length] as string;
            const expectedExempt = loaded.policy.exemptImages.some((text) => {
              const pattern = parseKeyringKey(text);
              return pattern !== undefined && policyPatternMatches(pattern, image);
            });
            let expected: { access: string; pattern: string | undefined } = { access: loaded.policy.defaultAccess, pattern: undefined };
            search: for (const rule of rules) {
              for (const text of rule.hosts) {
                const pattern = parseKeyringKey(text);
                if (pattern !== undefined && policyPatternMatches(pattern, image)) {
                  expected = { access: rule.access, pattern };
                  break search;
                }
              }
            }
            const viaTarget = effective.accessUnlessExempt(image, imageTarget);
            const plain = effective.accessFor(image);
            if (effective.isExempt(image) !== expectedExempt) throw new Error(`${image}: exempt ${!expectedExempt}`);
            if (plain.access !== expected.access || plain.matchedPattern !== expected.pattern) throw new Error(`${image}: ${plain.access} ${plain.matchedPattern} != ${expected.access} ${expected.pattern}`);
            if (expectedExempt ? viaTarget !== undefined : viaTarget !== plain) throw new Error(`${image}: accessUnlessExempt differs`);
          }
        },
      ),
      { numRuns: 500 },
    ),
  );
});
