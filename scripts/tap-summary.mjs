// Reads tap's output on stdin, passes it through, and ends with the plain closing line
// "tests: N passed, N failed" that CI and humans can read at a glance.
import { createInterface } from 'node:readline';

let passed = 0;
let failed = 0;
const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  process.stdout.write(line + '\n');
  const match = /^# \{ total: (\d+)(?:, pass: (\d+))?(?:, fail: (\d+))?/.exec(line);
  if (match) {
    passed += Number(match[2] ?? 0);
    failed += Number(match[3] ?? 0);
  }
}
process.stdout.write(`tests: ${passed} passed, ${failed} failed\n`);
