// Regenerates the README sections that mirror code (finding codes, command flags, limits, metrics)
// so the documentation and the code read the same constants. `--check` fails when the README is stale.
// Usage: node scripts/generate-docs.ts [--check]
import { readFileSync, writeFileSync } from 'node:fs';
import { FINDING_CODES, FINDING_DESCRIPTIONS, FINDING_SEVERITIES } from '../src/findings/catalogue.ts';
import { SERVE_HELP } from '../src/cli/serve.ts';
import { CERTS_HELP } from '../src/cli/certs.ts';
import { AUDIT_HELP } from '../src/cli/audit.ts';
import { REVIEW_HELP } from '../src/cli/review.ts';
import { MAIN_HELP } from '../src/cli/main.ts';
import { PLUGIN_HELP } from '../src/cli/kubectl-plugin.ts';
import { auditRollupExample } from './audit-example.ts';
import * as limits from '../src/server/limits.ts';
import * as reviewLimits from '../src/admission/review-limits.ts';
import * as keyring from '../src/credentials/keyring.ts';
import * as decideLimits from '../src/decide/limits.ts';
import * as policyLoad from '../src/policy/load.ts';
import { createMetrics } from '../src/server/metrics.ts';
import { createClusterMetrics } from '../src/cluster/metrics.ts';
import { EXPLAIN_HELP, runExplain } from '../src/cli/explain.ts';
import { CAUSE_DESCRIPTIONS, PULL_EVENT_CAUSES } from '../src/pull-events/classify.ts';
import { Readable } from 'node:stream';

/** Rows for every documented `export const` of each file (its doc comment is the reason). */
function limitsTable(files: ReadonlyArray<readonly [path: string, module: Record<string, unknown>]> = [['../src/server/limits.ts', limits]], only?: ReadonlySet<string>): string {
  const rows = ['| constant | value | reason |', '|---|---|---|'];
  for (const [path, module] of files) {
    const source = readFileSync(new URL(path, import.meta.url), 'utf8');
    for (const match of source.matchAll(/\/\*\*\s*((?:(?!\*\/).)+?)\s*\*\/\nexport const (\w+) = [^;]+;/gs)) {
      const [, comment, name] = match as unknown as [string, string, string];
      if (only !== undefined && !only.has(name)) continue;
      const value = module[name];
      rows.push(`| \`${name}\` | \`${String(value)}\` | ${comment.replace(/^\*\s*/, '').replace(/\s*\n\s*\*?\s*/g, ' ')} |`);
    }
  }
  return rows.join('\n');
}

/** The decision core's bounds on hostile input. */
function coreLimitsTable(): string {
  return limitsTable([
    ['../src/decide/limits.ts', decideLimits],
    ['../src/credentials/keyring.ts', keyring],
    ['../src/policy/load.ts', policyLoad],
  ], new Set(['DECIDE_WORK_BUDGET', 'DNS_LABEL_MAX_BYTES', 'DNS_NAME_MAX_BYTES', 'POLICY_MAX_ALIAS_COUNT']));
}

async function metricsTable(): Promise<string> {
  const metrics = createMetrics({ defaultMetrics: false });
  // The live-cluster metrics register in the same registry when `serve` watches a cluster.
  createClusterMetrics(metrics.registry, { now: () => 0, startedAt: () => 0, informers: () => [], snapshotStats: () => ({ namespaces: 0, secrets: 0, serviceAccounts: 0 }) });
  const rows = ['| metric | type | labels | meaning |', '|---|---|---|---|'];
  for (const metric of await metrics.registry.getMetricsAsJSON()) {
    const labels = (metrics.registry.getSingleMetric(metric.name) as unknown as { labelNames?: string[] } | undefined)?.labelNames ?? [];
    rows.push(`| \`${metric.name}\` | ${metric.type} | ${labels.join(', ') || '-'} | ${escapeCell(metric.help)} |`);
  }
  rows.push('| `pullguard_process_*`, `pullguard_nodejs_*` | various | - | prom-client default process metrics |');
  return rows.join('\n');
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

function findingsTable(): string {
  const rows = ['| code | severity | meaning |', '|---|---|---|'];
  for (const code of FINDING_CODES) rows.push(`| \`${code}\` | ${FINDING_SEVERITIES[code]} | ${FINDING_DESCRIPTIONS[code]} |`);
  return rows.join('\n');
}

function helpBlock(text: string): string {
  return '```\n' + text.trimEnd() + '\n```';
}

function causesTable(): string {
  const rows = ['| cause | meaning and texts |', '|---|---|'];
  for (const cause of PULL_EVENT_CAUSES) rows.push(`| \`${cause}\` | ${escapeCell(CAUSE_DESCRIPTIONS[cause])} |`);
  return rows.join('\n');
}

/** The README's explain example: the real command over examples/explain, run in-process. */
export const EXPLAIN_EXAMPLE_ARGS = ['-f', 'examples/explain/pod.yaml', '--events', 'examples/explain/events.yaml', '--state', 'examples/cluster', '--now', '2026-12-03T07:00:00Z'];

async function explainOutput(extra: readonly string[]): Promise<string> {
  let stdout = '';
  await runExplain([...EXPLAIN_EXAMPLE_ARGS, ...extra], {
    stdin: Readable.from([]),
    stdout: { write: (text: string) => (stdout += text), isTTY: false },
    stderr: { write: () => true },
    env: {},
  });
  return stdout;
}

async function explainExample(): Promise<string> {
  const text = await explainOutput([]);
  return '```\n$ pullguard explain ' + EXPLAIN_EXAMPLE_ARGS.join(' ') + '\n' + text.trimEnd() + '\n```';
}

async function explainJsonExample(): Promise<string> {
  const output = JSON.parse(await explainOutput(['-o', 'json'])) as { explanations: Array<{ containers: Array<Record<string, unknown>> }> };
  const migrate = output.explanations[0]?.containers[0] ?? {};
  // One container, its verdict parts only; the full output repeats this shape per container.
  const excerpt = { name: migrate['name'], group: migrate['group'], image: migrate['image'], access: migrate['access'], decision: migrate['decision'], kubelet: migrate['kubelet'], diagnosis: migrate['diagnosis'] };
  return '```json\n' + JSON.stringify(excerpt, null, 2) + '\n```';
}

export async function generatedSections(): Promise<Record<string, string>> {
  return {
    'findings-table': findingsTable(),
    'main-help': helpBlock(MAIN_HELP),
    'review-flags': helpBlock(REVIEW_HELP),
    'plugin-help': helpBlock(PLUGIN_HELP),
    'serve-flags': helpBlock(SERVE_HELP),
    'certs-flags': helpBlock(CERTS_HELP),
    'audit-flags': helpBlock(AUDIT_HELP),
    'audit-rollup': helpBlock(await auditRollupExample()),
    'limits-table': limitsTable(),
    'review-limits-table': limitsTable([['../src/admission/review-limits.ts', reviewLimits]]),
    'core-limits-table': coreLimitsTable(),
    'metrics-table': await metricsTable(),
    'explain-flags': helpBlock(EXPLAIN_HELP),
    'explain-causes': causesTable(),
    'explain-example': await explainExample(),
    'explain-example-json': await explainJsonExample(),
  };
}

export function applySections(readme: string, sections: Record<string, string>): string {
  let out = readme;
  for (const [key, body] of Object.entries(sections)) {
    const pattern = new RegExp(`<!-- generated:${key} -->[\\s\\S]*?<!-- /generated:${key} -->`);
    if (!pattern.test(out)) throw new Error(`README has no <!-- generated:${key} --> block`);
    out = out.replace(pattern, () => `<!-- generated:${key} -->\n${body}\n<!-- /generated:${key} -->`);
  }
  return out;
}

if (import.meta.filename === process.argv[1]) {
  const path = new URL('../README.md', import.meta.url);
  const readme = readFileSync(path, 'utf8');
  const updated = applySections(readme, await generatedSections());
  if (process.argv.includes('--check')) {
    if (updated !== readme) {
      console.error('README.md is out of date: run node scripts/generate-docs.ts');
      process.exit(1);
    }
  } else {
    writeFileSync(path, updated);
  }
}
