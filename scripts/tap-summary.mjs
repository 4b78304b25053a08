// Condenses tap's output and counts its results (what .ci/run pipes every test step through).
//   node scripts/tap-summary.mjs [--record FILE]   read tap output on stdin; print each test file that
//                                                  passed as its one result line, each one that failed
//                                                  in full (every subtest, the diagnostics), and every
//                                                  line that is not part of a file's TAP as it is; then
//                                                  the plain line "tests: N passed, N failed" (and add
//                                                  the counts to FILE)
//   node scripts/tap-summary.mjs --total FILE      print the sum of every recorded run as that line
import { appendFileSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const flag = (name) => {
  const index = args.indexOf(name);
  return index === -1 ? undefined : args[index + 1];
};

/**
 * A line-by-line condenser of tap's raw TAP. A test file is `# Subtest: FILE` at the start of a
 * line, its indented subtests, then `ok N - FILE` or `not ok N - FILE` followed by indented
 * diagnostics. Calls `write` with what to print.
 */
export function createCondenser(write) {
  /** The lines of the file being read, or undefined between files. */
  let held;
  /** After a failed file's result line: its indented diagnostics are printed too. */
  let inFailure = false;
  return {
    line(text) {
      if (held !== undefined) {
        if (/^(not )?ok \d+ /.test(text)) {
          const failed = text.startsWith('not ok');
          if (failed) for (const line of held) write(line);
          write(text);
          held = undefined;
          inFailure = failed;
        } else held.push(text);
        return;
      }
      if (text.startsWith('# Subtest: ')) {
        held = [text];
        inFailure = false;
        return;
      }
      if (inFailure && text.startsWith(' ')) {
        write(text);
        return;
      }
      inFailure = /^not ok \d+ /.test(text);
      write(text);
    },
    /** At the end of the input: a file whose result never came (tap crashed) is printed whole. */
    end() {
      if (held !== undefined) for (const line of held) write(line);
      held = undefined;
    },
  };
}

/** Adds the counts of tap's closing line `# { total: N, pass: N, fail: N }` to `counts`. */
export function countLine(text, counts) {
  const match = /^# \{ total: (\d+)(?:, pass: (\d+))?(?:, fail: (\d+))?/.exec(text);
  if (match) {
    counts.passed += Number(match[2] ?? 0);
    counts.failed += Number(match[3] ?? 0);
  }
}

async function main() {
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
    return;
  }
  const counts = { passed: 0, failed: 0 };
  const condenser = createCondenser((line) => process.stdout.write(line + '\n'));
  for await (const line of createInterface({ input: process.stdin })) {
    condenser.line(line);
    countLine(line, counts);
  }
  condenser.end();
  process.stdout.write(`tests: ${counts.passed} passed, ${counts.failed} failed\n`);
  const record = flag('--record');
  if (record !== undefined) appendFileSync(record, `${counts.passed} ${counts.failed}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
