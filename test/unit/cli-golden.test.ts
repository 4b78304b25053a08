import t, { type Test } from 'tap';
import { readFile, writeFile } from 'node:fs/promises';
import { readdirSync } from 'node:fs';
import { runCli } from '../helpers/cli.ts';

// Golden files pin the user-visible output of `review` and `audit` on examples/. After an intended
// change, regenerate them with: PULLGUARD_UPDATE_GOLDEN=1 npx tap test/unit/cli-golden.test.ts
const UPDATE = process.env['PULLGUARD_UPDATE_GOLDEN'] === '1';
const NOW = '2026-11-22T00:00:00Z';

async function golden(t: Test, name: string, actual: string): Promise<void> {
  const path = `test/golden/${name}`;
  if (UPDATE) await writeFile(path, actual);
  t.equal(actual, await readFile(path, 'utf8'), `matches ${path}`);
}

t.test('audit -o json of the examples matches the golden report and exits 1 (something would be denied)', async (t) => {
  const result = await runCli(['audit', 'examples/cluster', 'examples/manifests', '-o', 'json', '--now', NOW]);
  t.equal(result.code, 1);
  t.equal(result.stderr, '');
  await golden(t, 'audit-examples.json', result.stdout);
});

t.test('audit table of the examples matches the golden text', async (t) => {
  const result = await runCli(['audit', 'examples/cluster', 'examples/manifests', '--now', NOW]);
  t.equal(result.code, 1);
  await golden(t, 'audit-examples.txt', result.stdout);
});

for (const file of readdirSync('examples/reviews').filter((name) => name.endsWith('.json')).sort()) {
  for (const phase of ['mutate', 'validate']) {
    t.test(`review --phase ${phase} of ${file} matches the golden response`, async (t) => {
      const review = await readFile(`examples/reviews/${file}`, 'utf8');
      const result = await runCli(['review', '--phase', phase, '--state', 'examples/cluster', '--now', NOW], review);
      t.equal(result.code, 0, result.stderr);
      await golden(t, `review-${phase}-${file}`, result.stdout);
    });
  }
}
