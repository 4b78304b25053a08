import t from 'tap';
import { buildSecretObject, projectPullSecret } from '../../src/credentials/dockerconfig.ts';
import { redactAuthsKey } from '../../src/credentials/redact.ts';

const redactions: Record<string, readonly [raw: string, shown: string]> = {
  'leaves a plain host untouched': ['quay.io', 'quay.io'],
  'leaves a URL with a path untouched': ['https://index.docker.io/v1/', 'https://index.docker.io/v1/'],
  'redacts user and password of a URL key': ['https://robot:s3cret@registry.example.com/v2/', 'https://REDACTED@registry.example.com/v2/'],
  'redacts userinfo of a key without a scheme': ['robot:s3cret@registry.example.com', 'REDACTED@registry.example.com'],
  'redacts up to the last @ of the authority, as Go url.Parse splits userinfo': ['https://a@b@host:5000/x', 'https://REDACTED@host:5000/x'],
  'keeps an @ that is in the path, not the authority': ['https://host/team@2', 'https://host/team@2'],
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
