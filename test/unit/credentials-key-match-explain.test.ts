import fc from 'fast-check';
import t from 'tap';
import { explainKeyForImage, explainKeyMatch, type KeyMatchVerdict } from '../../src/credentials/key-match-explain.ts';
import { keyMatchesImage } from '../../src/credentials/keyring.ts';

const rows: Record<string, readonly [key: string, image: string, verdict: KeyMatchVerdict, detail: RegExp]> = {
  'a key equal to the registry host matches': ['registry.example.com', 'registry.example.com/team/app', 'match', /host, port match/],
  'a path key matches an image below it': ['quay.io/team', 'quay.io/team/app', 'match', /path prefix "\/team"/],
  'a path key is a string prefix, so quay.io/team also covers quay.io/teamx (kubelet quirk)': ['quay.io/team', 'quay.io/teamx/app', 'match', /match/],
  '*.example.com does not match example.com: label counts differ': ['*.example.com', 'example.com/app', 'label-count', /3 dot-separated labels.*2/],
  '*.example.com does not match a.b.example.com: * never crosses a dot': ['*.example.com', 'a.b.example.com/app', 'label-count', /never crosses a dot/],
  'a key without a port does not match an image with one': ['registry.example.com', 'registry.example.com:5000/app', 'port', /no port, the image port 5000/],
  'no port is not :443': ['registry.example.com:443', 'registry.example.com/app', 'port', /port 443, the image no port/],
  'a path key does not match a different path': ['quay.io/team', 'quay.io/other/app', 'path-prefix', /"\/team" is not a prefix of the image's path "\/other\/app"/],
  'a glob label that does not match names the label': ['*.dkr.ecr.us-east-1.amazonaws.com', '1234.dkr.ecr.eu-west-1.amazonaws.com/app', 'label-glob', /label "us-east-1" does not match "eu-west-1"/],
  'a glob label that matches': ['*.dkr.ecr.*.amazonaws.com', '1234.dkr.ecr.eu-west-1.amazonaws.com/app', 'match', /match/],
  'a key with a malformed glob never matches': ['[.example.com', 'a.example.com/app', 'key-unusable', /never matches/],
  'index.docker.io does not match docker.io images directly': ['index.docker.io', 'docker.io/library/nginx', 'label-count', /labels/],
  'registry-1.docker.io is not an alias of docker.io': ['registry-1.docker.io', 'docker.io/library/nginx', 'label-count', /labels/],
};

for (const [name, [key, image, verdict, detail]] of Object.entries(rows)) {
  t.test(name, async (t) => {
    const explained = explainKeyMatch(key, image);
    t.equal(explained.verdict, verdict);
    t.equal(explained.matches, verdict === 'match');
    t.equal(explained.matches, keyMatchesImage(key, image), 'agrees with the keyring');
    t.match(explained.detail, detail);
  });
}

t.test('the Docker Hub fallback: index.docker.io is used when no key matched a Docker Hub image', async (t) => {
  const fallback = explainKeyForImage('index.docker.io', 'docker.io/library/nginx', false);
  t.equal(fallback.matches, true);
  t.equal(fallback.viaDockerHubFallback, true);
  t.match(fallback.detail, /Docker Hub fallback/);
});

t.test('the Docker Hub fallback is not used when another key matched', async (t) => {
  t.equal(explainKeyForImage('index.docker.io', 'docker.io/library/nginx', true).matches, false);
});

t.test('the Docker Hub fallback is not used for other registries', async (t) => {
  t.equal(explainKeyForImage('index.docker.io', 'quay.io/team/app', false).matches, false);
});

t.test('the fallback reads exactly index.docker.io, not a path below it', async (t) => {
  t.equal(explainKeyForImage('index.docker.io/acme', 'docker.io/acme/app', false).matches, false);
});

t.test('explainKeyMatch agrees with the keyring on generated keys and images', async (t) => {
  const label = fc.oneof(fc.constantFrom('a', 'b', '*', 'a*', 'x-1', '[a-c]', '?'), fc.stringMatching(/^[a-z0-9*?-]{0,4}$/));
  const host = fc.array(label, { minLength: 1, maxLength: 4 }).map((labels) => labels.join('.'));
  const port = fc.constantFrom('', ':5000', ':443', ':');
  const path = fc.constantFrom('', '/team', '/team/', '/teamx/app', '/a');
  const key = fc.tuple(host, port, path).map(([h, p, s]) => h + p + s);
  const image = fc.tuple(host, port, path).map(([h, p, s]) => h.replaceAll('*', 'z').replaceAll('?', 'q') + p + s);
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(fc.oneof(key, fc.string()), fc.oneof(image, fc.string()), (k, i) => explainKeyMatch(k, i).matches === keyMatchesImage(k, i)),
      { numRuns: 3000 },
    ),
  );
});
