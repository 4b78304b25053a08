import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import type { LightAccess } from '../../src/cluster/kubeconfig-light.ts';
import { httpsKubeRest } from '../../src/cluster/rest-https.ts';
import { KubeApiError } from '../../src/cluster/rest.ts';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  remotePort: number | undefined;
}

/** A plain-HTTP stand-in for the API server on 127.0.0.1; `answer` decides each response. */
async function apiServer(t: Test, answer: (seen: Seen, response: ServerResponse) => void, host = '127.0.0.1'): Promise<{ server: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (body += chunk));
    request.on('end', () => {
      const one = { method: request.method ?? '', url: request.url ?? '', headers: request.headers, body, remotePort: request.socket.remotePort };
      seen.push(one);
      answer(one, response);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  t.teardown(() => server.closeAllConnections());
  return { server: `http://${host.includes(':') ? `[${host}]` : host}:${(server.address() as AddressInfo).port}`, seen };
}

function access(server: string): LightAccess {
  return { server, caPem: undefined, insecure: false, tlsServerName: undefined, authorization: 'Bearer not-a-real-token', cert: undefined, key: undefined, namespace: 'default', context: 'test', source: 'test' };
}

t.test('a GET sends the credentials and the query, and returns the parsed JSON', async (t) => {
  const { server, seen } = await apiServer(t, (_, response) => response.end(JSON.stringify({ kind: 'PodList', items: [] })));
  const rest = httpsKubeRest(access(server));
  const body = await rest.request({ method: 'GET', path: '/api/v1/pods', query: { limit: 500, continue: undefined, fieldSelector: 'type=kubernetes.io/dockercfg' } });
  t.same(body, { kind: 'PodList', items: [] });
  t.equal(seen[0]?.url, '/api/v1/pods?limit=500&fieldSelector=type%3Dkubernetes.io%2Fdockercfg');
  t.equal(seen[0]?.headers.authorization, 'Bearer not-a-real-token');
  t.equal(seen[0]?.headers.accept, 'application/json');
});

t.test('a server address with a path (a proxy in front of the API server) prefixes every request', async (t) => {
  const { server, seen } = await apiServer(t, (_, response) => response.end('{}'));
  await httpsKubeRest(access(`${server}/k8s/clusters/c-1/`)).request({ method: 'GET', path: '/api/v1/namespaces' });
  t.equal(seen[0]?.url, '/k8s/clusters/c-1/api/v1/namespaces');
});

t.test('a body is sent as JSON with the content type asked for (server-side apply)', async (t) => {
  const { server, seen } = await apiServer(t, (_, response) => response.end('{"ok":true}'));
  await httpsKubeRest({ ...access(server), authorization: undefined }).request({ method: 'PATCH', path: '/x', query: { fieldManager: 'pullguard', force: true }, body: { a: 'é' }, contentType: 'application/apply-patch+yaml' });
  t.equal(seen[0]?.method, 'PATCH');
  t.equal(seen[0]?.headers['content-type'], 'application/apply-patch+yaml');
  t.equal(seen[0]?.body, '{"a":"é"}');
  t.equal(seen[0]?.headers.authorization, undefined, 'no credentials configured: no Authorization header');
});

t.test('a character split across two network chunks is decoded whole', async (t) => {
  const { server } = await apiServer(t, (_, response) => {
    const bytes = Buffer.from(JSON.stringify({ name: 'ünïcødé-€' }), 'utf8');
    const cut = bytes.indexOf(0xe2) + 1; // inside the three bytes of €
    response.write(bytes.subarray(0, cut));
    setTimeout(() => response.end(bytes.subarray(cut)), 20);
  });
  t.same(await httpsKubeRest(access(server)).request({ method: 'GET', path: '/x' }), { name: 'ünïcødé-€' });
});

t.test('a non-2xx answer is a KubeApiError with the status and the Status reason and message', async (t) => {
  const { server } = await apiServer(t, (_, response) => {
    response.statusCode = 410;
    response.end(JSON.stringify({ kind: 'Status', reason: 'Expired', message: 'The provided continue parameter is too old' }));
  });
  const error = await httpsKubeRest(access(server)).request({ method: 'GET', path: '/api/v1/pods' }).catch((caught: unknown) => caught);
  t.ok(error instanceof KubeApiError);
  t.equal((error as KubeApiError).status, 410);
  t.equal((error as KubeApiError).reason, 'Expired');
  t.match((error as KubeApiError).message, /GET \/api\/v1\/pods: 410 Expired: The provided continue parameter is too old/);
});

t.test('an answer that is not JSON is an error, not a crash', async (t) => {
  const { server } = await apiServer(t, (_, response) => response.end('<html>proxy error</html>'));
  await t.rejects(httpsKubeRest(access(server)).request({ method: 'GET', path: '/x' }), { name: 'KubeApiError', message: /the answer is not JSON/ });
});

t.test('an empty 2xx answer is undefined (a DELETE that returns nothing)', async (t) => {
  const { server } = await apiServer(t, (_, response) => response.end());
  t.equal(await httpsKubeRest(access(server)).request({ method: 'DELETE', path: '/x' }), undefined);
});

t.test('a server that cannot be reached is a KubeApiError with status 0 naming the server', async (t) => {
  const { server } = await apiServer(t, () => undefined);
  const closedPort = server.replace(/:\d+$/, ':1');
  await t.rejects(httpsKubeRest(access(closedPort)).request({ method: 'GET', path: '/api' }), { name: 'KubeApiError', status: 0, message: /GET \/api: cannot reach http:\/\/127\.0\.0\.1:1/ });
});

t.test('a connection that stays silent past the idle timeout fails instead of hanging', async (t) => {
  const { server } = await apiServer(t, () => undefined);
  await t.rejects(httpsKubeRest(access(server), { idleTimeoutMs: 100 }).request({ method: 'GET', path: '/api' }), { name: 'KubeApiError', status: 0, message: /no data for 0\.1 s/ });
});

t.test('one connection serves consecutive requests (keep-alive)', async (t) => {
  const { server, seen } = await apiServer(t, (_, response) => response.end('{}'));
  const rest = httpsKubeRest(access(server));
  for (let index = 0; index < 3; index += 1) await rest.request({ method: 'GET', path: `/n${index}` });
  t.equal(new Set(seen.map((one) => one.remotePort)).size, 1, 'every request came from the same client port');
});

t.test('a server written as an IPv6 literal in brackets (in-cluster on an IPv6 cluster) is reached', async (t) => {
  const { server, seen } = await apiServer(t, (_, response) => response.end('{"kind":"APIVersions"}'), '::1');
  t.same(await httpsKubeRest(access(server)).request({ method: 'GET', path: '/api' }), { kind: 'APIVersions' });
  t.equal(seen[0]?.url, '/api');
});
