import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { PolicyReportObject } from '../../src/report/policyreport.ts';
import { runCli } from '../helpers/cli.ts';
import { deployment, pullSecret, serviceAccount } from '../helpers/objects.ts';

const dir = mkdtempSync(join(tmpdir(), 'pullguard-audit-policyreport-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const manifests = join(dir, 'manifests');
mkdirSync(manifests);
// shop: one workload pulls from a registry no secret covers (deny); team: everything is covered.
writeFileSync(
  join(manifests, 'shop.yaml'),
  [
    serviceAccount('shop', 'default'),
    deployment({ namespace: 'shop', name: 'web', containers: [{ name: 'app', image: 'vault.example.com/shop/web:1.0' }] }),
  ].map((object) => JSON.stringify(object)).join('\n---\n') + '\n',
);
writeFileSync(
  join(manifests, 'team.yaml'),
  [
    pullSecret('team', 'regcred', 'registry.example.com'),
    serviceAccount('team', 'default', 'regcred'),
    deployment({ namespace: 'team', name: 'api', containers: [{ name: 'api', image: 'registry.example.com/team/api:2.1' }] }),
  ].map((object) => JSON.stringify(object)).join('\n---\n') + '\n',
);
const policy = join(dir, 'policy.yaml');
writeFileSync(policy, 'mode: enforce\nregistries:\n  - hosts: ["vault.example.com", "registry.example.com"]\n    access: secret\n');

interface List {
  apiVersion: string;
  kind: string;
  items: PolicyReportObject[];
}

async function reports(...extra: string[]): Promise<{ code: number; list: List; stderr: string }> {
  const { code, stdout, stderr } = await runCli(['audit', manifests, '--policy', policy, '--now', '2026-06-01T12:00:00Z', '-o', 'policyreport', ...extra]);
  return { code, list: JSON.parse(stdout) as List, stderr };
}

t.test('-o policyreport prints a List of OpenReports Reports by default, one per namespace with results, and no cluster report', async (t) => {
  const { code, list } = await reports();
  t.equal(code, 1, 'the exit status is the audit\'s: something would be denied');
  t.equal(list.apiVersion, 'v1');
  t.equal(list.kind, 'List');
  t.same(list.items.map((item) => [item.apiVersion, item.kind, item.metadata.namespace, item.metadata.name]), [['openreports.io/v1alpha1', 'Report', 'shop', 'pullguard']]);
  const [report] = list.items;
  t.equal(report?.source, 'pullguard');
  t.same(report?.summary, { pass: 0, fail: report?.results.length, warn: 0, error: 0, skip: 0 }, 'the summary adds up');
  const failed = report?.results.find((entry) => entry.properties['container'] === 'app');
  t.equal(failed?.result, 'fail');
  t.same(failed?.resources, [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', namespace: 'shop' }]);
  t.equal(failed?.properties['image'], 'vault.example.com/shop/web:1.0');
  t.equal(failed?.properties['fieldPath'], 'spec.template.spec.containers[0].image');
  t.match(failed?.properties['manifest'], /shop\.yaml:\d+$/, 'each result names the file and line it came from');
  t.equal(failed?.timestamp.seconds, Date.parse('2026-06-01T12:00:00Z') / 1000, '--now stamps the results');
});

t.test('--report-api wgpolicyk8s.io/v1alpha2 prints Kyverno\'s PolicyReport kind, without the report-level source its CRD lacks', async (t) => {
  const { list } = await reports('--report-api', 'wgpolicyk8s.io/v1alpha2');
  t.same(list.items.map((item) => [item.apiVersion, item.kind]), [['wgpolicyk8s.io/v1alpha2', 'PolicyReport']]);
  t.equal(list.items[0]?.source, undefined);
});

t.test('--report-pass also reports the clean namespace, with a pass result that the summary counts', async (t) => {
  const { list } = await reports('--report-pass');
  t.same(list.items.map((item) => item.metadata.namespace), ['shop', 'team']);
  const team = list.items[1];
  t.same(team?.results.map((entry) => [entry.policy, entry.result, entry.resources[0]?.name]), [['ImagePullable', 'pass', 'api']]);
  t.equal(team?.summary.pass, 1);
});

t.test('policy-report flags that do not fit the offline audit are usage errors that say what to do', async (t) => {
  const cases: Record<string, { args: string[]; message: RegExp }> = {
    '--apply needs a cluster': { args: ['-o', 'policyreport', '--apply'], message: /--apply writes reports to a cluster and needs --cluster; .*-o policyreport \| kubectl apply -f -/ },
    'an unknown report API': { args: ['-o', 'policyreport', '--report-api', 'reports.example/v1'], message: /--report-api must be openreports.io\/v1alpha1 or wgpolicyk8s.io\/v1alpha2, got reports.example\/v1/ },
    '--report-api without -o policyreport': { args: ['-o', 'json', '--report-api', 'wgpolicyk8s.io/v1alpha2'], message: /--report-api shapes policy reports: use it with -o policyreport/ },
    '--report-pass without -o policyreport': { args: ['--report-pass'], message: /--report-pass shapes policy reports: use it with -o policyreport/ },
    '--only with -o policyreport': { args: ['-o', 'policyreport', '--only', 'deny'], message: /--only filters the listing; .*leave out --only with -o policyreport/ },
  };
  for (const [name, { args, message }] of Object.entries(cases)) {
    const { code, stdout, stderr } = await runCli(['audit', manifests, '--policy', policy, ...args]);
    t.equal(code, 2, `${name}: exit 2`);
    t.equal(stdout, '', `${name}: nothing on stdout`);
    t.match(stderr, message, name);
  }
});

t.test('the help names the format, the default report API and why it is the default', async (t) => {
  const { stdout } = await runCli(['audit', '--help']);
  t.match(stdout, /-o, --output FORMAT +table .*json, or policyreport/);
  t.match(stdout, /--report-api API +with -o policyreport: openreports.io\/v1alpha1 \(default: there is no\s+cluster to ask/);
});
