import fc from 'fast-check';
import t from 'tap';
import { isLatestOrUntagged, parseAnyReference, parseImageReference, parseRegistryReference } from '../../src/image/reference.ts';
import type { ImageReferenceResult } from '../../src/image/types.ts';

/*
 * An independent oracle: distribution/reference's grammar written as the regular expressions its
 * documentation gives, run by a backtracking engine (leftmost-first, like Go's submatches), plus
 * ParseNormalizedNamed's steps around it. Too slow for production on long input, fine for short
 * generated strings, and a different technique from the scanner under test.
 */
const alphaNumeric = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]+)';
const pathComponent = `${alphaNumeric}(?:${separator}${alphaNumeric})*`;
const remoteName = `${pathComponent}(?:/${pathComponent})*`;
const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const domainAndPort = `(?:${domainComponent}(?:\\.${domainComponent})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?`;
const tagPattern = '[\\w][\\w.-]{0,127}';
const digestPattern = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const referenceRegexp = new RegExp(`^((?:${domainAndPort}/)?${remoteName})(?::(${tagPattern}))?(?:@(${digestPattern}))?$`);
const anchoredNameRegexp = new RegExp(`^(?:(${domainAndPort})/)?(${remoteName})$`);
const goDigestRegexp = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const hexLengths: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

function elide(text: string): string {
  return text.length <= 48 ? text : `${text.slice(0, 24)}…${text.slice(text.length - 23)}`;
}

type OracleResult =
  | { ok: true; domain: string; path: string; tag: string | undefined; digest: string | undefined }
  | { ok: false; error: string };

function oracle(input: string): OracleResult {
  if (/^[a-f0-9]{64}$/.test(input)) {
    return { ok: false, error: `invalid repository name (${elide(input)}), cannot specify 64-byte hexadecimal strings` };
  }
  let domain = 'docker.io';
  let remainder = input;
  const slash = input.indexOf('/');
  if (slash === -1) {
    remainder = `library/${input}`;
  } else {
    const first = input.slice(0, slash);
    const rest = input.slice(slash + 1);
    if (first === 'index.docker.io') remainder = rest;
    else if (first === 'localhost' || /[.:]/.test(first) || first.toLowerCase() !== first) [domain, remainder] = [first, rest];
    if (domain === 'docker.io' && !remainder.includes('/')) remainder = `library/${remainder}`;
  }
  const remote = remainder.split(':')[0] ?? '';
  if (remote.toLowerCase() !== remote) {
    return { ok: false, error: `invalid reference format: repository name (${elide(remote)}) must be lowercase` };
  }
  const joined = `${domain}/${remainder}`;
  const match = referenceRegexp.exec(joined);
  if (match === null) {
    const lowered = joined.toLowerCase();
    const onlyCase = lowered !== joined && referenceRegexp.test(lowered);
    return { ok: false, error: onlyCase ? 'invalid reference format: repository name must be lowercase' : 'invalid reference format' };
  }
  const nameMatch = anchoredNameRegexp.exec(match[1] ?? '');
  const path = nameMatch?.[2] ?? '';
  if (path.length > 255) {
    return { ok: false, error: 'invalid reference format: repository name must not be more than 255 characters' };
  }
  const digest = match[3];
  if (digest !== undefined) {
    const [algorithm = '', hex = ''] = digest.split(':');
    const expected = hexLengths[algorithm];
    let problem: string | undefined;
    if (expected === undefined) problem = goDigestRegexp.test(digest) ? 'unsupported digest algorithm' : 'invalid checksum digest format';
    else if (hex.length !== expected) problem = 'invalid checksum digest length';
    else if (!/^[a-f0-9]+$/.test(hex)) problem = 'invalid checksum digest format';
    if (problem !== undefined) return { ok: false, error: `invalid reference format: ${problem}` };
  }
  return { ok: true, domain: nameMatch?.[1] ?? '', path, tag: match[2], digest };
}

/** Strings made of the grammar's own pieces, so that many are valid and many fail narrowly. */
const grammarPieces = [
  'a', 'b', 'z', '0', '9', 'A', 'Z', 'f', '.', '_', '__', '-', '--', '/', '/', ':', ':', '@', '[', ']', '::1',
  'localhost', 'index.docker.io', 'docker.io', 'io', '5000', 'latest', 'sha256', 'sha384', 'sha512', 'md5', 'SHA256',
  '0123456789abcdef'.repeat(2), '0123456789abcdef'.repeat(4), '0123456789ABCDEF'.repeat(4), '0123456789abcdef'.repeat(6),
];
const grammarString = fc.string({ unit: fc.constantFrom(...grammarPieces), maxLength: 14 });

function assertWellFormed(result: ImageReferenceResult, input: string): void {
  if (!result.ok) {
    if (result.input !== input || !/^invalid (reference format|repository name)/.test(result.error)) {
      throw new Error(`malformed failure for ${JSON.stringify(input)}: ${JSON.stringify(result)}`);
    }
    return;
  }
  const { reference } = result;
  const expectedName = reference.domain === '' ? reference.path : `${reference.domain}/${reference.path}`;
  if (reference.input !== input || reference.name !== expectedName) throw new Error(`bad name for ${JSON.stringify(input)}`);
  if (reference.path.length > 255) throw new Error(`path over 255 characters accepted for ${JSON.stringify(input)}`);
  const suffix = reference.digest !== undefined ? `@${reference.digest}` : `:${reference.tag ?? 'latest'}`;
  if (reference.normalized !== reference.name + suffix) throw new Error(`bad normalized form for ${JSON.stringify(input)}`);
}

t.test('never throws and always returns a well-formed result', async (t) => {
  const inputs = {
    'printable ASCII strings': fc.string({ maxLength: 80 }),
    'strings of any code point': fc.string({ unit: 'binary', maxLength: 80 }),
    'strings of unicode graphemes': fc.string({ unit: 'grapheme', maxLength: 40 }),
    'strings of raw UTF-16 code units, lone surrogates included': fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 40 }),
    "strings built from the grammar's alphabet": grammarString,
  };
  for (const [label, arbitrary] of Object.entries(inputs)) {
    t.doesNotThrow(() => {
      fc.assert(fc.property(arbitrary, (input) => assertWellFormed(parseImageReference(input), input)), { numRuns: 3000 });
    }, label);
  }
});

t.test('agrees with a regular-expression transcription of the upstream grammar on every input', async (t) => {
  t.doesNotThrow(() => {
    fc.assert(
      fc.property(fc.oneof(grammarString, fc.string({ maxLength: 30 })), (input) => {
        const expected = oracle(input);
        const actual = parseImageReference(input);
        const comparable: OracleResult = actual.ok
          ? { ok: true, domain: actual.reference.domain, path: actual.reference.path, tag: actual.reference.tag, digest: actual.reference.digest }
          : { ok: false, error: actual.error };
        if (JSON.stringify(comparable) !== JSON.stringify(expected)) {
          throw new Error(`${JSON.stringify(input)}: got ${JSON.stringify(comparable)}, upstream grammar says ${JSON.stringify(expected)}`);
        }
      }),
      { numRuns: 20000 },
    );
  });
});

const lowerAlphaNumeric = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789'), minLength: 1, maxLength: 6 });
const pathComponentArbitrary = fc
  .tuple(lowerAlphaNumeric, fc.array(fc.tuple(fc.constantFrom('.', '_', '__', '-', '---'), lowerAlphaNumeric), { maxLength: 3 }))
  .map(([head, rest]) => head + rest.map(([sep, run]) => sep + run).join(''));
const pathArbitrary = fc.array(pathComponentArbitrary, { minLength: 1, maxLength: 4 });
const hostLabel = fc
  .tuple(fc.constantFrom(...'abcXYZ019'), fc.string({ unit: fc.constantFrom(...'abcXYZ019-'), maxLength: 6 }), fc.constantFrom(...'abcXYZ019'))
  .map(([first, middle, last]) => first + middle + last);
const port = fc.option(fc.integer({ min: 1, max: 65535 }).map((n) => `:${n}`), { nil: '' });
const domainArbitrary = fc
  .oneof(
    fc.tuple(fc.array(hostLabel, { minLength: 2, maxLength: 4 }), port).map(([labels, p]) => labels.join('.') + p),
    fc.tuple(hostLabel, fc.integer({ min: 1, max: 65535 })).map(([label, p]) => `${label}:${p}`),
    hostLabel.map((label) => `Q${label}`),
    port.map((p) => `localhost${p}`),
    fc.tuple(fc.constantFrom('::1', '2001:db8::1', 'fe80::a:B:c'), port).map(([address, p]) => `[${address}]${p}`),
  )
  .filter((domain) => domain !== 'docker.io' && domain !== 'index.docker.io');
const tagArbitrary = fc.option(
  fc.tuple(fc.constantFrom(...'aZ9_'), fc.string({ unit: fc.constantFrom(...'aZ9_.-'), maxLength: 127 })).map(([first, rest]) => first + rest),
  { nil: undefined },
);
const digestArbitrary = fc.option(
  fc
    .constantFrom(['sha256', 64] as const, ['sha384', 96] as const, ['sha512', 128] as const)
    .chain(([algorithm, length]) =>
      fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: length, maxLength: length }).map((hex) => `${algorithm}:${hex}`),
    ),
  { nil: undefined },
);
const validReference = fc
  .record({ domain: fc.option(domainArbitrary, { nil: undefined }), components: pathArbitrary, tag: tagArbitrary, digest: digestArbitrary })
  // Without a registry, a dotted (or localhost) first component of several would itself be read as one.
  .filter(({ domain, components }) => domain !== undefined || components.length === 1 || !(components[0]?.includes('.') || components[0] === 'localhost'));

t.test('parses every reference built from the grammar into the parts it was built from', async (t) => {
  t.doesNotThrow(() => {
    fc.assert(
      fc.property(validReference, ({ domain, components, tag, digest }) => {
        const path = components.join('/');
        const input = (domain === undefined ? path : `${domain}/${path}`) + (tag === undefined ? '' : `:${tag}`) + (digest === undefined ? '' : `@${digest}`);
        const result = parseImageReference(input);
        if (!result.ok) throw new Error(`${JSON.stringify(input)} rejected: ${result.error}`);
        const expectedDomain = domain ?? 'docker.io';
        const expectedPath = domain === undefined && components.length === 1 ? `library/${path}` : path;
        const { reference } = result;
        if (reference.domain !== expectedDomain || reference.path !== expectedPath || reference.tag !== tag || reference.digest !== digest) {
          throw new Error(`${JSON.stringify(input)} parsed as ${JSON.stringify(reference)}`);
        }
        if (isLatestOrUntagged(reference) !== (digest === undefined && (tag === undefined || tag === 'latest'))) {
          throw new Error(`${JSON.stringify(input)}: wrong latest verdict`);
        }
      }),
      { numRuns: 5000 },
    );
  });
});

t.test('parsing the normalized form again yields the same normalized form and name', async (t) => {
  const inputs = fc.oneof(
    validReference.map(({ domain, components, tag, digest }) =>
      (domain === undefined ? '' : `${domain}/`) + components.join('/') + (tag === undefined ? '' : `:${tag}`) + (digest === undefined ? '' : `@${digest}`),
    ),
    grammarString,
  );
  let reparsed = 0;
  t.doesNotThrow(() => {
    fc.assert(
      fc.property(inputs, (input) => {
        const first = parseImageReference(input);
        if (!first.ok) return;
        reparsed++;
        const second = parseImageReference(first.reference.normalized);
        if (!second.ok) throw new Error(`${JSON.stringify(first.reference.normalized)} no longer parses: ${second.error}`);
        if (second.reference.normalized !== first.reference.normalized || second.reference.name !== first.reference.name) {
          throw new Error(`${JSON.stringify(input)} → ${first.reference.normalized} → ${second.reference.normalized}`);
        }
      }),
      { numRuns: 5000 },
    );
  });
  t.ok(reparsed > 1000, `enough valid references were exercised (${reparsed})`);
});

/** A valid reference as written, from its parts. */
function written({ domain, components, tag, digest }: { domain: string | undefined; components: string[]; tag: string | undefined; digest: string | undefined }): string {
  return (domain === undefined ? '' : `${domain}/`) + components.join('/') + (tag === undefined ? '' : `:${tag}`) + (digest === undefined ? '' : `@${digest}`);
}

/** The shape of a private registry's images: a lower-case host of labels, a port maybe, a path and a tag maybe. */
const lowerHostLabel = fc
  .tuple(fc.constantFrom(...'abz09'), fc.string({ unit: fc.constantFrom(...'abz09-'), maxLength: 5 }), fc.constantFrom(...'abz09'))
  .map(([first, middle, last]) => first + middle + last);
const registryReference = fc
  .record({
    domain: fc.tuple(fc.array(lowerHostLabel, { minLength: 1, maxLength: 4 }), port).map(([labels, p]) => labels.join('.') + p),
    components: pathArbitrary,
    tag: tagArbitrary,
    digest: fc.constant(undefined),
  })
  .map(written);

/** A valid reference with one piece of the grammar's alphabet written over or into it: narrow misses, and shapes one character apart. */
const nearlyValidReference = fc
  .tuple(fc.oneof(validReference.map(written), registryReference), fc.nat(), fc.constantFrom(...grammarPieces, 'A', '!', ' ', 'é'), fc.boolean())
  .map(([input, at, piece, replace]) => {
    const position = at % (input.length + 1);
    return input.slice(0, position) + piece + input.slice(replace ? position + 1 : position);
  });

t.test('the single-scan parse of registry references answers exactly as the full parser, or leaves the input to it', async (t) => {
  let taken = 0;
  let valid = 0;
  t.doesNotThrow(() => {
    fc.assert(
      fc.property(fc.oneof(registryReference, validReference.map(written), nearlyValidReference, grammarString, fc.string({ maxLength: 40 })), (input) => {
        const full = parseAnyReference(input);
        if (full.ok) valid++;
        const fast = parseRegistryReference(input);
        if (fast === undefined) return;
        taken++;
        if (JSON.stringify(fast) !== JSON.stringify(full)) throw new Error(`${JSON.stringify(input)}: single scan ${JSON.stringify(fast)}, full parser ${JSON.stringify(full)}`);
      }),
      { numRuns: 20000 },
    );
  });
  // Not vacuous: a good share of the valid references go the single-scan way.
  t.ok(taken > valid / 4, `the single-scan parse took ${taken} of ${valid} valid references`);
});

t.test('which image strings the single-scan parse takes, and which it leaves to the full parser', async (t) => {
  const cases: Record<string, { readonly input: string; readonly taken: boolean }> = {
    'a registry host, a two-level path and a tag': { input: 'registry.example.com/team/app:1.2', taken: true },
    'a registry host with a port, no tag': { input: 'registry.example.com:5000/app', taken: true },
    'localhost, which is a registry without a dot': { input: 'localhost/app:1', taken: true },
    'localhost with a port': { input: 'localhost:5000/app', taken: true },
    'an IP address and a port': { input: '10.0.0.1:5000/team/app:v1', taken: true },
    'a Docker Hub name without a registry (library/ is added)': { input: 'nginx:1.27', taken: false },
    'a Docker Hub user repository': { input: 'team/app:1', taken: false },
    'docker.io written out (library/ may be added)': { input: 'docker.io/nginx', taken: false },
    'index.docker.io (rewritten to docker.io)': { input: 'index.docker.io/team/app', taken: false },
    'an upper-case host, a registry as written': { input: 'Registry.example.com/app', taken: true },
    'an IPv6 host': { input: '[::1]:5000/app', taken: true },
    'a bracketed first component without a colon (a Docker Hub path, refused)': { input: '[abc]/app', taken: false },
    'a digest': { input: `registry.example.com/app@sha256:${'a'.repeat(64)}`, taken: false },
    'a tag followed by a path': { input: 'registry.example.com/a:b/c', taken: false },
    'an empty tag': { input: 'registry.example.com/app:', taken: false },
    'an upper-case path (refused with its own message)': { input: 'registry.example.com/App', taken: false },
    'a path of 255 characters, the most there is': { input: `registry.example.com/${'a'.repeat(255)}`, taken: true },
    'a path over 255 characters': { input: `registry.example.com/${'a'.repeat(256)}`, taken: false },
    'a tag of 128 characters, the most there is': { input: `registry.example.com/app:${'t'.repeat(128)}`, taken: true },
    'a tag over 128 characters': { input: `registry.example.com/app:${'t'.repeat(129)}`, taken: false },
    'a host that only begins with localhost': { input: 'localhostx/app', taken: false },
    'a host that only begins with docker.io, a registry of its own': { input: 'docker.iox/app', taken: true },
  };
  for (const [name, c] of Object.entries(cases)) {
    const fast = parseRegistryReference(c.input);
    t.equal(fast !== undefined, c.taken, name);
    if (fast !== undefined) t.same(fast, parseAnyReference(c.input), `${name}: as the full parser`);
  }
});

// Speed on these inputs is measured by `npm run bench:core`, never by a timed unit test.
t.test('rejects long near-miss inputs that make backtracking regexes explode', async (t) => {
  const size = 200_000;
  const adversarial = {
    'a long path run ending in an invalid character': `${'a'.repeat(size)}!`,
    'alternating path runs and dashes': `${'a-'.repeat(size / 2)}!`,
    'a long dotted host with no path': `${'a.'.repeat(size / 2)}a/`,
    'a long host label of dashes': `a${'-'.repeat(size)}.com/app`,
    'many path components ending badly': `quay.io/${'a/'.repeat(size / 2)}`,
    'a long upper-case name, scanned twice': 'A'.repeat(size),
    'an unclosed IPv6 bracket': `[${':'.repeat(size)}/app`,
    'a long digest algorithm': `nginx@${'a+'.repeat(size / 2)}`,
    'a long digest of the right algorithm': `nginx@sha256:${'a'.repeat(size)}`,
    'a long tag': `nginx:${'t'.repeat(size)}`,
  };
  for (const [label, input] of Object.entries(adversarial)) {
    const result = parseImageReference(input);
    t.equal(result.ok, false, `${label} is rejected`);
  }
});
