import t from 'tap';
import { isLatestOrUntagged, parseImageReference } from '../../src/image/reference.ts';

const SHA256 = `sha256:${'0123456789abcdef'.repeat(4)}`;
const SHA384 = `sha384:${'0123456789abcdef'.repeat(6)}`;
const SHA512 = `sha512:${'0123456789abcdef'.repeat(8)}`;
const IMAGE_ID = 'f'.repeat(64);

interface Parsed {
  readonly domain: string;
  readonly path: string;
  readonly name: string;
  readonly tag?: string;
  readonly digest?: string;
  readonly normalized: string;
}

const valid: Record<string, { readonly input: string; readonly expected: Parsed }> = {
  'puts a bare name under docker.io/library and pulls :latest': {
    input: 'nginx',
    expected: { domain: 'docker.io', path: 'library/nginx', name: 'docker.io/library/nginx', normalized: 'docker.io/library/nginx:latest' },
  },
  'keeps the tag of a bare Docker Hub name': {
    input: 'nginx:1.25',
    expected: { domain: 'docker.io', path: 'library/nginx', name: 'docker.io/library/nginx', tag: '1.25', normalized: 'docker.io/library/nginx:1.25' },
  },
  'treats a two-component name without dot, colon or upper case as a Docker Hub user repository': {
    input: 'bitnami/redis',
    expected: { domain: 'docker.io', path: 'bitnami/redis', name: 'docker.io/bitnami/redis', normalized: 'docker.io/bitnami/redis:latest' },
  },
  'adds library/ to a single-component path written with docker.io': {
    input: 'docker.io/nginx',
    expected: { domain: 'docker.io', path: 'library/nginx', name: 'docker.io/library/nginx', normalized: 'docker.io/library/nginx:latest' },
  },
  'rewrites index.docker.io to docker.io': {
    input: 'index.docker.io/library/nginx',
    expected: { domain: 'docker.io', path: 'library/nginx', name: 'docker.io/library/nginx', normalized: 'docker.io/library/nginx:latest' },
  },
  'rewrites index.docker.io and then adds library/ to a single-component path': {
    input: 'index.docker.io/nginx:1',
    expected: { domain: 'docker.io', path: 'library/nginx', name: 'docker.io/library/nginx', tag: '1', normalized: 'docker.io/library/nginx:1' },
  },
  'keeps registry-1.docker.io as its own registry, without library/': {
    input: 'registry-1.docker.io/x',
    expected: { domain: 'registry-1.docker.io', path: 'x', name: 'registry-1.docker.io/x', normalized: 'registry-1.docker.io/x:latest' },
  },
  'takes the whole first component as the registry, so a look-alike host is not the host it starts with': {
    input: 'myregistry.io.evil.com/x',
    expected: { domain: 'myregistry.io.evil.com', path: 'x', name: 'myregistry.io.evil.com/x', normalized: 'myregistry.io.evil.com/x:latest' },
  },
  'reads host:5000/app as a registry with a port and no tag': {
    input: 'host:5000/app',
    expected: { domain: 'host:5000', path: 'app', name: 'host:5000/app', normalized: 'host:5000/app:latest' },
  },
  'tells a registry port from a tag on the same reference': {
    input: 'host:5000/team/app:v1.2',
    expected: { domain: 'host:5000', path: 'team/app', name: 'host:5000/team/app', tag: 'v1.2', normalized: 'host:5000/team/app:v1.2' },
  },
  'reads localhost:5000 alone as docker.io/library/localhost with tag 5000': {
    input: 'localhost:5000',
    expected: { domain: 'docker.io', path: 'library/localhost', name: 'docker.io/library/localhost', tag: '5000', normalized: 'docker.io/library/localhost:5000' },
  },
  'reads a bare localhost as a Docker Hub library name': {
    input: 'localhost',
    expected: { domain: 'docker.io', path: 'library/localhost', name: 'docker.io/library/localhost', normalized: 'docker.io/library/localhost:latest' },
  },
  'treats localhost as a registry when a path follows it': {
    input: 'localhost/app',
    expected: { domain: 'localhost', path: 'app', name: 'localhost/app', normalized: 'localhost/app:latest' },
  },
  'treats localhost with a port as a registry when a path follows it': {
    input: 'localhost:5000/app:dev',
    expected: { domain: 'localhost:5000', path: 'app', name: 'localhost:5000/app', tag: 'dev', normalized: 'localhost:5000/app:dev' },
  },
  'takes an upper-case first component for a registry (upstream quirk)': {
    input: 'Foo/bar',
    expected: { domain: 'Foo', path: 'bar', name: 'Foo/bar', normalized: 'Foo/bar:latest' },
  },
  'keeps the case of a registry host as written': {
    input: 'Registry.Example.COM/app',
    expected: { domain: 'Registry.Example.COM', path: 'app', name: 'Registry.Example.COM/app', normalized: 'Registry.Example.COM/app:latest' },
  },
  'does not rewrite an upper-case INDEX.DOCKER.IO to docker.io': {
    input: 'INDEX.DOCKER.IO/nginx',
    expected: { domain: 'INDEX.DOCKER.IO', path: 'nginx', name: 'INDEX.DOCKER.IO/nginx', normalized: 'INDEX.DOCKER.IO/nginx:latest' },
  },
  'accepts nested paths on a registry': {
    input: 'us-docker.pkg.dev/project/repo/app:2024.01',
    expected: { domain: 'us-docker.pkg.dev', path: 'project/repo/app', name: 'us-docker.pkg.dev/project/repo/app', tag: '2024.01', normalized: 'us-docker.pkg.dev/project/repo/app:2024.01' },
  },
  'accepts an IPv4 registry with a port': {
    input: '192.168.1.10:5000/app:1',
    expected: { domain: '192.168.1.10:5000', path: 'app', name: '192.168.1.10:5000/app', tag: '1', normalized: '192.168.1.10:5000/app:1' },
  },
  'accepts a bracketed IPv6 registry with a port': {
    input: '[::1]:5000/foo',
    expected: { domain: '[::1]:5000', path: 'foo', name: '[::1]:5000/foo', normalized: '[::1]:5000/foo:latest' },
  },
  'accepts a bracketed IPv6 registry without a port': {
    input: '[2001:db8::1]/foo:v2',
    expected: { domain: '[2001:db8::1]', path: 'foo', name: '[2001:db8::1]/foo', tag: 'v2', normalized: '[2001:db8::1]/foo:v2' },
  },
  'pins a sha256 digest and pulls by it': {
    input: `gcr.io/project/app@${SHA256}`,
    expected: { domain: 'gcr.io', path: 'project/app', name: 'gcr.io/project/app', digest: SHA256, normalized: `gcr.io/project/app@${SHA256}` },
  },
  'drops the tag from the pull form when a digest is present, keeping both as written': {
    input: `nginx:latest@${SHA256}`,
    expected: { domain: 'docker.io', path: 'library/nginx', name: 'docker.io/library/nginx', tag: 'latest', digest: SHA256, normalized: `docker.io/library/nginx@${SHA256}` },
  },
  'accepts a sha384 digest of 96 hex digits': {
    input: `quay.io/org/app@${SHA384}`,
    expected: { domain: 'quay.io', path: 'org/app', name: 'quay.io/org/app', digest: SHA384, normalized: `quay.io/org/app@${SHA384}` },
  },
  'accepts a sha512 digest of 128 hex digits': {
    input: `quay.io/org/app@${SHA512}`,
    expected: { domain: 'quay.io', path: 'org/app', name: 'quay.io/org/app', digest: SHA512, normalized: `quay.io/org/app@${SHA512}` },
  },
  'reads sha256:<64 hex> without a name as image library/sha256 with a hex tag': {
    input: `sha256:${IMAGE_ID}`,
    expected: { domain: 'docker.io', path: 'library/sha256', name: 'docker.io/library/sha256', tag: IMAGE_ID, normalized: `docker.io/library/sha256:${IMAGE_ID}` },
  },
  'accepts a tag of exactly 128 characters': {
    input: `nginx:${'t'.repeat(128)}`,
    expected: { domain: 'docker.io', path: 'library/nginx', name: 'docker.io/library/nginx', tag: 't'.repeat(128), normalized: `docker.io/library/nginx:${'t'.repeat(128)}` },
  },
  'accepts upper case, underscores, dots and dashes in a tag': {
    input: 'app:_V1.0-RC_2',
    expected: { domain: 'docker.io', path: 'library/app', name: 'docker.io/library/app', tag: '_V1.0-RC_2', normalized: 'docker.io/library/app:_V1.0-RC_2' },
  },
  'accepts every path separator: one dot, one or two underscores, any run of dashes': {
    input: 'quay.io/a.b/c_d/e__f/g---h',
    expected: { domain: 'quay.io', path: 'a.b/c_d/e__f/g---h', name: 'quay.io/a.b/c_d/e__f/g---h', normalized: 'quay.io/a.b/c_d/e__f/g---h:latest' },
  },
  'accepts a Docker Hub path of 255 characters counting library/': {
    input: 'a'.repeat(247),
    expected: { domain: 'docker.io', path: `library/${'a'.repeat(247)}`, name: `docker.io/library/${'a'.repeat(247)}`, normalized: `docker.io/library/${'a'.repeat(247)}:latest` },
  },
  'leaves the registry out of the 255-character limit': {
    input: `registry.example.com/${'b'.repeat(255)}`,
    expected: { domain: 'registry.example.com', path: 'b'.repeat(255), name: `registry.example.com/${'b'.repeat(255)}`, normalized: `registry.example.com/${'b'.repeat(255)}:latest` },
  },
  'reads a dotted first component that cannot be a host as part of the path, with no registry (upstream quirk)': {
    input: 'a_b.com/app',
    expected: { domain: '', path: 'a_b.com/app', name: 'a_b.com/app', normalized: 'a_b.com/app:latest' },
  },
  'returns an already canonical reference unchanged': {
    input: 'docker.io/library/nginx:latest',
    expected: { domain: 'docker.io', path: 'library/nginx', name: 'docker.io/library/nginx', tag: 'latest', normalized: 'docker.io/library/nginx:latest' },
  },
};

for (const [sentence, { input, expected }] of Object.entries(valid)) {
  t.test(sentence, async (t) => {
    const result = parseImageReference(input);
    if (!result.ok) {
      t.fail(`expected ${JSON.stringify(input)} to parse, got: ${result.error}`);
      return;
    }
    t.strictSame(result.reference, {
      input,
      domain: expected.domain,
      path: expected.path,
      name: expected.name,
      tag: expected.tag,
      digest: expected.digest,
      normalized: expected.normalized,
    });
  });
}

const invalid: Record<string, { readonly input: string; readonly error: string }> = {
  'rejects the empty string': { input: '', error: 'invalid reference format' },
  'rejects an upper-case Docker Hub name, quoting it with library/': {
    input: 'Nginx',
    error: 'invalid reference format: repository name (library/Nginx) must be lowercase',
  },
  'rejects an upper-case path below an upper-case registry': {
    input: 'Foo/Bar',
    error: 'invalid reference format: repository name (Bar) must be lowercase',
  },
  'rejects an upper-case single component written with docker.io': {
    input: 'docker.io/Foo:1',
    error: 'invalid reference format: repository name (library/Foo) must be lowercase',
  },
  'rejects an upper-case path on a registry': {
    input: 'quay.io/Org/app',
    error: 'invalid reference format: repository name (Org/app) must be lowercase',
  },
  'rejects an upper-case first component that is no valid host either': {
    input: 'FOO_X/bar',
    error: 'invalid reference format: repository name must be lowercase',
  },
  'rejects a bare 64-hex image ID as a repository name': {
    input: IMAGE_ID,
    error: `invalid repository name (${'f'.repeat(24)}…${'f'.repeat(23)}), cannot specify 64-byte hexadecimal strings`,
  },
  'rejects a tag of 129 characters': { input: `nginx:${'t'.repeat(129)}`, error: 'invalid reference format' },
  'rejects a tag starting with a dot': { input: 'nginx:.v1', error: 'invalid reference format' },
  'rejects a tag starting with a dash': { input: 'nginx:-v1', error: 'invalid reference format' },
  'rejects an empty tag': { input: 'nginx:', error: 'invalid reference format' },
  'rejects two tags': { input: 'nginx:1:2', error: 'invalid reference format' },
  'rejects an empty digest': { input: 'nginx@', error: 'invalid reference format' },
  'rejects a digest without an algorithm': { input: `nginx@${IMAGE_ID}`, error: 'invalid reference format' },
  'rejects a digest shorter than 32 hex digits before checking its algorithm': {
    input: `nginx@sha256:${'a'.repeat(31)}`,
    error: 'invalid reference format',
  },
  'rejects a sha256 digest of the wrong length': {
    input: `nginx@sha256:${'a'.repeat(40)}`,
    error: 'invalid reference format: invalid checksum digest length',
  },
  'rejects a sha512 digest of sha256 length': {
    input: `nginx@sha512:${'a'.repeat(64)}`,
    error: 'invalid reference format: invalid checksum digest length',
  },
  'rejects upper-case hex in a registered digest': {
    input: `nginx@sha256:${'A'.repeat(64)}`,
    error: 'invalid reference format: invalid checksum digest format',
  },
  'rejects a well-formed digest of an unregistered algorithm': {
    input: `nginx@md5:${'a'.repeat(32)}`,
    error: 'invalid reference format: unsupported digest algorithm',
  },
  'rejects a multi-part digest algorithm as unsupported': {
    input: `nginx@sha256+b64:${'a'.repeat(64)}`,
    error: 'invalid reference format: unsupported digest algorithm',
  },
  'reports an upper-case digest algorithm after a tag as a bad digest': {
    input: `nginx:1@SHA256:${'a'.repeat(64)}`,
    error: 'invalid reference format: invalid checksum digest format',
  },
  'reports an upper-case digest algorithm without a tag as an upper-case name (upstream quirk)': {
    input: `nginx@SHA256:${'a'.repeat(64)}`,
    error: 'invalid reference format: repository name (library/nginx@SHA256) must be lowercase',
  },
  'rejects a Docker Hub path of 256 characters counting library/': {
    input: 'a'.repeat(248),
    error: 'invalid reference format: repository name must not be more than 255 characters',
  },
  'rejects a registry path of 256 characters': {
    input: `quay.io/${'b'.repeat(256)}`,
    error: 'invalid reference format: repository name must not be more than 255 characters',
  },
  'rejects a registry with an empty port': { input: 'host:/app', error: 'invalid reference format' },
  'rejects a registry with a non-numeric port': { input: 'host:port/app', error: 'invalid reference format' },
  'rejects a host label ending with a dash': { input: 'host-.com/app', error: 'invalid reference format' },
  'rejects a registry with an empty label': { input: 'host..com/app', error: 'invalid reference format' },
  'rejects an IPv6 address with a zone': { input: '[fe80::1%25eth0]:5000/app', error: 'invalid reference format' },
  'rejects an unbracketed IPv6 address': { input: '::1/app', error: 'invalid reference format' },
  'rejects a path starting with a dash': { input: '-nginx', error: 'invalid reference format' },
  'rejects a path ending with a separator': { input: 'nginx-', error: 'invalid reference format' },
  'rejects three underscores in a row': { input: 'a___b', error: 'invalid reference format' },
  'rejects two dots in a row': { input: 'a..b/c', error: 'invalid reference format' },
  'rejects an empty path component': { input: 'quay.io/a//b', error: 'invalid reference format' },
  'rejects a leading slash': { input: '/nginx', error: 'invalid reference format' },
  'rejects a trailing slash': { input: 'quay.io/app/', error: 'invalid reference format' },
  'rejects a registry with no path': { input: 'quay.io/', error: 'invalid reference format' },
  'rejects a URL scheme': { input: 'https://quay.io/app', error: 'invalid reference format' },
  'rejects surrounding whitespace': { input: ' nginx', error: 'invalid reference format' },
  'rejects two digests': { input: `nginx@${SHA256}@${SHA256}`, error: 'invalid reference format' },
  'rejects non-ASCII letters in a path': { input: 'ngïnx', error: 'invalid reference format' },
  'rejects non-ASCII capitals in a path as upper case': {
    input: 'quay.io/Ängel',
    error: 'invalid reference format: repository name (Ängel) must be lowercase',
  },
  'reports a Kelvin-sign K in a host as upper case, as Go lower-cases it to k': {
    input: '\u212Aube_x/app',
    error: 'invalid reference format: repository name must be lowercase',
  },
  'shortens a long repository name quoted in an error': {
    input: `quay.io/A${'b'.repeat(100)}`,
    error: `invalid reference format: repository name (A${'b'.repeat(23)}…${'b'.repeat(23)}) must be lowercase`,
  },
};

for (const [sentence, { input, error }] of Object.entries(invalid)) {
  t.test(sentence, async (t) => {
    t.strictSame(parseImageReference(input), { ok: false, input, error });
  });
}

const latestCases: Record<string, { readonly input: string; readonly latest: boolean }> = {
  'counts an untagged image as latest': { input: 'nginx', latest: true },
  'counts an explicit :latest tag as latest': { input: 'quay.io/app:latest', latest: true },
  'does not count another tag as latest': { input: 'nginx:1.25', latest: false },
  'compares the tag case-sensitively': { input: 'nginx:Latest', latest: false },
  'does not count a registry port as a tag, so host:5000/app is untagged': { input: 'host:5000/app', latest: true },
  'does not count a digest-pinned image as latest': { input: `nginx@${SHA256}`, latest: false },
  'does not count a digest-pinned image as latest even when tagged latest': { input: `nginx:latest@${SHA256}`, latest: false },
};

for (const [sentence, { input, latest }] of Object.entries(latestCases)) {
  t.test(sentence, async (t) => {
    const result = parseImageReference(input);
    if (!result.ok) {
      t.fail(`expected ${JSON.stringify(input)} to parse, got: ${result.error}`);
      return;
    }
    t.equal(isLatestOrUntagged(result.reference), latest);
  });
}
