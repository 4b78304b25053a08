// `pullguard audit` on a repository holding a Helm chart and Kustomize directories, with the real
// helm and kubectl (built by test/e2e/build-control-plane.sh; kubectl has `kubectl kustomize`):
// the chart and the overlays are rendered and audited as rendered, including the denial that only
// the overlay's patch introduces.
//   npx tap test/chart/audit-render.test.ts    (tools from $PULLGUARD_E2E_BIN_DIR, else the e2e cache)
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { defaultBinDir } from '../e2e/harness/control-plane.ts';
import { runCli } from '../helpers/cli.ts';
import { makeRepoFixture } from '../helpers/repo-fixture.ts';

const bin = defaultBinDir();
for (const tool of ['helm', 'kubectl']) {
  try {
    accessSync(join(bin, tool), constants.X_OK);
  } catch {
    throw new Error(`${tool} is not available in ${bin}: build it with \`bash test/e2e/build-control-plane.sh\` or set PULLGUARD_E2E_BIN_DIR`);
  }
}

interface JsonReport {
  summary: { deny: number; skipped: number; notAudited: number };
  results: { kind: string; namespace: string; name: string; source: string; decision: string; containers: { image: string }[] }[];
  notAudited: unknown[];
}

const fixture = makeRepoFixture();
t.teardown(() => fixture.cleanup());
const env = { PATH: bin, HOME: fixture.scratch, HELM_CACHE_HOME: join(fixture.scratch, 'helm-cache'), HELM_CONFIG_HOME: join(fixture.scratch, 'helm-config'), HELM_DATA_HOME: join(fixture.scratch, 'helm-data') };

t.test('with kubectl and helm on PATH, the chart and the overlays are rendered and the overlay patch\'s denial is found', async (t) => {
  const result = await runCli(['audit', fixture.root, '-o', 'json', '--namespace', 'shop'], '', env);
  t.equal(result.code, 1, `exit 1: the overlay is denied (stderr: ${result.stderr})`);
  const report = JSON.parse(result.stdout) as JsonReport;
  t.equal(report.summary.notAudited, 0);
  t.equal(report.summary.skipped, 5, 'the JSON patch, the data file, the binary, the dangling symlink and the loop');
  const byKey = new Map(report.results.map((entry) => [`${entry.kind}/${entry.namespace}/${entry.name}`, entry]));
  const overlay = byKey.get('Deployment/prod/web');
  t.equal(overlay?.decision, 'deny', 'rendered with the patch: the private image nothing covers');
  t.equal(overlay?.containers[0]?.image, 'private.example.net/shop/web:2.0.0');
  t.match(overlay?.source, /overlays\/prod\/ \(kustomize\)$/);
  const base = byKey.get('Deployment/shop/web');
  t.equal(base?.decision, 'allow', 'the base alone is fine (and --namespace placed it)');
  t.match(base?.source, /base\/ \(kustomize\)$/);
  const chart = byKey.get('Deployment/shop/shop-cart');
  t.equal(chart?.decision, 'allow');
  t.equal(chart?.containers[0]?.image, 'registry.k8s.io/pause:3.10', 'the template was rendered with its values');
  t.match(chart?.source, /charts\/shop\/ \(helm\) shop\/templates\/deployment\.yaml$/);
});

t.test('--helm-values reaches helm template', async (t) => {
  const { writeFileSync } = await import('node:fs');
  const values = join(fixture.scratch, 'values-prod.yaml');
  writeFileSync(values, 'image: private.example.net/shop/cart:9\n');
  const result = await runCli(['audit', join(fixture.root, 'charts'), '-o', 'json', '--helm-values', values], '', env);
  t.equal(result.code, 1);
  const report = JSON.parse(result.stdout) as JsonReport;
  t.equal(report.results[0]?.containers[0]?.image, 'private.example.net/shop/cart:9');
});
