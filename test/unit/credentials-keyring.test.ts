import fc from 'fast-check';
import t from 'tap';
import { compileGlob, globMatches } from '../../src/credentials/go-glob.ts';
import { parseGoUrl, splitHostPort } from '../../src/credentials/go-url.ts';
import { buildSecretObject, projectPullSecret } from '../../src/credentials/dockerconfig.ts';
import { imageTarget, imageTargetMemoSize, isDockerHubImage, keyMatchesImage, lookupKeyring, parseKeyringKey } from '../../src/credentials/keyring.ts';
import type { PullSecretView } from '../../src/credentials/types.ts';

// Every expectation below was checked against the kubelet's own code (keyring.go with Go 1.25
// net/url, path/filepath and net) during development.

const normalisations: Record<string, readonly [raw: string, key: string | undefined]> = {
  'drops the scheme and the /v1/ path of the classic Docker Hub key': ['https://index.docker.io/v1/', 'index.docker.io'],
  'strips a lower-case http:// prefix': ['http://quay.io', 'quay.io'],
  'strips only a lower-case scheme: `HTTPS://` stays part of the key': ['HTTPS://quay.io', 'HTTPS://quay.io'],
  'drops a bare /v2/ path': ['quay.io/v2/', 'quay.io'],
  'turns a /v2/ prefix into the path after it': ['quay.io/v2/team', 'quay.io/team'],
  'keeps `/v2` without a trailing slash as a path': ['quay.io/v2', 'quay.io/v2'],
  'strips only one leading /v1/ or /v2/': ['quay.io/v1/v2/x', 'quay.io/v2/x'],
  'drops a lone trailing slash': ['quay.io/', 'quay.io'],
  'keeps a trailing slash after a path': ['quay.io/team/', 'quay.io/team/'],
  'drops userinfo in the key': ['robot:token@quay.io', 'quay.io'],
  'drops a query and a fragment': ['quay.io/team?tab=tags#top', 'quay.io/team'],
  'unescapes the path (`%2F` becomes a slash)': ['quay.io/a%2Fb', 'quay.io/a/b'],
  'unescapes non-ASCII bytes in the host': ['caf%C3%A9.example', 'café.example'],
  'keeps the port': ['quay.io:5000', 'quay.io:5000'],
  'keeps a trailing colon (an empty port)': ['quay.io:', 'quay.io:'],
  'lets the last colon start the port (Go 1.25 lax colons)': ['localhost:80:80', 'localhost:80:80'],
  'keeps a bracketed IPv6 host': ['[::1]:5000', '[::1]:5000'],
  'stores an empty key as an empty host': ['', ''],
  '`?` in a key starts a URL query, so `q?ay.io` is stored as `q` and is no glob': ['q?ay.io', 'q'],
  'skips a key with a non-numeric port': ['quay.io:abc', undefined],
  'skips a key with a space in the host': ['quay io', undefined],
  'skips a key with a bad %-escape': ['quay.io/%zz', undefined],
  'skips a key with a bad %-escape in the fragment': ['quay.io#%zz', undefined],
  'skips a key whose host %-escapes an ASCII byte': ['%71uay.io', undefined],
  'skips a key with a control character': ['quay.io/a\u0001', undefined],
  'skips a bracketed IPv4 host (brackets are for IPv6 only)': ['[1.2.3.4]', undefined],
  'skips a character class in a key (Go rejects `[` inside a host)': ['[pq]uay.io', undefined],
  'shows a non-UTF-8 byte from an escape as %XX': ['quay.io/a%FF', 'quay.io/a%FF'],
};

for (const [name, [raw, key]] of Object.entries(normalisations)) {
  t.test(name, async (t) => {
    t.equal(parseKeyringKey(raw), key);
  });
}

const matches: Record<string, readonly [key: string, image: string, matches: boolean]> = {
  'a host key covers every repository on the host': ['quay.io', 'quay.io/team/app', true],
  '`*.example.com` does not match `example.com`': ['*.example.com', 'example.com/app', false],
  '`*` never crosses a dot: `*.example.com` does not match `a.b.example.com`': ['*.example.com', 'a.b.example.com/app', false],
  '`*.example.com` matches one label in front': ['*.example.com', 'a.example.com/app', true],
  '`*` inside a label matches a run of characters': ['qu*.io', 'quay.io/app', true],
  'wildcards work in any label, as for ECR regions': ['*.dkr.ecr.*.amazonaws.com', '123456789012.dkr.ecr.eu-west-1.amazonaws.com/app', true],
  '`*` alone matches any single-label host': ['*', 'localhost/app', true],
  '`*` alone does not match a two-label host': ['*', 'quay.io/app', false],
  '`*.*` matches any two-label host': ['*.*', 'quay.io/app', true],
  'a key with more labels than the image does not match': ['a.quay.io', 'quay.io/app', false],
  '`quay.io/team` also covers `quay.io/teamx` (string prefix)': ['quay.io/team', 'quay.io/teamx/app', true],
  '`quay.io/team` covers the repository `quay.io/team` itself': ['quay.io/team', 'quay.io/team', true],
  'a key path does not cover another path': ['quay.io/team', 'quay.io/other/app', false],
  'a trailing slash in the key path requires a deeper repository': ['quay.io/team/', 'quay.io/teamapp', false],
  'a key path with a trailing slash covers repositories below it': ['quay.io/team/', 'quay.io/team/app', true],
  'paths compare case-sensitively': ['quay.io/Team', 'quay.io/team/app', false],
  'host labels compare case-sensitively': ['Quay.io', 'quay.io/app', false],
  'no port is not :443 (key with :443, image without a port)': ['quay.io:443', 'quay.io/app', false],
  'no port is not :443 (key without a port, image with :443)': ['quay.io', 'quay.io:443/app', false],
  'a key with a port matches the same port': ['localhost:5000', 'localhost:5000/app', true],
  'a key with a port does not match another port': ['localhost:5000', 'localhost:5001/app', false],
  'a trailing colon is an empty port, so `quay.io:` matches `quay.io`': ['quay.io:', 'quay.io/app', true],
  'a bracketed IPv6 key with a port matches the same host and port': ['[::1]:5000', '[::1]:5000/app', true],
  'a bracketed IPv6 key without a port is globbed as a character class and matches nothing': ['[::1]', '[::1]/app', false],
  'a `docker.io` key matches directly': ['docker.io', 'docker.io/library/nginx', true],
  '`index.docker.io` does not match `docker.io` images directly (only through the fallback)': ['index.docker.io', 'docker.io/library/nginx', false],
  '`registry-1.docker.io` is not an alias': ['registry-1.docker.io', 'docker.io/library/nginx', false],
};

for (const [name, [key, image, expected]] of Object.entries(matches)) {
  t.test(name, async (t) => {
    t.equal(keyMatchesImage(key, image), expected);
  });
}

t.test('the Docker Hub test follows isDefaultRegistryMatch, quirks included', async (t) => {
  const cases: Record<string, boolean> = {
    'docker.io/library/nginx': true,
    'index.docker.io/library/nginx': true,
    'localhost/app': true, // no `.` or `:` in the first component
    'Registry/app': true,
    nginx: true,
    'quay.io/app': false,
    'localhost:5000/app': false,
    '/app': false,
    '': false,
  };
  for (const [image, expected] of Object.entries(cases)) t.equal(isDockerHubImage(image), expected, image);
});

// ---------------------------------------------------------------------------------------------
// lookupKeyring

const AUTH = Buffer.from('user:not-a-real-password').toString('base64');

/** A pull secret listing `keys` in this order, each with a working credential. */
function secret(name: string, ...keys: string[]): PullSecretView {
  const entries = keys.map((key) => `${JSON.stringify(key)}:{"auth":"${AUTH}"}`).join(',');
  return projectPullSecret(buildSecretObject({ name, type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': `{"auths":{${entries}}}` } }));
}

const malformedSecret = projectPullSecret(
  buildSecretObject({ name: 'broken', type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': '{"auths":{"quay.io":{"auth":"!!"},"ghcr.io":{}}}' } }),
);
const opaqueSecret = projectPullSecret(buildSecretObject({ name: 'opaque', type: 'Opaque', data: { '.dockerconfigjson': `{"auths":{"quay.io":{}}}` } }));

interface LookupCase {
  readonly secrets: readonly PullSecretView[];
  readonly image: string;
  /** `secret raw-key`, in the order the kubelet hands them to the runtime. */
  readonly expected: readonly string[];
  readonly fallback?: boolean;
}

const lookups: Record<string, LookupCase> = {
  'returns every matching key in reverse byte order of the stored keys': {
    secrets: [secret('s', 'quay.io', 'quay.io/team', 'quay.io/team/app', 'ghcr.io')],
    image: 'quay.io/team/app',
    expected: ['s quay.io/team/app', 's quay.io/team', 's quay.io'],
  },
  'reverse byte order, not specificity: `a.example.com` before `*.example.com/team`': {
    secrets: [secret('s', '*.example.com/team', 'a.example.com')],
    image: 'a.example.com/team/app',
    expected: ['s a.example.com', 's *.example.com/team'],
  },
  'orders by the stored key, after scheme and /v2/ stripping': {
    secrets: [secret('s', 'https://quay.io/v2/team', 'quay.io')],
    image: 'quay.io/team/app',
    expected: ['s https://quay.io/v2/team', 's quay.io'],
  },
  'forms one keyring from all secrets, interleaving their keys': {
    secrets: [secret('first', 'quay.io'), secret('second', 'quay.io/team')],
    image: 'quay.io/team/app',
    expected: ['second quay.io/team', 'first quay.io'],
  },
  'keeps credentials of the same key in secret order': {
    secrets: [secret('first', 'quay.io'), secret('second', 'https://quay.io')],
    image: 'quay.io/app',
    expected: ['first quay.io', 'second https://quay.io'],
  },
  'keeps credentials of the same key in secret order, whichever comes first': {
    secrets: [secret('second', 'https://quay.io'), secret('first', 'quay.io')],
    image: 'quay.io/app',
    expected: ['second https://quay.io', 'first quay.io'],
  },
  'keeps same-key credentials of one secret in listing order': {
    secrets: [secret('s', 'http://quay.io/', 'quay.io')],
    image: 'quay.io/app',
    expected: ['s http://quay.io/', 's quay.io'],
  },
  'skips malformed and wrongly typed secrets: they contribute nothing': {
    secrets: [malformedSecret, opaqueSecret, secret('good', 'ghcr.io')],
    image: 'quay.io/app',
    expected: [],
  },
  'falls back to `index.docker.io` credentials for a Docker Hub image that nothing matched': {
    secrets: [secret('hub', 'https://index.docker.io/v1/')],
    image: 'docker.io/library/nginx',
    expected: ['hub https://index.docker.io/v1/'],
    fallback: true,
  },
  'falls back with every `index.docker.io` credential, in secret order': {
    secrets: [secret('a', 'index.docker.io'), secret('b', 'quay.io'), secret('c', 'https://index.docker.io/v2/')],
    image: 'docker.io/org/app',
    expected: ['a index.docker.io', 'c https://index.docker.io/v2/'],
    fallback: true,
  },
  'does not fall back when a `docker.io` key matched directly': {
    secrets: [secret('hub', 'index.docker.io', 'docker.io')],
    image: 'docker.io/library/nginx',
    expected: ['hub docker.io'],
    fallback: false,
  },
  'does not fall back when a wildcard matched the Docker Hub host': {
    secrets: [secret('hub', 'index.docker.io', '*.io')],
    image: 'docker.io/library/nginx',
    expected: ['hub *.io'],
    fallback: false,
  },
  'falls back for `localhost/...` images too, which have no dot or colon': {
    secrets: [secret('hub', 'index.docker.io')],
    image: 'localhost/app',
    expected: ['hub index.docker.io'],
    fallback: true,
  },
  'does not fall back for another registry': {
    secrets: [secret('hub', 'index.docker.io')],
    image: 'quay.io/app',
    expected: [],
  },
  'does not fall back to an `index.docker.io` key that has a path': {
    secrets: [secret('hub', 'index.docker.io/library')],
    image: 'docker.io/library/nginx',
    expected: [],
  },
  '`registry-1.docker.io` is not an alias, not even for the fallback': {
    secrets: [secret('hub', 'registry-1.docker.io')],
    image: 'docker.io/library/nginx',
    expected: [],
  },
  'ignores the fallback keys of unusable secrets': {
    secrets: [projectPullSecret(buildSecretObject({ name: 'bad', type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': '{"auths":{"index.docker.io":{"username":1}}}' } }))],
    image: 'docker.io/library/nginx',
    expected: [],
  },
};

for (const [name, c] of Object.entries(lookups)) {
  t.test(name, async (t) => {
    const result = lookupKeyring(c.secrets, c.image);
    t.same(
      result.map((match) => `${match.secret} ${match.key.raw}`),
      c.expected,
    );
    if (c.fallback !== undefined) t.ok(result.every((match) => match.viaDockerHubFallback === c.fallback), `viaDockerHubFallback is ${c.fallback}`);
  });
}

t.test('gives the same answer on repeated lookups (memoised compilation)', async (t) => {
  const secrets = [secret('a', 'quay.io', '*.quay.io'), secret('b', 'quay.io/team')];
  const first = lookupKeyring(secrets, 'quay.io/team/app').map((match) => `${match.secret} ${match.key.raw}`);
  for (let i = 0; i < 3; i++) {
    t.same(lookupKeyring(secrets, 'quay.io/team/app').map((match) => `${match.secret} ${match.key.raw}`), first);
  }
  t.same(first, ['b quay.io/team', 'a quay.io']);
});

t.test('matches CredentialKeys built outside projectPullSecret by their normalised key', async (t) => {
  const view: PullSecretView = {
    name: 'handmade',
    type: 'kubernetes.io/dockerconfigjson',
    usable: true,
    problem: undefined,
    keys: [{ raw: 'https://quay.io/v2/team', key: 'quay.io/team', expiresAt: undefined, shortLived: false, anonymous: false }],
    expiresAt: undefined,
  };
  t.same(lookupKeyring([view], 'quay.io/team/app').map((match) => match.key.key), ['quay.io/team']);
  t.same(lookupKeyring([view], 'quay.io/other'), []);
});

// ---------------------------------------------------------------------------------------------
// Hosts that can never be DNS names are rejected before any glob runs.

const dnsLimits: Record<string, readonly [key: string, image: string, matches: boolean]> = {
  'a 63-byte label still matches a glob': ['*.com', `${'a'.repeat(63)}.com/app`, true],
  'a 64-byte label matches no key, not even `*`': ['*.com', `${'a'.repeat(64)}.com/app`, false],
  'a 64-byte label matches no literal key either': [`${'a'.repeat(64)}.com`, `${'a'.repeat(64)}.com/app`, false],
  'a 253-character host still matches': ['*.*.*.*.com', `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(57)}.com/app`, true],
  'a 254-character host matches nothing': ['*.*.*.*.com', `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(58)}.com/app`, false],
  'a port does not count towards the host length': [`${'a'.repeat(63)}.com:5000`, `${'a'.repeat(63)}.com:5000/app`, true],
  'a 100,000-byte label against a 10,000-byte glob answers no match': ['*' + 'a'.repeat(10_000) + 'b.com', `${'a'.repeat(100_000)}b.com/app`, false],
};
for (const [name, [key, image, expected]] of Object.entries(dnsLimits)) {
  t.test(name, async (t) => {
    t.equal(keyMatchesImage(key, image), expected);
  });
}

t.test('an image compiled for matching is kept from its second sighting: a one-off image is compiled and dropped', async (t) => {
  const image = 'registry.example.com/kept-from-second-sighting/app';
  const before = imageTargetMemoSize();
  const first = imageTarget(image);
  t.equal(imageTargetMemoSize(), before, 'seen once: not kept');
  const second = imageTarget(image);
  t.equal(imageTargetMemoSize(), before + 1, 'seen twice: kept');
  t.equal(imageTarget(image), second, 'later callers share the kept target');
  t.same(first, second);
  t.equal(keyMatchesImage('registry.example.com/kept-from-second-sighting', image), true);
});

// URLsMatchStr as the kubelet writes it, label by label (keyring.go), against keyMatchesImage, which
// compares a key of literal labels as one host string and splits an image's host only for globs.
t.test('keyMatchesImage agrees with a label-by-label URLsMatch over keys of literal and glob labels', async (t) => {
  const label = fc.constantFrom('a', 'b', 'io', 'ab', '*', 'a*', '*b', '?', '');
  const keyParts = fc.record({ labels: fc.array(label, { minLength: 1, maxLength: 4 }), port: fc.constantFrom('', '', ':5000', ':443'), path: fc.constantFrom('', '', '/x', '/x/y', '/') });
  // Images mostly made from the key (its globs filled in, a label or the port changed now and then), so many pairs match.
  const pair = keyParts.chain((key) =>
    fc.tuple(
      fc.constant(`${key.labels.join('.')}${key.port}${key.path}`),
      fc.record({
        fill: fc.array(fc.constantFrom('a', 'b', 'io', 'ab', 'xb'), { minLength: key.labels.length, maxLength: key.labels.length }),
        change: fc.constantFrom('none', 'none', 'none', 'label', 'port', 'count'),
        path: fc.constantFrom('/x', '/x/y/z', '/y', '/xy'),
      }).map(({ fill, change, path }) => {
        const labels = key.labels.map((value, at) => (/^[a-z]+$/.test(value) ? value : (fill[at] as string)));
        // Another label of the same length (the hosts differ, their lengths do not), or a longer one.
        const swapped: Record<string, string> = { a: 'b', b: 'a', io: 'oi', ab: 'ba', xb: 'bx', '': 'q' };
        if (change === 'label') labels[0] = swapped[labels[0] as string] ?? `${labels[0] as string}q`;
        if (change === 'count') labels.push('io');
        const port = change === 'port' ? (key.port === '' ? ':5000' : '') : key.port;
        return `${labels.join('.')}${port}${path}`;
      }),
    ),
  );
  const reference = (key: string, image: string): boolean => {
    const k = parseGoUrl(`https://${key}`);
    const i = parseGoUrl(`https://${image}`);
    if (k === undefined || i === undefined) return false;
    const kh = splitHostPort(k.host);
    const ih = splitHostPort(i.host);
    const kl = kh.host.split('.');
    const il = ih.host.split('.');
    if (kl.length !== il.length || kh.port !== ih.port || !i.path.startsWith(k.path)) return false;
    return kl.every((pattern, at) => {
      const glob = compileGlob(pattern);
      return glob.valid && globMatches(glob, il[at] as string);
    });
  };
  let matched = 0;
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(pair, ([key, image]) => {
        const expected = reference(key, image);
        if (expected) matched++;
        if (keyMatchesImage(key, image) !== expected) throw new Error(`${key} vs ${image}: expected ${expected}`);
        // The same image again, now compiled and kept (second sighting): the same answer.
        if (keyMatchesImage(key, imageTarget(image)) !== expected) throw new Error(`${key} vs ${image} (kept target): expected ${expected}`);
      }),
      { numRuns: 5000 },
    ),
  );
  t.ok(matched > 200, `${matched} of the generated pairs match`);
});
