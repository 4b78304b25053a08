import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import t from 'tap';
import { KubeconfigError, loadClusterAccess } from '../../src/cluster/kubeconfig.ts';
import { contextNamespace, loadLightAccess } from '../../src/cluster/kubeconfig-light.ts';

const dir = mkdtempSync(join(tmpdir(), 'pullguard-kubeconfig-'));

function kubeconfig(name: string, body: { current?: string; clusters: string[]; contexts: Array<[string, string, string?]> }): string {
  const path = join(dir, name);
  const lines = ['apiVersion: v1', 'kind: Config', `current-context: "${body.current ?? ''}"`, 'clusters:'];
  for (const cluster of body.clusters) lines.push(`- name: ${cluster}`, '  cluster:', `    server: https://${cluster}.example:6443`);
  lines.push('users:', '- name: me', '  user:', '    token: not-a-real-token', 'contexts:');
  for (const [context, cluster, namespace] of body.contexts) {
    lines.push(`- name: ${context}`, '  context:', `    cluster: ${cluster}`, '    user: me', ...(namespace !== undefined ? [`    namespace: ${namespace}`] : []));
  }
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

const first = kubeconfig('first', { current: 'dev', clusters: ['a'], contexts: [['dev', 'a', 'shop']] });
const second = kubeconfig('second', { current: 'prod', clusters: ['a', 'b'], contexts: [['prod', 'b'], ['dev', 'b', 'other']] });
const home = join(dir, 'home');
mkdirSync(join(home, '.kube'), { recursive: true });
writeFileSync(join(home, '.kube', 'config'), '');

t.test('--kubeconfig wins and the namespace is the context\'s', async (t) => {
  const access = loadClusterAccess({ kubeconfig: first, env: { KUBECONFIG: second } });
  t.equal(access.context, 'dev');
  t.equal(access.namespace, 'shop');
  t.equal(access.kubeConfig.getCurrentCluster()?.server, 'https://a.example:6443');
});

t.test('KUBECONFIG files merge as kubectl merges them: the first current-context and the first definition of a name win', async (t) => {
  const access = loadClusterAccess({ env: { KUBECONFIG: [first, second].join(delimiter) }, home });
  t.equal(access.context, 'dev', 'the second file does not override the current context');
  t.equal(access.namespace, 'shop', 'context dev comes from the first file');
  t.equal(access.kubeConfig.getCurrentCluster()?.server, 'https://a.example:6443', 'cluster a comes from the first file');
  t.ok(access.kubeConfig.getContextObject('prod'), 'contexts only in later files are there');
});

t.test('--context picks another context; its namespace defaults to default', async (t) => {
  const access = loadClusterAccess({ env: { KUBECONFIG: [first, second].join(delimiter) }, context: 'prod' });
  t.equal(access.context, 'prod');
  t.equal(access.namespace, 'default');
  t.equal(access.kubeConfig.getCurrentCluster()?.server, 'https://b.example:6443');
});

t.test('an unknown --context is an error naming the known ones', async (t) => {
  t.throws(() => loadClusterAccess({ kubeconfig: first, context: 'nope' }), { name: 'KubeconfigError', message: /context "nope" not found .*contexts: dev/ });
});

t.test('missing files in KUBECONFIG are skipped, all missing is an error', async (t) => {
  t.equal(loadClusterAccess({ env: { KUBECONFIG: [join(dir, 'missing'), first].join(delimiter) } }).context, 'dev');
  t.throws(() => loadClusterAccess({ env: { KUBECONFIG: join(dir, 'missing') } }), KubeconfigError);
});

t.test('a missing --kubeconfig file is an error', async (t) => {
  t.throws(() => loadClusterAccess({ kubeconfig: join(dir, 'missing') }), { message: /no such file/ });
});

t.test('a file without a current context asks for --context', async (t) => {
  const none = kubeconfig('none', { clusters: ['a'], contexts: [['dev', 'a']] });
  t.throws(() => loadClusterAccess({ kubeconfig: none }), { message: /no usable current context.*--context/ });
  t.equal(loadClusterAccess({ kubeconfig: none, context: 'dev' }).context, 'dev');
});

t.test('in a pod: the ServiceAccount and its namespace', async (t) => {
  const root = join(dir, 'pod');
  const sa = join(root, 'var/run/secrets/kubernetes.io/serviceaccount');
  mkdirSync(sa, { recursive: true });
  writeFileSync(join(sa, 'token'), 'x');
  writeFileSync(join(sa, 'namespace'), 'pullguard');
  const access = loadClusterAccess({ env: { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' }, home: join(dir, 'nohome'), inClusterRoot: root });
  t.equal(access.source, 'in-cluster');
  t.equal(access.namespace, 'pullguard');
  t.equal(access.kubeConfig.getCurrentCluster()?.server, 'https://10.0.0.1:443');
});

t.test('nothing found is an error, never a silent localhost:8080', async (t) => {
  t.throws(() => loadClusterAccess({ env: {}, home: join(dir, 'nohome'), inClusterRoot: join(dir, 'nowhere') }), { message: /no kubeconfig found/ });
});

// --- the direct reader (no client-node), which explain uses to start fast

t.test('the direct reader merges like loadClusterAccess: first file wins, --context picks, the namespace defaults', async (t) => {
  const merged = await loadLightAccess({ env: { KUBECONFIG: [first, second].join(delimiter) } });
  t.equal(merged?.context, 'dev');
  t.equal(merged?.namespace, 'shop');
  t.equal(merged?.server, 'https://a.example:6443');
  t.equal(merged?.authorization, 'Bearer not-a-real-token');
  const prod = await loadLightAccess({ env: { KUBECONFIG: [first, second].join(delimiter) }, context: 'prod' });
  t.equal(prod?.server, 'https://b.example:6443');
  t.equal(prod?.namespace, 'default');
  await t.rejects(loadLightAccess({ kubeconfig: first, context: 'nope' }), { name: 'KubeconfigError', message: /context "nope" not found/ });
});

t.test('the direct reader resolves relative CA, certificate and token files against the kubeconfig, and reads inline data', async (t) => {
  const sub = join(dir, 'rel');
  mkdirSync(sub, { recursive: true });
  writeFileSync(join(sub, 'ca.pem'), 'CA-PEM');
  writeFileSync(join(sub, 'token'), 'file-token\n');
  const path = join(sub, 'config');
  writeFileSync(
    path,
    JSON.stringify({
      'current-context': 'c',
      clusters: [{ name: 'k', cluster: { server: 'https://k.example', 'certificate-authority': 'ca.pem', 'tls-server-name': 'api.k.example' } }],
      users: [{ name: 'u', user: { tokenFile: 'token', 'client-certificate-data': Buffer.from('CERT').toString('base64'), 'client-key-data': Buffer.from('KEY').toString('base64') } }],
      contexts: [{ name: 'c', context: { cluster: 'k', user: 'u', namespace: 'team' } }],
    }),
  );
  const access = await loadLightAccess({ kubeconfig: path });
  t.equal(access?.caPem, 'CA-PEM');
  t.equal(access?.authorization, 'Bearer file-token');
  t.equal(access?.cert, 'CERT');
  t.equal(access?.key, 'KEY');
  t.equal(access?.tlsServerName, 'api.k.example');
  t.equal(access?.namespace, 'team');
});

t.test('the direct reader runs an exec credential plugin with KUBERNETES_EXEC_INFO and uses its token', async (t) => {
  const plugin = join(dir, 'plugin.mjs');
  writeFileSync(
    plugin,
    `#!${process.execPath}\nconst info = JSON.parse(process.env.KUBERNETES_EXEC_INFO);\nprocess.stdout.write(JSON.stringify({ apiVersion: info.apiVersion, kind: 'ExecCredential', status: { token: 'exec-' + process.argv[2] + '-' + process.env.EXTRA } }));\n`,
    { mode: 0o755 },
  );
  const path = join(dir, 'exec-config');
  writeFileSync(
    path,
    JSON.stringify({
      'current-context': 'c',
      clusters: [{ name: 'k', cluster: { server: 'https://k.example' } }],
      users: [{ name: 'u', user: { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: plugin, args: ['arg'], env: [{ name: 'EXTRA', value: 'env' }] } } }],
      contexts: [{ name: 'c', context: { cluster: 'k', user: 'u' } }],
    }),
  );
  const access = await loadLightAccess({ kubeconfig: path, env: { PATH: process.env['PATH'] } });
  t.equal(access?.authorization, 'Bearer exec-arg-env');
});

t.test('the direct reader leaves legacy auth-provider users to client-node', async (t) => {
  const path = join(dir, 'provider-config');
  writeFileSync(
    path,
    JSON.stringify({
      'current-context': 'c',
      clusters: [{ name: 'k', cluster: { server: 'https://k.example' } }],
      users: [{ name: 'u', user: { 'auth-provider': { name: 'oidc', config: {} } } }],
      contexts: [{ name: 'c', context: { cluster: 'k', user: 'u' } }],
    }),
  );
  t.equal(await loadLightAccess({ kubeconfig: path }), undefined);
});

t.test('the direct reader in a pod: the ServiceAccount token, CA and namespace', async (t) => {
  const root = join(dir, 'pod');
  const access = await loadLightAccess({ env: { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' }, home: join(dir, 'nohome'), inClusterRoot: root });
  t.equal(access?.server, 'https://10.0.0.1:443');
  t.equal(access?.authorization, 'Bearer x');
  t.equal(access?.namespace, 'pullguard');
});

t.test('the namespace kubectl would use comes from the files alone, without running the exec plugin', async (t) => {
  const path = join(dir, 'exec-never-run');
  writeFileSync(
    path,
    JSON.stringify({
      'current-context': 'c',
      clusters: [{ name: 'k', cluster: { server: 'https://k.example' } }],
      users: [{ name: 'u', user: { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: join(dir, 'no-such-plugin') } } }],
      contexts: [{ name: 'c', context: { cluster: 'k', user: 'u', namespace: 'payments' } }, { name: 'bare', context: { cluster: 'k', user: 'u' } }],
    }),
  );
  t.equal(contextNamespace({ kubeconfig: path }), 'payments');
  t.equal(contextNamespace({ kubeconfig: path, context: 'bare' }), 'default');
  t.equal(contextNamespace({ env: { KUBECONFIG: [first, second].join(delimiter) }, context: 'prod' }), 'default', 'merged files: the first definition of a context wins');
  t.equal(contextNamespace({ env: { KUBECONFIG: [first, second].join(delimiter) } }), 'shop');
  t.throws(() => contextNamespace({ kubeconfig: path, context: 'nope' }), { name: 'KubeconfigError', message: /context "nope" not found/ });
});
