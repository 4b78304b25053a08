// End-to-end check of `pullguard serve --reports` (issue 17) on the real kube-apiserver: two
// replicas of the webhook watch the cluster with the OpenReports CRDs installed from their upstream
// YAML (pinned in versions.env); only the one holding the Lease writes; the report of a planted
// violation appears, and after the fix the next refresh removes it.
//   npx tap test/e2e/serve-reports.e2e.ts
import t from 'tap';
import { startControlPlane } from './harness/control-plane.ts';
import { openReportsCrdFiles } from './harness/go-modules.ts';
import { POLICY_CONFIGMAP, POLICY_KEY, WEBHOOK_NAMESPACE, startWebhook, type Webhook } from './harness/webhook.ts';
import { UNCOVERED_REGISTRY, configMap, deployment, list, namespace, registrySecret, serviceAccount, uniqueName } from './fixtures/objects.ts';

t.setTimeout(6 * 60_000);

/** The shortest interval serve accepts; the first refresh comes one interval after start-up. */
const INTERVAL_SECONDS = 30;
/** One interval, the listing and the writes on a loaded machine. */
const REFRESH_WITHIN_MS = (INTERVAL_SECONDS + 60) * 1000;
const POLL_MS = 1_000;
const LEASE_NAME = 'pullguard-reports';

const app = uniqueName('sr-app');
const controlPlane = await startControlPlane();
t.teardown(() => controlPlane.stop());

for (const file of await openReportsCrdFiles()) await controlPlane.kubectl(['apply', '--server-side', '-f', file]);
for (const crd of ['reports.openreports.io', 'clusterreports.openreports.io']) await controlPlane.kubectl(['wait', '--for=condition=Established', `crd/${crd}`, '--timeout=60s']);

await controlPlane.kubectl(['apply', '-f', '-'], {
  input: JSON.stringify(
    list([
      namespace(WEBHOOK_NAMESPACE),
      configMap(WEBHOOK_NAMESPACE, POLICY_CONFIGMAP, { [POLICY_KEY]: 'mode: enforce\ndefaultAccess: secret\ninjection: { enabled: false }\ndockerHubAnonymous: ignore\n' }),
      namespace(app),
      serviceAccount(app),
      // The planted violation: a registry no pull secret covers.
      deployment(app, 'web', { containers: [{ image: `${UNCOVERED_REGISTRY}/app:1.0` }] }),
    ]),
  ),
});

const replicas = ['pullguard-0', 'pullguard-1'];
const webhooks: Webhook[] = [];
t.teardown(async () => {
  for (const webhook of webhooks) await webhook.dispose();
});
// Two replicas of one Deployment: the same flags, each its own POD_NAME (the chart sets it from the pod).
for (const podName of replicas) {
  webhooks.push(await startWebhook({ controlPlane, env: { POD_NAME: podName }, extraArgs: ['--reports', '--reports-interval', String(INTERVAL_SECONDS)] }));
}

interface ReportView {
  metadata: { name: string; namespace?: string };
  summary: Record<string, number>;
  results: { policy: string; result: string; resources: { kind: string; name: string }[]; properties: Record<string, string> }[];
}

async function getJson<T>(args: readonly string[]): Promise<T | undefined> {
  try {
    return JSON.parse((await controlPlane.kubectl([...args, '-o', 'json'])).stdout) as T;
  } catch (error) {
    if (/NotFound|not found/.test((error as Error).message)) return undefined;
    throw error;
  }
}

async function waitFor<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = REFRESH_WITHIN_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms (last: ${JSON.stringify(value)})\n${webhooks.map((webhook) => webhook.logPath).join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

const refreshes = (webhook: Webhook): number => webhook.logLines().filter((line) => line['msg'] === 'policy reports refreshed').length;
const said = (webhook: Webhook, message: string): boolean => webhook.logLines().some((line) => line['msg'] === message);
const LEADING = 'policy reports: this replica holds the Lease and writes the reports';
const FOLLOWING = 'policy reports: another replica holds the Lease and writes the reports';

t.test('the report of the planted violation appears, written by the one replica that holds the Lease', async (t) => {
  const report = await waitFor(`Report pullguard in ${app}`, () => getJson<ReportView>(['get', 'reports.openreports.io', 'pullguard', '-n', app]), (value) => value !== undefined);
  t.same(report?.results.map((entry) => `${entry.policy}:${entry.result} ${entry.resources[0]?.kind}/${entry.resources[0]?.name}`), ['NoMatchingCredential:fail Deployment/web']);
  t.equal(report?.results[0]?.properties['image'], `${UNCOVERED_REGISTRY}/app:1.0`);
  t.same(report?.summary, { pass: 0, fail: 1, warn: 0, error: 0, skip: 0 });
  const cluster = await getJson<ReportView>(['get', 'clusterreports.openreports.io', 'pullguard']);
  t.ok(cluster?.results.some((entry) => entry.policy === 'EnforcementReadiness' && entry.resources[0]?.name === app && entry.result === 'fail'), 'the cluster report says enforcing there would deny');

  // Both replicas have had their first refresh by now or soon: one leads, the other follows.
  await waitFor('both replicas decided who writes', async () => webhooks.map((webhook) => said(webhook, LEADING) || said(webhook, FOLLOWING)), (decided) => decided.every(Boolean), 60_000);
  const leaders = webhooks.filter((webhook) => said(webhook, LEADING));
  t.equal(leaders.length, 1, 'exactly one replica leads');
  const follower = webhooks.find((webhook) => !said(webhook, LEADING));
  t.ok(follower !== undefined && said(follower, FOLLOWING), 'the other one logged that it does not write');
  t.equal(follower === undefined ? -1 : refreshes(follower), 0, 'the follower never wrote');
  const lease = await getJson<{ spec: { holderIdentity?: string } }>(['get', 'lease', LEASE_NAME, '-n', WEBHOOK_NAMESPACE]);
  t.equal(lease?.spec.holderIdentity, replicas[webhooks.indexOf(leaders[0] as Webhook)], 'the Lease names the leader\'s POD_NAME');
});

t.test('after the fix, the next refresh removes the namespace\'s report and its failure from the cluster report', async (t) => {
  const leader = webhooks.find((webhook) => said(webhook, LEADING));
  const before = leader === undefined ? 0 : refreshes(leader);
  await controlPlane.kubectl(['apply', '-f', '-'], { input: JSON.stringify(registrySecret(app, 'creds', UNCOVERED_REGISTRY)) });
  await controlPlane.kubectl(['patch', 'deployment', 'web', '-n', app, '--type=json', '-p', JSON.stringify([{ op: 'add', path: '/spec/template/spec/imagePullSecrets', value: [{ name: 'creds' }] }])]);
  await waitFor(`Report pullguard in ${app} deleted`, () => getJson<ReportView>(['get', 'reports.openreports.io', 'pullguard', '-n', app]), (value) => value === undefined);
  const cluster = await getJson<ReportView>(['get', 'clusterreports.openreports.io', 'pullguard']);
  t.notOk(cluster?.results.some((entry) => entry.resources[0]?.name === app), 'the cluster report no longer lists the namespace');
  t.ok(leader !== undefined && refreshes(leader) > before, 'a later refresh of the same leader did it');
  t.equal(webhooks.filter((webhook) => refreshes(webhook) > 0).length, 1, 'still only one replica has ever written');
});
