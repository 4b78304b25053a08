#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { enableCompileCache } from 'node:module';
import { isMainThread } from 'node:worker_threads';
import { runInBoundedWorker, runsInBoundedWorker } from './cluster-worker.ts';
import { EXIT_OK, EXIT_USAGE, UsageError } from './errors.ts';
import { formatColumns } from './help.ts';
import { processIo, type CommandIo } from './io.ts';

type Command = (args: readonly string[], io: CommandIo) => Promise<number>;

interface CommandEntry {
  /** One line for `pullguard --help`. */
  readonly summary: string;
  /** Commands load lazily: `review` and `audit` stay quick to start without the server's dependencies. */
  readonly load: () => Promise<{ readonly run: Command; readonly help: string }>;
}

/** Every command: adding one here adds it to dispatch, `pullguard --help`, and the shared flag handling. */
const COMMANDS: Readonly<Record<string, CommandEntry>> = {
  serve: { summary: 'run the admission webhook (HTTPS)', load: async () => { const m = await import('./serve.ts'); return { run: m.runServe, help: m.SERVE_HELP }; } },
  review: { summary: 'answer one AdmissionReview from stdin', load: async () => { const m = await import('./review.ts'); return { run: m.runReview, help: m.REVIEW_HELP }; } },
  audit: { summary: 'report what would be decided for manifests or a live cluster', load: async () => { const m = await import('./audit.ts'); return { run: m.runAudit, help: m.AUDIT_HELP }; } },
  explain: { summary: "why a pod's image does not pull, and the fix", load: async () => { const m = await import('./explain.ts'); return { run: m.runExplain, help: m.EXPLAIN_HELP }; } },
  certs: { summary: 'create a CA and serving certificate', load: async () => { const m = await import('./certs.ts'); return { run: m.runCerts, help: m.CERTS_HELP }; } },
};

export const MAIN_HELP = `Usage: pullguard <command> [options]

Commands:
${formatColumns(Object.entries(COMMANDS).map(([name, entry]) => [name, entry.summary, `pullguard ${name} --help`]))}

Options:
${formatColumns([['-h, --help', 'show this help (every command has its own)'], ['-v, --version', 'print the version']])}
`;

export function packageVersion(): string {
  const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
  return (JSON.parse(text) as { version: string }).version;
}

/** `-v`/`--version` anywhere before `--` prints the version, whatever the command. */
function asksForVersion(args: readonly string[]): boolean {
  for (const arg of args) {
    if (arg === '--') return false;
    if (arg === '-v' || arg === '--version') return true;
  }
  return false;
}

export async function main(argv: readonly string[], io: CommandIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    (command === undefined ? io.stderr : io.stdout).write(MAIN_HELP);
    return command === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (command === '--version' || command === '-v' || command === 'version') {
    io.stdout.write(`pullguard ${packageVersion()}\n`);
    return EXIT_OK;
  }
  const entry = COMMANDS[command];
  if (entry === undefined) {
    const hint = command.startsWith('-') ? `unknown flag ${command}` : `unknown command "${command}"`;
    io.stderr.write(`pullguard: ${hint}\n\n${MAIN_HELP}`);
    return EXIT_USAGE;
  }
  if (asksForVersion(rest)) {
    io.stdout.write(`pullguard ${packageVersion()}\n`);
    return EXIT_OK;
  }
  const loaded = await entry.load();
  try {
    return await loaded.run(rest, io);
  } catch (error) {
    // `audit --cluster` has flags of its own: a mistake there is answered with its usage.
    const clusterAudit = command === 'audit' && rest.includes('--cluster');
    const help = clusterAudit ? (await import('./audit-cluster.ts')).CLUSTER_AUDIT_HELP : loaded.help;
    const message = usageMessage(error, help);
    if (message === undefined) throw error;
    const helpCommand = clusterAudit ? 'audit --cluster' : command;
    io.stderr.write(`pullguard ${command}: ${message.text}\n${message.withUsage ? `\n${help}` : `Run 'pullguard ${helpCommand} --help' for usage.\n`}`);
    return EXIT_USAGE;
  }
}

/**
 * Our own words for command-line mistakes: Node's parseArgs errors are rewritten (with a "did you
 * mean" from the command's help), and a flag mistake prints the command's usage.
 */
function usageMessage(error: unknown, help: string): { text: string; withUsage: boolean } | undefined {
  if (error instanceof UsageError) return { text: error.message, withUsage: false };
  const code = (error as { code?: unknown }).code;
  const message = (error as Error).message ?? '';
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const flag = /'([^']+)'/.exec(message)?.[1] ?? message;
    const suggestion = closestFlag(flag.split('=')[0] ?? flag, help);
    return { text: `unknown flag ${flag}${suggestion === undefined ? '' : ` (did you mean ${suggestion}?)`}`, withUsage: true };
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    // Node names the option as "'-o, --output <value>'": show it as the user knows it, -o/--output.
    const flag = /'(-[^' ,]+)(?:, (--[^' ]+))?/.exec(message)?.slice(1, 3).filter((part) => part !== undefined).join('/') ?? '';
    const text = message.includes('argument missing') ? `${flag} needs a value` : message.includes('does not take an argument') ? `${flag} takes no value` : message;
    return { text, withUsage: true };
  }
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
    const argument = /'([^']*)'/.exec(message)?.[1] ?? '';
    return { text: `unexpected argument ${JSON.stringify(argument)}: this command takes flags only`, withUsage: true };
  }
  return undefined;
}

/** The flag of the help text nearest to `flag` (at most 2 edits), for "did you mean". */
function closestFlag(flag: string, help: string): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const known of new Set(help.match(/--[a-z][a-z0-9-]*/g) ?? [])) {
    const distance = editDistance(flag, known);
    if (distance < bestDistance) {
      best = known;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2 || a.length > 64 || b.length > 64) return 99;
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      current[j] = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length] as number;
}

/** The bin's way to run a command: `audit --cluster` in its memory-bounded worker (cluster-worker.ts), the rest here. */
export function runCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  return runsInBoundedWorker(argv, process.execArgv, io.env) ? runInBoundedWorker(argv, io) : main(argv, io);
}

// A worker thread sees the process's argv too: only the main thread is the bin.
const invokedDirectly = isMainThread && process.argv[1] !== undefined && import.meta.filename === (await import('node:fs')).realpathSync(process.argv[1]);
if (invokedDirectly) {
  // Node's on-disk compile cache (in the OS temp directory; NODE_DISABLE_COMPILE_CACHE=1 turns it
  // off, and a read-only file system just goes without): the commands' modules, loaded lazily
  // below, start from cached code instead of being compiled on every run.
  enableCompileCache();
  runCommand(process.argv.slice(2), processIo()).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`pullguard: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 70;
    },
  );
}
