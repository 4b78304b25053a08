import fc from 'fast-check';
import t, { type Test } from 'tap';
import { buildSecretObject, projectPullSecret } from '../../src/credentials/dockerconfig.ts';
import { decodeGoBase64 } from '../../src/credentials/go-base64.ts';
import { compileGlob, globMatches } from '../../src/credentials/go-glob.ts';
import { isDockerHubImage, keyMatchesImage, lookupKeyring, parseKeyringKey, plainImageUrl } from '../../src/credentials/keyring.ts';
import { parseGoUrl } from '../../src/credentials/go-url.ts';
import type { PullSecretView } from '../../src/credentials/types.ts';

const JSON_TYPE = 'kubernetes.io/dockerconfigjson';
const CFG_TYPE = 'kubernetes.io/dockercfg';

function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

/** Any string, including lone surrogates and control characters. */
const anyString = fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), fc.string());

/** Runs a fast-check property as one tap assertion (fc.assert throws the counterexample). */
function checkProperty(t: Test, property: fc.IProperty<unknown[]>, numRuns: number): void {
  t.doesNotThrow(() => fc.assert(property, { numRuns }), `holds for ${numRuns} generated cases`);
}

function assertConsistentView(view: PullSecretView): void {
  if (view.usable !== (view.problem === undefined)) throw new Error('usable must mean "no problem"');
  if (!Object.isFrozen(view) || !Object.isFrozen(view.keys)) throw new Error('views must be frozen');
  if (typeof view.name !== 'string' || typeof view.type !== 'string') throw new Error('name and type are strings');
}

/** Every value reachable from `value` (own enumerable properties). */
function* reachable(value: unknown, seen = new Set<unknown>()): Generator<unknown> {
  if (seen.has(value)) return;
  seen.add(value);
  yield value;
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) yield* reachable(child, seen);
  }
}

t.test('projectPullSecret never throws on arbitrary values', async (t) => {
  checkProperty(
    t,
    fc.property(fc.anything({ withNullPrototype: true, withBoxedValues: true, withMap: true, withSet: true, withTypedArray: true, withSparseArray: true }), (input) => {
      assertConsistentView(projectPullSecret(input));
    }),
    500,
  );
});

t.test('projectPullSecret never throws on secret-shaped objects with arbitrary fields', async (t) => {
  const secret = fc.record(
    {
      metadata: fc.oneof(fc.record({ name: fc.oneof(anyString, fc.anything()) }), fc.anything()),
      type: fc.oneof(fc.constantFrom(JSON_TYPE, CFG_TYPE, 'Opaque', ''), anyString, fc.anything()),
      data: fc.oneof(fc.dictionary(fc.constantFrom('.dockerconfigjson', '.dockercfg', 'x'), fc.oneof(anyString, fc.base64String(), fc.anything())), fc.anything()),
      stringData: fc.oneof(fc.dictionary(fc.constantFrom('.dockerconfigjson', '.dockercfg'), fc.oneof(anyString, fc.anything())), fc.anything()),
    },
    { requiredKeys: [] },
  );
  checkProperty(t, fc.property(secret, (input) => assertConsistentView(projectPullSecret(input))), 500);
});

t.test('projectPullSecret never throws on arbitrary payload strings, as data or stringData', async (t) => {
  checkProperty(
    t,
    fc.property(fc.constantFrom(JSON_TYPE, CFG_TYPE), anyString, fc.boolean(), (type, payload, asData) => {
      const key = type === JSON_TYPE ? '.dockerconfigjson' : '.dockercfg';
      const secret = asData
        ? { metadata: { name: 'p' }, type, data: { [key]: b64(payload) } }
        : { metadata: { name: 'p' }, type, stringData: { [key]: payload } };
      const view = projectPullSecret(secret);
      assertConsistentView(view);
      // A non-empty payload of a pull-secret type is either read or malformed, never "wrong type".
      if (Buffer.byteLength(payload) > 0 && view.problem?.kind === 'wrong-type') throw new Error('non-empty payload reported as wrong type');
    }),
    1000,
  );
});

t.test('projectPullSecret never throws on arbitrary JSON documents and auths entries', async (t) => {
  const entry = fc.oneof(
    fc.jsonValue(),
    fc.dictionary(fc.constantFrom('auth', 'Auth', 'username', 'password', 'email', 'identitytoken', 'x'), fc.oneof(fc.jsonValue(), fc.base64String(), anyString)),
  );
  const document = fc.oneof(
    fc.jsonValue(),
    fc.record({ auths: fc.dictionary(anyString, entry) }, { requiredKeys: [] }),
    fc.dictionary(fc.constantFrom('auths', 'AUTHS', 'HttpHeaders', 'credHelpers'), fc.oneof(fc.jsonValue(), fc.dictionary(anyString, entry))),
  );
  checkProperty(
    t,
    fc.property(document, fc.constantFrom(JSON_TYPE, CFG_TYPE), (doc, type) => {
      const key = type === JSON_TYPE ? '.dockerconfigjson' : '.dockercfg';
      assertConsistentView(projectPullSecret(buildSecretObject({ name: 'j', type, data: { [key]: JSON.stringify(doc) ?? 'null' } })));
    }),
    500,
  );
});

t.test('a view never holds a password, an auth value or the payload, and holds no functions', async (t) => {
  // Passwords draw from upper case and digits, keys from lower case: a password can only appear by leaking.
  const password = fc.stringMatching(/^[A-Z0-9]{16,32}$/);
  const registry = fc.stringMatching(/^[a-z]{1,8}(\.[a-z]{1,8}){0,2}(\/[a-z]{1,6})?$/);
  const username = fc.constantFrom('robot', 'AWS', 'oauth2accesstoken', '_json_key', '');
  const form = fc.constantFrom('auth', 'fields', 'both', 'bad-auth', 'no-colon');
  checkProperty(
    t,
    fc.property(fc.array(fc.tuple(registry, username, password, form), { minLength: 1, maxLength: 4 }), fc.constantFrom(JSON_TYPE, CFG_TYPE), (entries, type) => {
      const secrets: string[] = [];
      const config: Record<string, unknown> = {};
      for (const [host, user, secret, shape] of entries) {
        const auth = b64(`${user}:${secret}`);
        secrets.push(secret, auth);
        if (shape === 'auth') config[host] = { auth };
        else if (shape === 'fields') config[host] = { username: user, password: secret };
        else if (shape === 'both') config[host] = { auth, username: 'other', password: secret };
        else if (shape === 'bad-auth') config[host] = { auth: `${secret}*` };
        else config[host] = { auth: b64(secret) };
      }
      const dataKey = type === JSON_TYPE ? '.dockerconfigjson' : '.dockercfg';
      const object = buildSecretObject({ name: 'leak', type, data: { [dataKey]: JSON.stringify(type === JSON_TYPE ? { auths: config } : config) } });
      const payload = (object['data'] as Record<string, string>)[dataKey] as string;
      const view = projectPullSecret(object);
      const text = JSON.stringify(view);
      for (const value of [...secrets, payload]) {
        if (text.includes(value)) throw new Error('the view holds credential material');
      }
      for (const value of reachable(view)) {
        if (typeof value === 'function') throw new Error('the view holds a function (a closure could keep credentials)');
      }
    }),
    500,
  );
});

t.test('parseKeyringKey, keyMatchesImage and lookupKeyring never throw on arbitrary strings', async (t) => {
  checkProperty(
    t,
    fc.property(anyString, anyString, (raw, image) => {
      const key = parseKeyringKey(raw);
      if (key !== undefined && typeof key !== 'string') throw new Error('a key is a string or undefined');
      if (typeof keyMatchesImage(raw, image) !== 'boolean') throw new Error('keyMatchesImage answers a boolean');
      isDockerHubImage(image);
    }),
    2000,
  );
  checkProperty(
    t,
    fc.property(fc.array(fc.array(anyString, { maxLength: 4 }), { maxLength: 3 }), anyString, (secretKeys, image) => {
      const views = secretKeys.map((keys, index) =>
        projectPullSecret(buildSecretObject({ name: `s${index}`, type: JSON_TYPE, data: { '.dockerconfigjson': JSON.stringify({ auths: Object.fromEntries(keys.map((k) => [k, {}])) }) } })),
      );
      if (!Array.isArray(lookupKeyring(views, image))) throw new Error('lookupKeyring returns an array');
    }),
    500,
  );
});

t.test('parseKeyringKey normalises well-formed keys as the kubelet stores them', async (t) => {
  const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?$/);
  const host = fc.array(label, { minLength: 1, maxLength: 4 }).map((labels) => labels.join('.'));
  const port = fc.option(fc.integer({ min: 1, max: 65535 }).map((n) => `:${n}`), { nil: '' });
  const path = fc.option(fc.array(label, { minLength: 1, maxLength: 3 }).map((parts) => `/${parts.join('/')}`), { nil: '' });
  const scheme = fc.constantFrom('', 'https://', 'http://');
  const api = fc.constantFrom('', '/v1', '/v2');
  checkProperty(
    t,
    fc.property(scheme, host, port, api, path, fc.boolean(), (s, h, p, v, rest, slash) => {
      const tail = v !== '' && rest === '' && slash ? `${v}/` : `${v}${rest}${slash && rest !== '' ? '/' : ''}`;
      const raw = `${s}${h}${p}${tail}`;
      // Only a leading `/v1/` or `/v2/` (with its slash) is dropped; a lone `/` path disappears.
      const stripped = tail.startsWith('/v1/') || tail.startsWith('/v2/') ? tail.slice(3) : tail;
      const expected = stripped === '' || stripped === '/' ? `${h}${p}` : `${h}${p}${stripped}`;
      if (parseKeyringKey(raw) !== expected) throw new Error(`${raw}: ${parseKeyringKey(raw)} !== ${expected}`);
    }),
    1000,
  );
});

t.test('lookupKeyring returns exactly the matching keys, in reverse byte order, falling back only for Docker Hub', async (t) => {
  const keyText = fc.constantFrom(
    'quay.io', 'quay.io/team', 'quay.io/teamx', '*.io', '*.quay.io', 'a.quay.io', 'docker.io', 'index.docker.io',
    'https://index.docker.io/v1/', 'registry-1.docker.io', 'localhost:5000', 'localhost', '*', 'quay.io:443', 'https://quay.io/v2/team',
  );
  const image = fc.constantFrom(
    'quay.io/team/app', 'quay.io/teamx/app', 'a.quay.io/x', 'docker.io/library/nginx', 'localhost:5000/app', 'localhost/app', 'ghcr.io/org/app', 'quay.io:443/app',
  );
  const usable = fc.boolean();
  checkProperty(
    t,
    fc.property(fc.array(fc.tuple(fc.array(keyText, { maxLength: 4 }), usable), { maxLength: 4 }), image, (secretSpecs, name) => {
      const views = secretSpecs.map(([keys, ok], index) => {
        const entries = keys.map((key) => [key, ok ? {} : { username: 1 }]);
        return projectPullSecret(buildSecretObject({ name: `s${index}`, type: JSON_TYPE, data: { '.dockerconfigjson': JSON.stringify({ auths: Object.fromEntries(entries) }) } }));
      });
      const result = lookupKeyring(views, name);
      const direct = views.filter((view) => view.usable).flatMap((view) => view.keys.filter((key) => keyMatchesImage(key.key, name)));
      if (direct.length > 0) {
        if (result.length !== direct.length) throw new Error('every matching key of a usable secret comes back, once');
        result.forEach((match, i) => {
          if (match.viaDockerHubFallback || !keyMatchesImage(match.key.key, name)) throw new Error('only direct matches');
          const previous = result[i - 1];
          if (previous !== undefined && Buffer.compare(Buffer.from(previous.key.key), Buffer.from(match.key.key)) < 0) throw new Error('reverse byte order');
        });
      } else {
        const hub = views.filter((view) => view.usable).flatMap((view) => view.keys.filter((key) => key.key === 'index.docker.io'));
        const expected = isDockerHubImage(name) ? hub.length : 0;
        if (result.length !== expected || result.some((match) => !match.viaDockerHubFallback)) throw new Error('fallback to index.docker.io only');
      }
    }),
    1000,
  );
});

t.test('glob labels agree with a regular-expression model of `*` and `?`', async (t) => {
  const pattern = fc.string({ unit: fc.constantFrom('a', 'b', '*', '?'), maxLength: 6 });
  const name = fc.string({ unit: fc.constantFrom('a', 'b'), maxLength: 6 });
  checkProperty(
    t,
    fc.property(pattern, name, (p, n) => {
      const model = new RegExp(`^${p.replaceAll('*', '[^/]*').replaceAll('?', '.')}$`).test(n);
      if (globMatches(compileGlob(p), n) !== model) throw new Error(`${p} vs ${n}`);
    }),
    2000,
  );
});

t.test('Go base64 decoding round-trips and enforces padding both ways', async (t) => {
  checkProperty(
    t,
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      const padded = Buffer.from(bytes).toString('base64');
      const raw = padded.replace(/=+$/, '');
      const same = (decoded: Uint8Array | undefined): boolean => decoded !== undefined && Buffer.from(decoded).equals(Buffer.from(bytes));
      if (!same(decodeGoBase64(padded, true))) throw new Error('StdEncoding round trip');
      if (!same(decodeGoBase64(raw, false))) throw new Error('RawStdEncoding round trip');
      if (padded !== raw && decodeGoBase64(padded, false) !== undefined) throw new Error('RawStdEncoding rejects padding');
      if (padded !== raw && decodeGoBase64(raw, true) !== undefined) throw new Error('StdEncoding requires padding');
      if (!same(decodeGoBase64(padded.replace(/(.{4})/g, '$1\r\n'), true))) throw new Error('newlines are skipped');
    }),
    1000,
  );
});

t.test('glob work on a DNS label is bounded whatever the pattern length (steps counted, not timed)', async (t) => {
  // 64 positions x 64 bytes per chunk start, for at most 64 chunks that advance: 64^3 bounds any
  // pattern against a 63-byte label; the pattern's own length only adds its chunk count.
  const bound = (pattern: string): number => 64 ** 3 + pattern.length + 1;
  const patternChar = fc.constantFrom('a', 'b', '*', '?', '[ab]');
  checkProperty(
    t,
    fc.property(fc.array(patternChar, { maxLength: 3000 }), fc.string({ unit: fc.constantFrom('a', 'b'), maxLength: 63 }), (parts, label) => {
      const pattern = parts.join('');
      const counter = { spent: 0 };
      globMatches(compileGlob(pattern), label, counter);
      if (counter.spent > bound(pattern)) throw new Error(`${counter.spent} steps for a ${pattern.length}-byte pattern`);
    }),
    300,
  );
  for (const pattern of ['*' + 'a'.repeat(10_000) + 'b', '*a'.repeat(5_000), ('*' + 'a'.repeat(31)).repeat(300) + 'b', '*' + '?'.repeat(62) + 'b']) {
    const counter = { spent: 0 };
    globMatches(compileGlob(pattern), 'a'.repeat(63), counter);
    t.ok(counter.spent <= bound(pattern), `${counter.spent} steps for ${pattern.slice(0, 12)}... (${pattern.length} bytes)`);
  }
});

t.test('plainImageUrl splits exactly as parseGoUrl parses https:// + the name, wherever it answers', (t) => {
  // Mostly the characters plain names are made of, with some that force the full parser.
  const plainish = fc.string({ unit: fc.constantFrom(...'abz09.-_/:'.split(''), 'A', '%', '@', '?', '#', '[', ']', ' ', 'é'), maxLength: 40 });
  const realistic = fc.tuple(
    fc.constantFrom('docker.io', 'harbor.corp.example.com', 'localhost:5000', 'registry:443', '10.0.0.1:8080', 'a-b.c', 'host:'),
    fc.array(fc.string({ unit: fc.constantFrom(...'ab09._-'.split('')), maxLength: 8 }), { maxLength: 4 }),
  ).map(([host, parts]) => [host, ...parts].join('/'));
  let answered = 0;
  checkProperty(t, fc.property(fc.oneof(plainish, realistic), (name) => {
    const plain = plainImageUrl(name);
    if (plain === undefined) return true;
    answered++;
    const parsed = parseGoUrl('https://' + name);
    return parsed !== undefined && parsed.host === plain.host && parsed.path === plain.path;
  }), 5_000);
  t.ok(answered > 500, `the fast path answered ${answered} names`);
  t.end();
});
