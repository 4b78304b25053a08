import t from 'tap';
import { parsePolicyObject } from '../../src/policy/load.ts';
import { PolicyResolver } from '../../src/policy/resolve.ts';
import { auditObjects } from '../../src/report/audit.ts';
import { renderTable } from '../../src/report/table.ts';
import { snapshotFromObjects } from '../../src/snapshot/from-objects.ts';
import { deployment, pod } from '../helpers/objects.ts';

const NOW = Date.parse('2026-06-01T12:00:00Z');

function policy(): PolicyResolver {
  const loaded = parsePolicyObject({});
  if (!loaded.ok) throw new Error('default policy must load');
  return new PolicyResolver(loaded.policy);
}

function audit(objects: readonly Record<string, unknown>[]) {
  return auditObjects(objects.map((object, index) => ({ object, source: `m.yaml:${index + 1}` })), snapshotFromObjects([]), policy(), NOW);
}

t.test('an object whose namespace is the empty string is audited in the default namespace', async (t) => {
  const report = audit([pod({ namespace: '', containers: [{ name: 'web', image: 'nginx:1.27' }] })]);
  t.equal(report.results[0]?.namespace, 'default');
});

t.test('a workload without a pod spec is reported as not checked instead of dropped', async (t) => {
  const broken = deployment({ name: 'no-template' }) as { spec: Record<string, unknown> };
  delete broken.spec['template'];
  const report = audit([broken as unknown as Record<string, unknown>, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm' } }]);
  t.equal(report.summary.objects, 1, 'the Deployment counts, the ConfigMap is not a workload');
  t.equal(report.results[0]?.name, 'no-template');
  t.match(report.results[0]?.skipped, /^spec\.template\.spec is missing or not an object: nothing was checked/);
  t.match(renderTable(report, { color: false }), /Deployment\/no-template[\s\S]*skipped: spec\.template\.spec is missing/);
});

t.test('the table shows control characters of names and images escaped, so a manifest cannot drive the terminal', async (t) => {
  const report = audit([pod({ name: 'evil\u001b[2J', containers: [{ name: 'app', image: 'nginx:1.27\u0007' }] })]);
  const table = renderTable(report, { color: false });
  t.notMatch(table, /[\u0000-\u0009\u000b-\u001f\u007f]/, 'no control character but newlines');
  t.match(table, 'Pod/evil\\x1b[2J');
  t.match(table, 'nginx:1.27\\x07');
});
