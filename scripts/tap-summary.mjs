// Passes tap's output through and counts its results.
//   node scripts/tap-summary.mjs [--record FILE]   read tap output on stdin, print it, then the plain
//                                                  line "tests: N passed, N failed" (and add the counts to FILE)
//   node scripts/tap-summary.mjs --total FILE      print the sum of every recorded run as that line
import { appendFileSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

const args = process.argv.slice(2);
const flag = (name) => {
  const index = args.indexOf(name);
  return index === -1 ? undefined : args[index + 1];
};

const totalFile = flag('--total');
if (totalFile !== undefined) {
  let passed = 0;
  let failed = 0;
  for (const line of readFileSync(totalFile, 'utf8').split('\n')) {
    const [p, f] = line.split(' ').map(Number);
    if (Number.isFinite(p) && Number.isFinite(f)) {
      passed += p;
      failed += f;
    }
  }
  process.stdout.write(`${passed} passed, ${failed} failed\n`);
} else {
  let passed = 0;
  let failed = 0;
  for await (const line of createInterface({ input: process.stdin })) {
    process.stdout.write(line + '\n');
    const match = /^# \{ total: (\d+)(?:, pass: (\d+))?(?:, fail: (\d+))?/.exec(line);
    if (match) {
      passed += Number(match[2] ?? 0);
      failed += Number(match[3] ?? 0);
    }
  }
  process.stdout.write(`tests: ${passed} passed, ${failed} failed\n`);
  const record = flag('--record');
  if (record !== undefined) appendFileSync(record, `${passed} ${failed}\n`);
}
