import { mkdtempSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { generateCertificates } from '../../src/certs/generate.ts';
import type { ExplainOutput } from '../../src/explain/types.ts';
import { runCli } from '../helpers/cli.ts';
import { b64, dockerConfigJsonSecret } from '../helpers/objects.ts';

const bundle = generateCertificates({ hosts: ['127.0.0.1'], validityDays: 1 });
const dir = mkdtempSync(join(tmpdir(), 'pullguard-probe-cli-'));
const caFile = join(dir, 'ca.crt');
writeFileSync(caFile, bundle.caCert);
const GOOD = `Basic ${b64('robot:right-password')}`;

t.test('explain --probe asks the registry with the pod\'s credential and reports the answer beside the diagnosis', async (t) => {
  const seen: string[] = [];
  const server = https.createServer({ cert: bundle.tlsCert, key: bundle.tlsKey }, (request, response) => {
    seen.push(`${request.method} ${request.url} ${request.headers.authorization === GOOD ? 'good' : request.headers.authorization === undefined ? 'none' : 'bad'}`);
    if (request.headers.authorization !== GOOD) {
      response.writeHead(401, { 'WWW-Authenticate': 'Basic realm="r"' });
      return response.end();
    }
    response.writeHead(request.url === '/v2/team/app/manifests/1.0' || request.url === '/v2/' ? 200 : 404, { 'Docker-Content-Digest': 'sha256:' + 'b'.repeat(64) });
    response.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const secret = (name: string, password: string) => dockerConfigJsonSecret('team', name, { [host]: { auth: b64(`robot:${password}`) } });
  const pod = (name: string, secretName: string, tag: string) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'team' },
    spec: { imagePullSecrets: [{ name: secretName }], containers: [{ name: 'app', image: `${host}/team/app:${tag}` }] },
  });
  const manifest = [secret('good', 'right-password'), secret('stale', 'revoked'), pod('ok', 'good', '1.0'), pod('revoked', 'stale', '1.0'), pod('typo', 'good', '9.9')].map((object) => JSON.stringify(object)).join('\n---\n');
  const result = await runCli(['explain', '-f', '-', '--probe', '--ca-file', caFile, '-o', 'json'], manifest);
  const output = JSON.parse(result.stdout) as ExplainOutput;
  const byPod = Object.fromEntries(output.explanations.map((explanation) => [explanation.object.name, explanation.containers[0]]));
  t.equal(byPod['ok']?.probe?.verdict, 'ok');
  t.equal(byPod['ok']?.probe?.credentialAccepted, true);
  t.equal(byPod['revoked']?.probe?.verdict, 'unauthorized');
  t.equal(byPod['revoked']?.probe?.credentialAccepted, false);
  t.match(byPod['revoked']?.diagnosis.notes.join('\n'), /probe \(with stale\): unauthorized/);
  t.equal(byPod['typo']?.probe?.verdict, 'not-found');
  for (const secretText of ['right-password', b64('robot:right-password'), b64('robot:revoked')]) t.notOk(result.stdout.includes(secretText), 'no credential in the output');
  t.ok(seen.includes('HEAD /v2/team/app/manifests/1.0 good'), 'the manifest was HEADed with the good credential');
  t.notOk(seen.some((line) => line.startsWith('GET /v2/team')), 'no manifest GET: a HEAD never counts as a pull');
  const text = await runCli(['explain', '-f', '-', '--probe', '--ca-file', caFile], manifest);
  t.match(text.stdout, /probe {7}ok/);
  t.match(text.stdout, /GET \/v2\/ 401 → HEAD \/v2\/team\/app\/manifests\/1\.0 200/);
});

t.test('probe flags without --probe are a usage error', async (t) => {
  const result = await runCli(['explain', '-f', 'examples/explain/pod.yaml', '--ca-file', caFile]);
  t.equal(result.code, 2);
  t.match(result.stderr, /go with --probe/);
});
