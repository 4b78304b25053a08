import t from 'tap';
import { Readable } from 'node:stream';
import { main, MAIN_HELP, packageVersion } from '../../src/cli/main.ts';
import { AUDIT_HELP } from '../../src/cli/audit.ts';
import { REVIEW_HELP } from '../../src/cli/review.ts';
import { SERVE_HELP } from '../../src/cli/serve.ts';
import { CERTS_HELP } from '../../src/cli/certs.ts';
import { EXPLAIN_HELP } from '../../src/cli/explain.ts';
import { CLUSTER_AUDIT_HELP } from '../../src/cli/audit-cluster.ts';
import { PLUGIN_HELP } from '../../src/cli/kubectl-plugin.ts';
import { ProgressLine } from '../../src/cli/progress.ts';
import { runCli } from '../helpers/cli.ts';

const COMMANDS = ['audit', 'review', 'explain', 'serve', 'certs'] as const;

for (const command of COMMANDS) {
  for (const flag of ['-h', '--help']) {
    t.test(`${command} ${flag} prints the command usage on stdout and exits 0`, async (t) => {
      const result = await runCli([command, flag]);
      t.equal(result.code, 0);
      t.match(result.stdout, new RegExp(`^Usage: pullguard ${command}`));
      t.equal(result.stderr, '');
    });
  }
  for (const flag of ['-v', '--version']) {
    t.test(`${command} ${flag} prints the version and exits 0`, async (t) => {
      const result = await runCli([command, flag]);
      t.equal(result.code, 0);
      t.equal(result.stdout, `pullguard ${packageVersion()}\n`);
    });
  }
}

t.test('-v and -h work before any command too', async (t) => {
  t.equal((await runCli(['-v'])).stdout, `pullguard ${packageVersion()}\n`);
  const help = await runCli(['-h']);
  t.equal(help.code, 0);
  t.equal(help.stdout, MAIN_HELP);
});

t.test('a -v after -- is an argument, not the version flag', async (t) => {
  const result = await runCli(['audit', '--', '-v']);
  t.equal(result.code, 2);
  t.match(result.stderr, /-v: no such file/);
});

for (const [command, help] of [['audit', AUDIT_HELP], ['review', REVIEW_HELP]] as const) {
  t.test(`${command} with nothing piped in on a terminal prints its usage instead of waiting on stdin`, async (t) => {
    let stdout = '';
    let stderr = '';
    const stdin = Object.assign(new Readable({ read() {} }), { isTTY: true });
    const code = await main([command], {
      stdin,
      stdout: { write: (text: string) => (stdout += text), isTTY: true },
      stderr: { write: (text: string) => (stderr += text), isTTY: true },
      env: {},
    });
    t.equal(code, 2);
    t.equal(stdout, '');
    t.equal(stderr, help);
  });
}

for (const [name, help] of Object.entries({ main: MAIN_HELP, audit: AUDIT_HELP, 'audit --cluster': CLUSTER_AUDIT_HELP, review: REVIEW_HELP, explain: EXPLAIN_HELP, serve: SERVE_HELP, certs: CERTS_HELP })) {
  t.test(`the ${name} help lists -h and -v, which every command accepts`, async (t) => {
    t.match(help, /\n {2}-h, --help {2,}show this help/);
    t.match(help, /\n {2}-v, --version {2,}print the version/);
  });
}

/** The column where the description of each option line starts: must be one column per block. */
function descriptionColumns(help: string): Map<string, Set<number>> {
  const blocks = new Map<string, Set<number>>();
  let block = 0;
  for (const line of help.split('\n')) {
    if (line.trim() === '') {
      block += 1;
      continue;
    }
    const match = /^( {2}(?:-\S+(?:, --\S+)?(?: \S+)?|[a-z]+|\d))( {2,})\S/.exec(line);
    if (match === null) continue;
    const column = (match[1] as string).length + (match[2] as string).length;
    const key = String(block);
    if (!blocks.has(key)) blocks.set(key, new Set());
    blocks.get(key)?.add(column);
  }
  return blocks;
}

for (const [name, help] of Object.entries({ main: MAIN_HELP, audit: AUDIT_HELP, 'audit --cluster': CLUSTER_AUDIT_HELP, review: REVIEW_HELP, explain: EXPLAIN_HELP, serve: SERVE_HELP, certs: CERTS_HELP, 'kubectl pullguard': PLUGIN_HELP })) {
  t.test(`the ${name} help starts every description of a block at the same column`, async (t) => {
    const blocks = descriptionColumns(help);
    t.ok(blocks.size > 0, 'found option rows');
    for (const [block, columns] of blocks) t.equal(columns.size, 1, `block ${block}: columns ${[...columns].join(', ')}`);
  });
}

t.test('the progress line stays silent for the first second, then redraws at most every 200 ms, and clear() erases it', async (t) => {
  let written = '';
  let now = 0;
  const progress = new ProgressLine({ write: (text: string) => (written += text) }, true, () => now);
  progress.update(() => 'reading 1');
  now = 999;
  progress.update(() => 'reading 2');
  t.equal(written, '', 'nothing before a second has passed');
  now = 1000;
  progress.update(() => 'reading 3');
  now = 1100;
  progress.update(() => 'reading 4');
  t.equal(written, '\r\x1b[Kreading 3');
  progress.clear();
  t.equal(written, '\r\x1b[Kreading 3\r\x1b[K');
});

t.test('the progress line never writes when stderr is not a terminal', async (t) => {
  let written = '';
  const progress = new ProgressLine({ write: (text: string) => (written += text) }, false, () => 5000);
  progress.update(() => 'reading');
  progress.clear();
  t.equal(written, '');
});
