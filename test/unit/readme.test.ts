import t from 'tap';
import { readFileSync } from 'node:fs';
import { applySections, generatedSections } from '../../scripts/generate-docs.ts';
import { FINDING_CODES } from '../../src/findings/catalogue.ts';
import { policySchema } from '../../src/policy/schema.ts';
import { MAIN_HELP } from '../../src/cli/main.ts';
import { SERVE_HELP } from '../../src/cli/serve.ts';
import { REVIEW_HELP } from '../../src/cli/review.ts';
import { AUDIT_HELP } from '../../src/cli/audit.ts';
import { CLUSTER_AUDIT_HELP } from '../../src/cli/audit-cluster.ts';
import { EXPLAIN_HELP } from '../../src/cli/explain.ts';
import { CERTS_HELP } from '../../src/cli/certs.ts';
import { PLUGIN_HELP } from '../../src/cli/kubectl-plugin.ts';

const readme = readFileSync('README.md', 'utf8');

t.test('the README sections generated from code are current (run node scripts/generate-docs.ts)', async (t) => {
  t.equal(applySections(readme, await generatedSections()), readme);
});

t.test('the README documents every finding code', async (t) => {
  for (const code of FINDING_CODES) t.match(readme, `\`${code}\``, code);
});

t.test('the README documents every policy field', async (t) => {
  const shape = policySchema.shape;
  for (const field of Object.keys(shape)) t.match(readme, new RegExp('`' + field + '(\\.|`|\\[)'), field);
  for (const nested of ['injection.enabled', 'injection.preferredSecrets', 'injection.templates', 'namespaces.exclude', 'namespaces.modeLabel', 'namespaces.overrides[]']) {
    t.match(readme, `\`${nested}\``, nested);
  }
});

/** Every help text a user can print: the commands, `audit --cluster` and the kubectl plugin. */
const HELPS: Record<string, string> = {
  pullguard: MAIN_HELP,
  'pullguard serve': SERVE_HELP,
  'pullguard review': REVIEW_HELP,
  'pullguard audit': AUDIT_HELP,
  'pullguard audit --cluster': CLUSTER_AUDIT_HELP,
  'pullguard explain': EXPLAIN_HELP,
  'pullguard certs': CERTS_HELP,
  'kubectl pullguard': PLUGIN_HELP,
};

/** Flags of other tools the README shows in their commands (helm, kubectl, kube-apiserver, node, and bench/http.ts). */
const OTHER_TOOLS_FLAGS = new Set(['--create-namespace', '--set', '--dry-run', '--admission-control-config-file', '--max-semi-space-size', '--heap-growing-percent', '--manifest', '--archive', '--copy-to', '--calibration', '--no-decision-target', '--uncached-replicas-target', '--profile']);

function longFlags(text: string): Set<string> {
  return new Set(text.match(/(?<![\w-])--[a-z][a-z0-9-]*/g) ?? []);
}

t.test('the README names every long flag of every help text', async (t) => {
  for (const [command, help] of Object.entries(HELPS)) {
    const missing = [...longFlags(help)].filter((flag) => !readme.includes(flag));
    t.same(missing, [], command);
  }
});

t.test('every long flag the README names exists in a help text (or belongs to the other tool of its command)', async (t) => {
  const known = new Set(Object.values(HELPS).flatMap((help) => [...longFlags(help)]));
  const unknown = [...longFlags(readme)].filter((flag) => !known.has(flag) && !OTHER_TOOLS_FLAGS.has(flag));
  t.same(unknown, []);
});
