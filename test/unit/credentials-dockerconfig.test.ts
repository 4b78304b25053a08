import t, { type Test } from 'tap';
import { buildSecretObject, projectPullSecret } from '../../src/credentials/dockerconfig.ts';
import type { PullSecretView } from '../../src/credentials/types.ts';

const JSON_TYPE = 'kubernetes.io/dockerconfigjson';
const CFG_TYPE = 'kubernetes.io/dockercfg';

function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

/** A dockerconfigjson secret whose payload is `payload` verbatim (so duplicate keys and odd JSON survive). */
function configJson(payload: string, name = 'regcred'): Record<string, unknown> {
  return buildSecretObject({ name, type: JSON_TYPE, data: { '.dockerconfigjson': payload } });
}

function auths(entries: Record<string, unknown>): string {
  return JSON.stringify({ auths: entries });
}

const GOOD_AUTH = b64('user:not-a-real-password');

interface ProjectionCase {
  readonly secret: unknown;
  readonly usable: boolean;
  readonly problem?: 'wrong-type' | 'malformed';
  /** Exact detail, or a fragment it must contain. */
  readonly detail?: string;
  readonly detailIncludes?: readonly string[];
  /** Normalised keys, in order. */
  readonly keys?: readonly string[];
  readonly anonymous?: readonly boolean[];
}

const projections: Record<string, ProjectionCase> = {
  'reads the keys of a kubernetes.io/dockerconfigjson secret in the order it lists them': {
    secret: configJson(auths({ 'quay.io': { auth: GOOD_AUTH }, 'https://index.docker.io/v1/': { auth: GOOD_AUTH } })),
    usable: true,
    keys: ['quay.io', 'index.docker.io'],
  },
  'reads the flat map of a legacy kubernetes.io/dockercfg secret': {
    secret: buildSecretObject({ name: 'old', type: CFG_TYPE, data: { '.dockercfg': JSON.stringify({ 'quay.io': { auth: GOOD_AUTH } }) } }),
    usable: true,
    keys: ['quay.io'],
  },
  'ignores an Opaque secret and names the type a pull secret needs': {
    secret: buildSecretObject({ name: 'opaque', type: 'Opaque', data: { '.dockerconfigjson': auths({ 'quay.io': {} }) } }),
    usable: false,
    problem: 'wrong-type',
    detail: 'type Opaque; pull secrets must be kubernetes.io/dockerconfigjson',
    keys: [],
  },
  'treats a secret without a type as Opaque, as the API server defaults it': {
    secret: buildSecretObject({ name: 'untyped', data: { '.dockerconfigjson': auths({ 'quay.io': {} }) } }),
    usable: false,
    problem: 'wrong-type',
    detail: 'type Opaque; pull secrets must be kubernetes.io/dockerconfigjson',
  },
  'suggests kubernetes.io/dockercfg for a wrongly typed secret that holds only .dockercfg': {
    secret: buildSecretObject({ name: 'x', type: 'Opaque', data: { '.dockercfg': '{}' } }),
    usable: false,
    problem: 'wrong-type',
    detail: 'type Opaque; pull secrets must be kubernetes.io/dockercfg',
  },
  'ignores a dockerconfigjson secret whose data key is .dockercfg (type and key must pair)': {
    secret: buildSecretObject({ name: 'x', type: JSON_TYPE, data: { '.dockercfg': JSON.stringify({ 'quay.io': {} }) } }),
    usable: false,
    problem: 'wrong-type',
    detailIncludes: ['needs a non-empty data key .dockerconfigjson', 'the type should be kubernetes.io/dockercfg'],
  },
  'ignores a dockercfg secret that carries .dockerconfigjson': {
    secret: buildSecretObject({ name: 'x', type: CFG_TYPE, data: { '.dockerconfigjson': auths({}) } }),
    usable: false,
    problem: 'wrong-type',
    detailIncludes: ['needs a non-empty data key .dockercfg'],
  },
  'ignores a pull secret whose data key is empty': {
    secret: configJson(''),
    usable: false,
    problem: 'wrong-type',
  },
  'reads stringData, which the API server merges over data': {
    secret: buildSecretObject({
      name: 'x',
      type: JSON_TYPE,
      data: { '.dockerconfigjson': auths({ 'old.example.com': {} }) },
      stringData: { '.dockerconfigjson': auths({ 'new.example.com': {} }) },
    }),
    usable: true,
    keys: ['new.example.com'],
  },
  'treats a null stringData value as empty data, as the API server merge does': {
    secret: { metadata: { name: 'x' }, type: JSON_TYPE, data: { '.dockerconfigjson': b64(auths({ 'quay.io': {} })) }, stringData: { '.dockerconfigjson': null } },
    usable: false,
    problem: 'wrong-type',
  },
  'reports invalid base64 in data as malformed': {
    secret: { metadata: { name: 'x' }, type: JSON_TYPE, data: { '.dockerconfigjson': 'not base64!' } },
    usable: false,
    problem: 'malformed',
    detail: 'data key .dockerconfigjson is not valid base64',
  },
  'requires padding in data, as Go StdEncoding does': {
    secret: { metadata: { name: 'x' }, type: JSON_TYPE, data: { '.dockerconfigjson': 'e30' } },
    usable: false,
    problem: 'malformed',
  },
  'skips newlines inside base64 data, as Go does': {
    secret: { metadata: { name: 'x' }, type: JSON_TYPE, data: { '.dockerconfigjson': b64(auths({ 'quay.io': {} })).replace(/(.{8})/g, '$1\n') } },
    usable: true,
    keys: ['quay.io'],
  },
  'matches the auths field case-insensitively (`AUTHS`)': {
    secret: configJson('{"AUTHS":{"quay.io":{}}}'),
    usable: true,
    keys: ['quay.io'],
  },
  'folds `ſ` (U+017F) to `s` in field names, as Go encoding/json does': {
    secret: configJson('{"auth\u017f":{"quay.io":{"u\u017fername":"x"}}}'),
    usable: true,
    keys: ['quay.io'],
    anonymous: [false],
  },
  'merges two auths fields instead of replacing the first (Go decodes into the same map)': {
    secret: configJson('{"auths":{"a.example.com":{}},"Auths":{"b.example.com":{}}}'),
    usable: true,
    keys: ['a.example.com', 'b.example.com'],
  },
  'lets a later `auths: null` drop the keys read so far': {
    secret: configJson('{"auths":{"a.example.com":{}},"auths":null}'),
    usable: true,
    keys: [],
  },
  'keeps the last of duplicate keys': {
    secret: configJson(`{"auths":{"quay.io":{},"quay.io":{"auth":"${GOOD_AUTH}"}}}`),
    usable: true,
    keys: ['quay.io'],
    anonymous: [false],
  },
  'still creates a key for a null entry, with an empty (anonymous) credential': {
    secret: configJson('{"auths":{"quay.io":null}}'),
    usable: true,
    keys: ['quay.io'],
    anonymous: [true],
  },
  'still creates a key for an entry with only identitytoken, which the kubelet ignores': {
    secret: configJson(auths({ 'myacr.azurecr.io': { identitytoken: 'opaque-refresh-token' } })),
    usable: true,
    keys: ['myacr.azurecr.io'],
    anonymous: [true],
  },
  'still creates a key for an empty entry `{}`': {
    secret: configJson(auths({ 'quay.io': {} })),
    usable: true,
    keys: ['quay.io'],
    anonymous: [true],
  },
  'treats a top-level null payload as a usable secret with no keys': {
    secret: configJson('null'),
    usable: true,
    keys: [],
  },
  'ignores credHelpers, credsStore and unknown fields of any type': {
    secret: configJson(`{"credHelpers":{"gcr.io":"gcloud"},"credsStore":"desktop","x":[1,{"y":null}],"auths":{"quay.io":{"auth":"${GOOD_AUTH}","serveraddress":5}}}`),
    usable: true,
    keys: ['quay.io'],
  },
  'reports a numeric username as malformed, naming the key': {
    secret: configJson('{"auths":{"quay.io":{"username":5}}}'),
    usable: false,
    problem: 'malformed',
    detail: 'entry "quay.io": field username is a number, not a string',
  },
  'reports an entry that is a string as malformed': {
    secret: configJson('{"auths":{"quay.io":"user:pass"}}'),
    usable: false,
    problem: 'malformed',
    detail: 'entry "quay.io" is a string, not an object',
  },
  'reports a top-level array as malformed: the payload must be an object': {
    secret: configJson('[]'),
    usable: false,
    problem: 'malformed',
    detail: '.dockerconfigjson is an array, not a JSON object',
  },
  'reports an auths field that is not an object as malformed': {
    secret: configJson('{"auths":["quay.io"]}'),
    usable: false,
    problem: 'malformed',
    detail: 'auths is an array, not an object',
  },
  'reports a non-string HttpHeaders value as malformed (Go types that field)': {
    secret: configJson('{"auths":{},"HttpHeaders":{"X-Meta":1}}'),
    usable: false,
    problem: 'malformed',
  },
  'reports invalid JSON (a trailing comma) as malformed': {
    secret: configJson('{"auths":{"quay.io":{}},}'),
    usable: false,
    problem: 'malformed',
    detailIncludes: ['not valid JSON'],
  },
  'rejects a leading byte-order mark, as Go JSON decoding does': {
    secret: configJson('\ufeff' + auths({ 'quay.io': {} })),
    usable: false,
    problem: 'malformed',
  },
  'accepts nesting 10000 levels deep, the Go scanner limit': {
    secret: configJson(`{"x":${'['.repeat(9999)}${']'.repeat(9999)},"auths":{"quay.io":{}}}`),
    usable: true,
    keys: ['quay.io'],
  },
  'rejects nesting deeper than 10000 levels, as the Go scanner does': {
    secret: configJson(`{"x":${'['.repeat(10000)}${']'.repeat(10000)},"auths":{"quay.io":{}}}`),
    usable: false,
    problem: 'malformed',
  },
  'does not let a later null erase an earlier bad auth (Go ignores null for strings)': {
    secret: configJson('{"auths":{"quay.io":{"auth":"!!","auth":null}}}'),
    usable: false,
    problem: 'malformed',
  },
  'accepts an unpadded auth, which the kubelet decodes with RawStdEncoding': {
    secret: configJson(auths({ 'quay.io': { auth: GOOD_AUTH.replace(/=+$/, '') } })),
    usable: true,
    anonymous: [false],
  },
  'rejects an auth with wrong padding': {
    secret: configJson(auths({ 'quay.io': { auth: b64('ab:c').replace('==', '=') } })),
    usable: false,
    problem: 'malformed',
    detail: 'entry "quay.io": auth is not valid base64',
  },
  'rejects data after the padding of an auth': {
    secret: configJson(auths({ 'quay.io': { auth: b64('ab:c') + 'QQ' } })),
    usable: false,
    problem: 'malformed',
  },
  'accepts a newline inside an auth, as Go base64 skips it': {
    secret: configJson(auths({ 'quay.io': { auth: GOOD_AUTH.slice(0, 8) + '\n' + GOOD_AUTH.slice(8) } })),
    usable: true,
  },
  'rejects the URL-safe base64 alphabet in an auth': {
    secret: configJson(auths({ 'quay.io': { auth: Buffer.from('u:p>>?').toString('base64url') } })),
    usable: false,
    problem: 'malformed',
  },
  'rejects an auth that decodes to text without a colon, naming the key': {
    secret: configJson(auths({ 'quay.io': { auth: b64('no-colon-here') } })),
    usable: false,
    problem: 'malformed',
    detail: 'entry "quay.io": auth does not decode to user:password',
    keys: ['quay.io'],
  },
  'skips keys that do not parse as URLs and keeps the secret usable': {
    secret: configJson(auths({ 'quay io': { auth: GOOD_AUTH }, 'bad%zz.example.com': { auth: GOOD_AUTH }, 'ghcr.io': { auth: GOOD_AUTH } })),
    usable: true,
    keys: ['ghcr.io'],
  },
  'reports a value that is not an object as not a Secret': {
    secret: 'kubernetes.io/dockerconfigjson',
    usable: false,
    problem: 'wrong-type',
    detail: 'not a Secret object',
  },
};

function check(t: Test, view: PullSecretView, c: ProjectionCase): void {
  t.equal(view.usable, c.usable, 'usable');
  t.equal(view.problem?.kind, c.usable ? undefined : c.problem, 'problem kind');
  if (c.detail !== undefined) t.equal(view.problem?.detail, c.detail, 'detail');
  for (const fragment of c.detailIncludes ?? []) t.match(view.problem?.detail ?? '', fragment, `detail mentions ${fragment}`);
  if (c.keys !== undefined) t.same(view.keys.map((key) => key.key), c.keys, 'keys');
  if (c.anonymous !== undefined) t.same(view.keys.map((key) => key.anonymous), c.anonymous, 'anonymous');
}

for (const [name, c] of Object.entries(projections)) {
  t.test(name, async (t) => check(t, projectPullSecret(c.secret), c));
}

t.test('keeps the secret name and the stored type', async (t) => {
  const view = projectPullSecret(buildSecretObject({ name: 'regcred', type: 'kubernetes.io/basic-auth', data: {} }));
  t.equal(view.name, 'regcred');
  t.equal(view.type, 'kubernetes.io/basic-auth');
  t.equal(view.problem?.detail, 'type kubernetes.io/basic-auth; pull secrets must be kubernetes.io/dockerconfigjson');
});

t.test('reports non-object inputs as not a Secret without throwing', async (t) => {
  for (const input of [null, undefined, 42, [], ['a'], true]) {
    const view = projectPullSecret(input);
    t.equal(view.usable, false, `${JSON.stringify(input)} is not usable`);
    t.equal(view.problem?.kind, 'wrong-type');
  }
});

t.test('survives a secret object whose getter throws, reporting it malformed', async (t) => {
  const hostile = {
    metadata: { name: 'x' },
    type: JSON_TYPE,
    get data(): never {
      throw new Error('boom');
    },
  };
  const view = projectPullSecret(hostile);
  t.equal(view.usable, false);
  t.equal(view.problem?.kind, 'malformed');
});

t.test('returns frozen views', async (t) => {
  const view = projectPullSecret(configJson(auths({ 'quay.io': { auth: GOOD_AUTH } })));
  t.ok(Object.isFrozen(view), 'view');
  t.ok(Object.isFrozen(view.keys), 'keys array');
  t.ok(view.keys.every((key) => Object.isFrozen(key)), 'each key');
});

// ---------------------------------------------------------------------------------------------
// auth precedence and token expiry

const HOUR_MS = 3_600_000;
const EXPIRES_S = 1_780_000_000;

function ecrPassword(expiration: unknown): string {
  return b64(JSON.stringify({ payload: 'cGF5bG9hZA==', datakey: 'a2V5', version: '2', type: 'DATA_KEY', expiration }));
}

interface ExpiryCase {
  readonly entries: Record<string, unknown>;
  readonly expiresAt: (number | undefined)[];
  readonly shortLived: boolean[];
  readonly secretExpiresAt: number | undefined;
}

const expiries: Record<string, ExpiryCase> = {
  'reads the expiry of an ECR token from its envelope, seconds to milliseconds': {
    entries: { '123456789012.dkr.ecr.eu-west-1.amazonaws.com': { username: 'AWS', password: ecrPassword(EXPIRES_S) } },
    expiresAt: [EXPIRES_S * 1000],
    shortLived: [true],
    secretExpiresAt: EXPIRES_S * 1000,
  },
  'reads the ECR envelope inside an auth value too': {
    entries: { '123456789012.dkr.ecr.eu-west-1.amazonaws.com': { auth: b64(`AWS:${ecrPassword(EXPIRES_S)}`) } },
    expiresAt: [EXPIRES_S * 1000],
    shortLived: [true],
    secretExpiresAt: EXPIRES_S * 1000,
  },
  'lets a non-empty auth win over username and password': {
    entries: { 'gcr.io': { auth: b64('oauth2accesstoken:ya29.token'), username: 'AWS', password: ecrPassword(EXPIRES_S) } },
    expiresAt: [undefined],
    shortLived: [true],
    secretExpiresAt: undefined,
  },
  'falls back to username and password when auth is empty': {
    entries: { 'ecr.example.com': { auth: '', username: 'AWS', password: ecrPassword(EXPIRES_S) } },
    expiresAt: [EXPIRES_S * 1000],
    shortLived: [true],
    secretExpiresAt: EXPIRES_S * 1000,
  },
  'does not guess an expiry for an AWS password that is not an envelope': {
    entries: { 'ecr.example.com': { username: 'AWS', password: 'plain-password' } },
    expiresAt: [undefined],
    shortLived: [false],
    secretExpiresAt: undefined,
  },
  'does not read an envelope under another username': {
    entries: { 'ecr.example.com': { username: 'deploy', password: ecrPassword(EXPIRES_S) } },
    expiresAt: [undefined],
    shortLived: [false],
    secretExpiresAt: undefined,
  },
  'ignores an envelope whose expiration is not a number': {
    entries: { 'ecr.example.com': { username: 'AWS', password: ecrPassword(String(EXPIRES_S)) } },
    expiresAt: [undefined],
    shortLived: [false],
    secretExpiresAt: undefined,
  },
  'marks oauth2accesstoken passwords short-lived without inventing an expiry': {
    entries: { 'europe-docker.pkg.dev': { username: 'oauth2accesstoken', password: 'ya29.token' } },
    expiresAt: [undefined],
    shortLived: [true],
    secretExpiresAt: undefined,
  },
  'treats _json_key service-account keys as long-lived': {
    entries: { 'gcr.io': { username: '_json_key', password: '{"type":"service_account"}' } },
    expiresAt: [undefined],
    shortLived: [false],
    secretExpiresAt: undefined,
  },
  'takes the earliest expiry over all keys for the secret': {
    entries: {
      'a.dkr.ecr.us-east-1.amazonaws.com': { username: 'AWS', password: ecrPassword(EXPIRES_S + 3600) },
      'b.dkr.ecr.us-east-1.amazonaws.com': { username: 'AWS', password: ecrPassword(EXPIRES_S) },
      'quay.io': { auth: GOOD_AUTH },
    },
    expiresAt: [EXPIRES_S * 1000 + HOUR_MS, EXPIRES_S * 1000, undefined],
    shortLived: [true, true, false],
    secretExpiresAt: EXPIRES_S * 1000,
  },
};

for (const [name, c] of Object.entries(expiries)) {
  t.test(name, async (t) => {
    const view = projectPullSecret(configJson(auths(c.entries)));
    t.equal(view.usable, true);
    t.same(view.keys.map((key) => key.expiresAt), c.expiresAt, 'expiresAt per key');
    t.same(view.keys.map((key) => key.shortLived), c.shortLived, 'shortLived per key');
    t.equal(view.expiresAt, c.secretExpiresAt, 'secret expiresAt');
  });
}

// ---------------------------------------------------------------------------------------------
// credentials never leave the parse

const PASSWORD = 'Sup3r-Secret-Passw0rd';

const leakCases: Record<string, Record<string, unknown>> = {
  'keeps no password given as username/password': buildSecretObject({
    name: 'x',
    type: JSON_TYPE,
    data: { '.dockerconfigjson': auths({ 'quay.io': { username: 'robot', password: PASSWORD } }) },
  }),
  'keeps no auth value nor the password inside it': buildSecretObject({
    name: 'x',
    type: JSON_TYPE,
    data: { '.dockerconfigjson': auths({ 'quay.io': { auth: b64(`robot:${PASSWORD}`) } }) },
  }),
  'names the offending key but never the value when an auth is malformed': buildSecretObject({
    name: 'x',
    type: JSON_TYPE,
    data: { '.dockerconfigjson': auths({ 'quay.io': { auth: `${PASSWORD}!` } }) },
  }),
  'names the key but not the value when the decoded auth has no colon': buildSecretObject({
    name: 'x',
    type: JSON_TYPE,
    data: { '.dockerconfigjson': auths({ 'quay.io': { auth: b64(PASSWORD) } }) },
  }),
  'keeps no ECR token': buildSecretObject({
    name: 'x',
    type: JSON_TYPE,
    data: { '.dockerconfigjson': auths({ 'ecr.example.com': { username: 'AWS', password: ecrPassword(EXPIRES_S) } }) },
  }),
};

for (const [name, secret] of Object.entries(leakCases)) {
  t.test(name, async (t) => {
    const view = projectPullSecret(secret);
    const text = JSON.stringify(view);
    const payload = ((secret['data'] as Record<string, string>)['.dockerconfigjson']) as string;
    const decoded = Buffer.from(payload, 'base64').toString('utf8');
    t.notMatch(text, PASSWORD, 'no password');
    t.notMatch(text, payload, 'no payload');
    for (const match of decoded.matchAll(/"(?:auth|password)":"([^"]+)"/g)) {
      t.notOk(text.includes(match[1] as string), 'no auth or password value');
    }
    if (view.problem !== undefined) t.match(view.problem.detail, '"quay.io"', 'the detail names the key');
  });
}

t.test('builds a Secret object whose data is the base64 of the given text', async (t) => {
  const secret = buildSecretObject({ name: 'n', namespace: 'ns', type: JSON_TYPE, data: { '.dockerconfigjson': '{"auths":{"é.io":{}}}' } });
  t.same(secret['metadata'], { name: 'n', namespace: 'ns' });
  t.equal(Buffer.from((secret['data'] as Record<string, string>)['.dockerconfigjson'] as string, 'base64').toString('utf8'), '{"auths":{"é.io":{}}}');
  t.same(projectPullSecret(secret).keys.map((key) => key.key), ['é.io']);
});
