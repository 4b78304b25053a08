// `npm test`'s runner: tap over the unit and HTTP tests (package.json "tap" config), with a reporter
// chosen for where the output goes.
//   - a terminal: tap's `terse` reporter, which prints failures in full and a one-line summary;
//   - a pipe or a file (CI, where .ci/run pipes it into scripts/tap-summary.mjs): raw TAP, which
//     tap-summary condenses and counts.
// A --reporter given on the command line (npm test -- --reporter=base) wins.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The reporter for an output stream: concise for a person, TAP for a program. */
export function reporterFor(isTerminal) {
  return isTerminal ? 'terse' : 'tap';
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const chosen = args.some((arg) => arg.startsWith('--reporter') || arg === '-R') ? [] : [`--reporter=${reporterFor(process.stdout.isTTY === true)}`];
  const tap = spawn(process.execPath, [fileURLToPath(new URL('../node_modules/tap/dist/esm/run.mjs', import.meta.url)), ...chosen, ...args], { stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => tap.kill(signal));
  tap.on('exit', (code, signal) => process.exit(code ?? (signal !== null ? 1 : 0)));
}
