import t from 'tap';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { makeRepoFixture } from '../helpers/repo-fixture.ts';

interface JsonReport {
  summary: { objects: number; deny: number; skipped: number; notAudited: number };
  results: { kind: string; namespace: string; name: string; source: string; sources: string[]; copiesDiffer: boolean; decision: string }[];
  skipped: { source: string; line: number; reason: string }[];
  notAudited: { source: string; reason: string; command?: string }[];
}

const fixture = makeRepoFixture();
t.teardown(() => fixture.cleanup());
const relative = (path: string): string => path.replace(`${fixture.root}/`, '');

t.test('without kubectl, kustomize or helm on PATH, the repository is audited as far as it can be and the run says it is incomplete', async (t) => {
  const result = await runCli(['audit', fixture.root, '-o', 'json'], '', { PATH: '' });
  t.equal(result.code, 3, 'exit 3: incomplete');
  const report = JSON.parse(result.stdout) as JsonReport;
  t.same(report.results.map((entry) => `${entry.kind}/${entry.namespace}/${entry.name}`), ['Deployment/apps/api', 'Pod/linked/through-symlink'], 'every real workload, none from node_modules/ or .github/');
  const api = report.results[0];
  t.same(api?.sources.map(relative), ['apps/api-copy.yaml:1', 'apps/api.yaml:1'], 'the same object from two files is reported once, with both sources');
  t.equal(api?.copiesDiffer, false);
  t.same(
    report.skipped.map((entry) => `${relative(entry.source)}: ${entry.reason}`),
    [
      'apps/dangling.yaml: a dangling symlink (its target does not exist)',
      'apps/loop/: a symlink loop (it leads back to a directory being read); not entered',
      'data/logo.yaml: a binary file, not YAML or JSON',
      'data/settings.yaml: a mapping without kind, not a Kubernetes object',
      'patches/replicas.json: a JSON patch (a list of op/path operations), not a Kubernetes object',
    ],
  );
  t.equal(report.summary.skipped, 5);
  t.same(
    report.notAudited.map((entry) => `${relative(entry.source)} ${entry.reason}`),
    [
      'base/ a Kustomize directory, and neither kubectl nor kustomize is on PATH',
      'charts/shop/ a Helm chart, and helm is not on PATH',
      'overlays/prod/ a Kustomize directory, and neither kubectl nor kustomize is on PATH',
    ],
  );
  t.match(report.notAudited[1]?.command, /^helm template shop \S+charts\/shop \| pullguard audit -$/);
  t.match(report.notAudited[2]?.command, /^kubectl kustomize \S+overlays\/prod \| pullguard audit -$/);
  t.equal(result.stderr.split('\n').filter((line) => line.startsWith('pullguard audit: skipped ')).length, 5, 'one warning line per skipped input');
  t.equal(result.stderr.split('\n').filter((line) => line.startsWith('pullguard audit: NOT AUDITED ')).length, 3);
});

t.test('the table says loudly what was not audited and how to run it', async (t) => {
  const result = await runCli(['audit', fixture.root], '', { PATH: '' });
  t.equal(result.code, 3);
  t.match(result.stdout, /NOT AUDITED \(3\): the audit is incomplete\n {2}\S+base\/ {2}a Kustomize directory[^\n]*\n {4}run: kubectl kustomize /);
  t.match(result.stdout, /2 workloads, 2 containers: 0 would be denied.*; 5 inputs skipped \(not Kubernetes objects\), 3 inputs NOT AUDITED: the audit is incomplete\n$/);
});

t.test('--strict turns the skipped inputs into exit 2', async (t) => {
  const result = await runCli(['audit', '--strict', fixture.root, '-o', 'json'], '', { PATH: '' });
  t.equal(result.code, 2);
  t.equal((JSON.parse(result.stdout) as JsonReport).summary.skipped, 5, 'the report is still printed');
});

t.test('a rendering tool that fails leaves its directory not audited, with the tool\'s own words', async (t) => {
  const bin = mkdtempSync(join(tmpdir(), 'pullguard-fake-helm-'));
  t.teardown(() => rmSync(bin, { recursive: true, force: true }));
  writeFileSync(join(bin, 'helm'), '#!/bin/sh\necho "Error: found in Chart.yaml, but missing in charts/ directory: redis" >&2\nexit 1\n');
  chmodSync(join(bin, 'helm'), 0o755);
  const result = await runCli(['audit', join(fixture.root, 'charts'), '-o', 'json'], '', { PATH: bin });
  t.equal(result.code, 3);
  const report = JSON.parse(result.stdout) as JsonReport;
  t.equal(report.notAudited.length, 1);
  t.match(report.notAudited[0]?.reason, /^helm template shop \S+ failed: Error: found in Chart\.yaml, but missing in charts\/ directory: redis$/);
});

t.test('a chart or kustomization file named on the command line means its directory', async (t) => {
  const result = await runCli(['audit', join(fixture.root, 'overlays', 'prod', 'kustomization.yaml'), '-o', 'json'], '', { PATH: '' });
  t.equal(result.code, 3);
  t.same((JSON.parse(result.stdout) as JsonReport).notAudited.map((entry) => relative(entry.source)), ['overlays/prod/']);
});
