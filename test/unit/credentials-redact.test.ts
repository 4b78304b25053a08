import fc from 'fast-check';
import t from 'tap';
import { admit } from '../../src/admission/admit.ts';
import { decodeAdmissionReview } from '../../src/admission/review.ts';
import { buildSecretObject, projectPullSecret } from '../../src/credentials/dockerconfig.ts';
import { lookupKeyring, parseKeyringKey } from '../../src/credentials/keyring.ts';
import { redactAuthsKey } from '../../src/credentials/redact.ts';
import { DEFAULT_POLICY } from '../../src/policy/default-policy.ts';
import { PolicyResolver } from '../../src/policy/resolve.ts';
import { auditObjects } from '../../src/report/audit.ts';
import { renderTable } from '../../src/report/table.ts';
import { snapshotFromObjects } from '../../src/snapshot/from-objects.ts';
import { admissionReview, dockerConfigJsonSecret, namespaceObject, pod } from '../helpers/objects.ts';

const redactions: Record<string, readonly [raw: string, shown: string]> = {
  'leaves a plain host untouched': ['quay.io', 'quay.io'],
  'leaves a URL with a path untouched': ['https://index.docker.io/v1/', 'https://index.docker.io/v1/'],
  'redacts user and password of a URL key': ['https://robot:s3cret@registry.example.com/v2/', 'https://REDACTED@registry.example.com/v2/'],
  'redacts userinfo of a key without a scheme': ['robot:s3cret@registry.example.com', 'REDACTED@registry.example.com'],
  'redacts up to the last @ of the authority, as Go url.Parse splits userinfo': ['https://a@b@host:5000/x', 'https://REDACTED@host:5000/x'],
  'redacts up to the last @ even in a path: no image path holds one, and it may be userinfo after a slash': ['https://host/team@2', 'https://REDACTED@2'],
  'redacts userinfo holding a slash': ['u:TOKEN/x@host', 'REDACTED@host'],
  'redacts userinfo holding a ? or a #': ['https://u:TO?K#EN@host/v2/', 'https://REDACTED@host/v2/'],
  'redacts userinfo after leading whitespace, and the whitespace with it': ['  https://u:TOKEN@host', 'REDACTED@host'],
  'redacts userinfo after a bare //': ['//user:TOKEN@host', 'REDACTED@host'],
  'redacts userinfo after a one-slash scheme': ['http:/u:TOKEN@host', 'REDACTED@host'],
  'keeps an upper-case scheme and redacts its userinfo': ['HTTPS://u:p@host', 'HTTPS://REDACTED@host'],
  'redacts a query after the host when userinfo is redacted too': ['u:p@host/x?a=b@c', 'REDACTED@c'],
  'redacts a query': ['host/path?access_token=abc', 'host/path?REDACTED'],
  'redacts a fragment': ['https://host/p#token', 'https://host/p#REDACTED'],
  'redacts userinfo and query together': ['http://u:p@host?t=1', 'http://REDACTED@host?REDACTED'],
};

for (const [name, [raw, shown]] of Object.entries(redactions)) {
  t.test(name, async (t) => {
    t.equal(redactAuthsKey(raw), shown);
  });
}

const SECRET_TEXT = 'hunter2-top-secret';
const AUTH = Buffer.from('user:password').toString('base64');

function secretWithKeys(entries: Record<string, unknown>) {
  return buildSecretObject({ name: 'regcred', type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': JSON.stringify({ auths: entries }) } });
}

t.test('a projected key keeps no userinfo, query or fragment of the auths key', async (t) => {
  const view = projectPullSecret(secretWithKeys({ [`https://robot:${SECRET_TEXT}@reg.example.com/v1/?sig=${SECRET_TEXT}`]: { auth: AUTH } }));
  t.equal(view.usable, true);
  t.same(view.keys.map((key) => [key.raw, key.key]), [['https://REDACTED@reg.example.com/v1/?REDACTED', 'reg.example.com']]);
  t.notMatch(JSON.stringify(view), SECRET_TEXT);
});

t.test('a problem detail that names an auths key shows it redacted', async (t) => {
  const view = projectPullSecret(secretWithKeys({ [`robot:${SECRET_TEXT}@reg.example.com`]: { auth: 'not base64 !' } }));
  t.equal(view.usable, false);
  t.match(view.problem?.detail, 'entry "REDACTED@reg.example.com": auth is not valid base64');
  t.notMatch(JSON.stringify(view), SECRET_TEXT);
});

t.test('keys that differ only in userinfo share one interned key object', async (t) => {
  const a = projectPullSecret(secretWithKeys({ 'https://a:one@reg.example.com': { auth: AUTH } }));
  const b = projectPullSecret(secretWithKeys({ 'https://b:two@reg.example.com': { auth: AUTH } }));
  t.equal(a.keys[0], b.keys[0]);
});

t.test('the normalised key of `HTTPS://u:p@host` (kept whole by the kubelet) is shown redacted and matches nothing', async (t) => {
  t.equal(parseKeyringKey('HTTPS://u:p@host'), 'HTTPS://u:p@host', 'the kubelet keeps it as host `HTTPS:` with path `//u:p@host`');
  const view = projectPullSecret(secretWithKeys({ [`HTTPS://robot:${SECRET_TEXT}@reg.example.com`]: { auth: AUTH } }));
  t.same(view.keys.map((key) => [key.raw, key.key]), [['HTTPS://REDACTED@reg.example.com', 'HTTPS://REDACTED@reg.example.com']]);
  t.same(lookupKeyring([view], 'reg.example.com/app'), []);
  t.notMatch(JSON.stringify(view), SECRET_TEXT);
});

t.test('a key the kubelet would store from text before its last @ (`TOKEN?@host`) is shown redacted and matches nothing', async (t) => {
  t.equal(parseKeyringKey(`reg.example.com?x=${SECRET_TEXT}@other`), 'reg.example.com', 'the kubelet stores the text before `?`');
  const view = projectPullSecret(secretWithKeys({ [`reg.example.com?x=${SECRET_TEXT}@other`]: { auth: AUTH } }));
  t.same(view.keys.map((key) => [key.raw, key.key]), [['REDACTED@other', 'REDACTED@other']]);
  t.same(lookupKeyring([view], 'reg.example.com/app'), [], 'that text may be a credential: it is not kept, so it cannot match');
  t.notMatch(JSON.stringify(view), SECRET_TEXT);
});

t.test('keys that redact alike but are stored differently keep their own matching', async (t) => {
  // `a@reg.example.com` is stored as `reg.example.com`; `b/c@reg.example.com` as `b/c@reg.example.com`.
  const view = projectPullSecret(secretWithKeys({ 'b/c@reg.example.com': { auth: AUTH }, 'a@reg.example.com': { auth: AUTH } }));
  t.same(view.keys.map((key) => key.key), ['REDACTED@reg.example.com', 'reg.example.com']);
  t.same(lookupKeyring([view], 'reg.example.com/app').map((match) => match.key.raw), ['REDACTED@reg.example.com'], 'only the key stored as reg.example.com matches');
  t.not(view.keys[0], view.keys[1]);
});

// ---------------------------------------------------------------------------------------------
// Property: a marker anywhere in a userinfo never shows, wherever keys are shown.

/** Upper case only: hosts and paths below are lower case, so the marker can only appear by leaking. */
const MARKER = 'ZQXJTOKENVW';
const looseChar = fc.constantFrom(...'abcXYZ019:/?#@%&=+ \t!$\'()*,;[]~_.-é\u0000'.split(''));
const loose = fc.string({ unit: looseChar, maxLength: 12 });
const userinfo = fc.tuple(loose, loose).map(([before, after]) => `${before}${MARKER}${after}`);
const scheme = fc.constantFrom('', 'https://', 'http://', 'HTTPS://', '//', 'http:/', ' ', '\t https://', 'docker://');
const hostPart = fc.stringMatching(/^[a-z0-9]([a-z0-9.-]{0,20}[a-z0-9])?(:[0-9]{1,5})?(\/[a-z0-9._\/-]{0,12})?(\?[a-z=&]{0,6})?(#[a-z]{0,4})?$/);
const authsKey = fc.tuple(scheme, userinfo, hostPart).map(([s, u, h]) => `${s}${u}@${h}`);

function leaks(value: unknown): boolean {
  return JSON.stringify(value).includes(MARKER);
}

t.test('redactAuthsKey hides a marker placed anywhere in a userinfo', async (t) => {
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(authsKey, (key) => {
        if (redactAuthsKey(key).includes(MARKER)) throw new Error(`leaks: ${JSON.stringify(key)} -> ${redactAuthsKey(key)}`);
      }),
      { numRuns: 3000 },
    ),
  );
});

t.test('no denial, warning, audit annotation, audit report or decision log shows a marker from a userinfo', async (t) => {
  const policy = new PolicyResolver(DEFAULT_POLICY);
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(authsKey, fc.boolean(), fc.constantFrom('validate', 'mutate'), (key, broken, phase) => {
        const entry = broken ? { auth: 'not base64 !' } : { auth: AUTH };
        const objects = [namespaceObject('team'), dockerConfigJsonSecret('team', 'keyed', { [key]: entry }), dockerConfigJsonSecret('team', 'other', { [`${key}x`]: null })];
        const snapshot = snapshotFromObjects(objects);
        const subject = pod({ namespace: 'team', imagePullSecrets: ['keyed'], containers: [{ name: 'app', image: 'registry.example.com/team/app:1' }, { name: 'hub', image: 'nginx:1.27' }] });
        const request = decodeAdmissionReview(admissionReview(subject));
        const outcome = admit(request, phase as 'validate' | 'mutate', { snapshot, policy, now: 0 });
        // The response carries the denial, warnings and audit annotations; the outcome is what the decision log line is built from.
        if (leaks(outcome.response) || leaks(outcome)) throw new Error(`admission leaks ${JSON.stringify(key)}`);
        const report = auditObjects([{ object: subject, source: 'pod.yaml:1' }], snapshot, policy, 0);
        if (leaks(report) || renderTable(report, { color: false }).includes(MARKER)) throw new Error(`audit leaks ${JSON.stringify(key)}`);
        if (leaks(projectPullSecret(objects[1]))) throw new Error(`the view leaks ${JSON.stringify(key)}`);
      }),
      { numRuns: 400 },
    ),
  );
});
