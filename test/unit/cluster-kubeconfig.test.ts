import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import t from 'tap';
import { KubeconfigError, loadClusterAccess } from '../../src/cluster/kubeconfig.ts';

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
