import t from 'tap';
import { readFileSync } from 'node:fs';
import { applySections, generatedSections } from '../../scripts/generate-docs.ts';
import { FINDING_CODES } from '../../src/findings/catalogue.ts';
import { policySchema } from '../../src/policy/schema.ts';

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
