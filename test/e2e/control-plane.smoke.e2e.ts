// Smoke test of the end-to-end control plane: the binaries from build-control-plane.sh start, the
// ServiceAccount admission plugin is really on, the apiserver survives a restart on the same etcd,
// and stop() leaves no process and no temp dir behind.
//   bash test/e2e/build-control-plane.sh   # once per machine
//   npx tap test/e2e/control-plane.smoke.e2e.ts
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { readVersions, startControlPlane, type ControlPlane } from './harness/control-plane.ts';
import { pidExists, pidsWithCommandLineContaining } from './harness/processes.ts';

interface PullSecretRef {
  name: string;
}
interface PodLike {
  spec?: { serviceAccountName?: string; imagePullSecrets?: PullSecretRef[] };
}

/** Overrides tap's 60 s default for this file: a cold apiserver start alone can take half a minute. */
const SMOKE_TIMEOUT_MS = 5 * 60_000;
t.setTimeout(SMOKE_TIMEOUT_MS);

const versions = readVersions();
const controlPlane: ControlPlane = await startControlPlane();
// Runs only if a test below failed before the last one stopped it: stop() is idempotent.
t.teardown(() => controlPlane.stop());

const namespace = `smoke-${randomBytes(4).toString('hex')}`;
const SA_SECRET = 'pull-from-service-account';

function podManifest(name: string, imagePullSecrets: PullSecretRef[] | undefined): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace },
    spec: {
      containers: [{ name: 'app', image: 'registry.pullguard.test/team/app:1.0' }],
      ...(imagePullSecrets === undefined ? {} : { imagePullSecrets }),
    },
  });
}

function pullSecretNames(pod: PodLike): string[] {
  return (pod.spec?.imagePullSecrets ?? []).map((ref) => ref.name);
}

t.test('the API server and kubectl are the pinned Kubernetes version', async (t) => {
  const server = await controlPlane.get('/version');
  t.equal(server.status, 200, '/version answers with the admin token');
  t.equal((JSON.parse(server.body) as { gitVersion?: string }).gitVersion, `v${versions.kubernetes}`);

  const { stdout } = await controlPlane.kubectl(['version', '--output=json']);
  const reported = JSON.parse(stdout) as { clientVersion?: { gitVersion?: string }; serverVersion?: { gitVersion?: string } };
  t.equal(reported.clientVersion?.gitVersion, `v${versions.kubernetes}`, 'kubectl is built from the same release');
  t.equal(reported.serverVersion?.gitVersion, `v${versions.kubernetes}`, 'kubectl reaches the server through the kubeconfig');
});

t.test('the ServiceAccount admission plugin applies its pod rules at CREATE', async (t) => {
  await controlPlane.kubectl(['create', 'namespace', namespace]);
  // No controller-manager: the `default` ServiceAccount exists only because we create it.
  await controlPlane.kubectl(['apply', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'default', namespace },
      imagePullSecrets: [{ name: SA_SECRET }],
    }),
  });

  const cases: { name: string; pod: string; podSecrets: PullSecretRef[] | undefined; stored: string[] }[] = [
    {
      name: "copies the ServiceAccount's pull secrets into a pod that lists none",
      pod: 'lists-none',
      podSecrets: undefined,
      stored: [SA_SECRET],
    },
    {
      name: "keeps a pod's own pull secrets and adds none of the ServiceAccount's",
      pod: 'lists-its-own',
      podSecrets: [{ name: 'pod-own-secret' }],
      stored: ['pod-own-secret'],
    },
  ];
  for (const c of cases) {
    await t.test(c.name, async (t) => {
      await controlPlane.kubectl(['create', '-f', '-'], { input: podManifest(c.pod, c.podSecrets) });
      const { stdout } = await controlPlane.kubectl(['get', 'pod', c.pod, '-n', namespace, '--output=json']);
      const stored = JSON.parse(stdout) as PodLike;
      t.same(pullSecretNames(stored), c.stored);
      t.equal(stored.spec?.serviceAccountName, 'default', 'the plugin also defaulted serviceAccountName');
    });
  }
});

t.test('kube-apiserver stops and comes back on the same port and etcd', async (t) => {
  const before = controlPlane.pids();
  if (before.apiserver === undefined) throw new Error('kube-apiserver is not running');
  await controlPlane.stopApiserver();
  t.notOk(pidExists(before.apiserver), 'the stopped apiserver process is gone');
  await t.rejects(controlPlane.get('/readyz'), { code: 'ECONNREFUSED' }, 'nothing listens while it is stopped');

  await controlPlane.startApiserver();
  const after = controlPlane.pids();
  t.not(after.apiserver, before.apiserver, 'a new apiserver process serves');
  t.equal(after.etcd, before.etcd, 'etcd kept running');
  const ready = await controlPlane.get('/readyz');
  t.equal(ready.status, 200, '/readyz answers again');
  const { stdout } = await controlPlane.kubectl(['get', 'pod', 'lists-none', '-n', namespace, '--output=json']);
  t.same(pullSecretNames(JSON.parse(stdout) as PodLike), [SA_SECRET], 'objects written before the restart are still there');
});

t.test('stop() leaves no process and no temp dir behind', async (t) => {
  const { etcd, apiserver } = controlPlane.pids();
  if (etcd === undefined || apiserver === undefined) throw new Error('control plane is not fully running');
  t.ok(existsSync(controlPlane.tmpDir), 'the temp dir exists while running');
  t.same(pidsWithCommandLineContaining(controlPlane.tmpDir).sort((a, b) => a - b), [etcd, apiserver].sort((a, b) => a - b), 'exactly our two servers use it');

  await controlPlane.stop();
  t.notOk(pidExists(etcd), 'etcd is gone');
  t.notOk(pidExists(apiserver), 'kube-apiserver is gone');
  t.same(pidsWithCommandLineContaining(controlPlane.tmpDir), [], 'no process mentions the temp dir');
  t.notOk(existsSync(controlPlane.tmpDir), 'the temp dir is removed');
});
