// `npm test` is quick and quiet: a concise reporter on a terminal, raw TAP for CI, which
// scripts/tap-summary.mjs condenses (failures in full) and counts; the Dockerfile rehearsal runs in
// its own CI step.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
// @ts-expect-error: plain JavaScript scripts without type declarations
import { reporterFor } from '../../scripts/run-tap.mjs';

const SUMMARY = fileURLToPath(new URL('../../scripts/tap-summary.mjs', import.meta.url));
const packageJson = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  scripts: Record<string, string>;
  tap: { include: string[] };
};

const TAP = [
  '> pullguard@0.1.0 test',
  'TAP version 14',
  '# Subtest: test/unit/good.test.ts',
  '    # Subtest: adds',
  '        ok 1 - should be equal',
  '        1..1',
  '    ok 1 - adds # time=1ms',
  '    1..1',
  'ok 1 - test/unit/good.test.ts # time=100ms',
  '',
  '# Subtest: test/unit/bad.test.ts',
  '    # Subtest: subtracts',
  '        not ok 1 - should be equal',
  '          ---',
  '          found: 1',
  '          wanted: 2',
  '          ...',
  '        1..1',
  '    not ok 1 - subtracts # time=1ms',
  '    1..1',
  'not ok 2 - test/unit/bad.test.ts # time=100ms',
  '  ---',
  '  exitCode: 1',
  '  ...',
  '',
  '1..2',
  '# { total: 2, pass: 1, fail: 1 }',
  '# time=300ms',
].join('\n');

t.test('on a terminal npm test uses the terse reporter; piped, raw TAP for tap-summary', async (t) => {
  t.equal(reporterFor(true), 'terse');
  t.equal(reporterFor(false), 'tap');
  t.match(packageJson.scripts['test'], /node scripts\/run-tap\.mjs/);
});

t.test('tap-summary prints a passing file as one line, a failing one in full, and the plain count line', async (t) => {
  const result = spawnSync(process.execPath, [SUMMARY], { input: TAP, encoding: 'utf8' });
  t.equal(result.status, 0);
  const lines = result.stdout.split('\n');
  t.ok(lines.includes('ok 1 - test/unit/good.test.ts # time=100ms'), 'the passing file\'s result line');
  t.notOk(lines.includes('    # Subtest: adds'), 'not its subtests');
  for (const line of ['# Subtest: test/unit/bad.test.ts', '          wanted: 2', 'not ok 2 - test/unit/bad.test.ts # time=100ms', '  exitCode: 1']) {
    t.ok(lines.includes(line), `the failing file in full: ${line.trim()}`);
  }
  t.ok(lines.includes('> pullguard@0.1.0 test'), 'lines outside the TAP pass through');
  t.equal(lines.filter((line) => line !== '').at(-1), 'tests: 1 passed, 1 failed');
  t.ok(lines.length < TAP.split('\n').length, 'shorter than the TAP');
});

t.test('tap-summary prints a file whose result never came (tap crashed) whole', async (t) => {
  const result = spawnSync(process.execPath, [SUMMARY], { input: '# Subtest: test/unit/crash.test.ts\n    ok 1 - first\n', encoding: 'utf8' });
  t.match(result.stdout, /# Subtest: test\/unit\/crash\.test\.ts\n {4}ok 1 - first\ntests: 0 passed, 0 failed\n$/);
});

t.test('the Dockerfile rehearsal is not part of npm test but has its own script and CI step', async (t) => {
  t.notOk(packageJson.tap.include.some((pattern) => pattern.startsWith('test/image')), 'npm test does not include test/image');
  t.match(packageJson.scripts['test:image'], /test\/image\//);
  const ci = readFileSync(new URL('../../.ci/run', import.meta.url), 'utf8');
  t.match(ci, /^step npm test$/m);
  t.match(ci, /^step npm run test:image$/m);
  t.match(readFileSync(new URL('../../README.md', import.meta.url), 'utf8'), /^npm test {2,}#/m, 'the README\'s test command is the one CI runs');
});
