#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { EXIT_USAGE, UsageError } from './errors.ts';
import { processIo, type CommandIo } from './io.ts';

export const MAIN_HELP = `Usage: pullguard <command> [options]

Commands:
  serve     run the admission webhook (HTTPS)            pullguard serve --help
  review    answer one AdmissionReview from stdin         pullguard review --help
  audit     report what would be decided for manifests    pullguard audit --help
  explain   why a pod's image does not pull, and the fix  pullguard explain --help
  certs     create a CA and serving certificate          pullguard certs --help

Options: --version, --help
`;

type Command = (args: readonly string[], io: CommandIo) => Promise<number>;

// Commands load lazily: `review` and `audit` stay quick to start without the server's dependencies.
const COMMANDS: Readonly<Record<string, () => Promise<Command>>> = {
  review: async () => (await import('./review.ts')).runReview,
  audit: async () => (await import('./audit.ts')).runAudit,
  explain: async () => (await import('./explain.ts')).runExplain,
  serve: async () => (await import('./serve.ts')).runServe,
  certs: async () => (await import('./certs.ts')).runCerts,
};

export function packageVersion(): string {
  const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
  return (JSON.parse(text) as { version: string }).version;
}

export async function main(argv: readonly string[], io: CommandIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    io.stdout.write(MAIN_HELP);
    return command === undefined ? EXIT_USAGE : 0;
  }
  if (command === '--version' || command === 'version') {
    io.stdout.write(`pullguard ${packageVersion()}\n`);
    return 0;
  }
  const load = COMMANDS[command];
  if (load === undefined) {
    io.stderr.write(`pullguard: unknown command "${command}"\n\n${MAIN_HELP}`);
    return EXIT_USAGE;
  }
  try {
    return await (await load())(rest, io);
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true) {
      io.stderr.write(`pullguard ${command}: ${(error as Error).message}\n`);
      return EXIT_USAGE;
    }
    throw error;
  }
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.filename === (await import('node:fs')).realpathSync(process.argv[1]);
if (invokedDirectly) {
  main(process.argv.slice(2), processIo()).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`pullguard: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 70;
    },
  );
}
