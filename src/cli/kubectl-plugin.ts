#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { enableCompileCache } from 'node:module';
import { isMainThread } from 'node:worker_threads';
import { KubeconfigError } from '../cluster/kubeconfig-files.ts';
import { contextNamespace } from '../cluster/kubeconfig-light.ts';
import { EXIT_USAGE, UsageError } from './errors.ts';
import { processIo, type CommandIo } from './io.ts';
import { main, packageVersion, runCommand } from './main.ts';

/**
 * `kubectl pullguard ...`: kubectl finds `kubectl-pullguard` on PATH and runs it with every
 * argument after the plugin name, its own global flags included and untouched. So the plugin
 * reads kubectl's flags itself, wherever they stand (`--kubeconfig`, `--context`,
 * `-n/--namespace`, `-A/--all-namespaces`, `-o/--output`, in kubectl's spellings: `-n x`, `-nx`,
 * `--namespace=x`), and gives the command the kubectl defaults: the context's namespace unless
 * `-n` or `-A`. The kubeconfig is loaded as kubectl loads it (a multi-file KUBECONFIG merged,
 * the first file's current-context).
 */

export const PLUGIN_HELP = `Usage: kubectl pullguard <command> [kubectl flags] [command flags]

Commands:
  audit                 what pullguard would decide for the workloads and pods in the namespace
                        (-A: every namespace); see pullguard audit --cluster --help for its flags
  explain pod NAME      why a pod can or cannot pull its images, and the fix; also explain
                        KIND/NAME (deployment/web, ...); see pullguard explain --help
  version               print the version
  help                  show this help

kubectl flags (anywhere on the line):
  --kubeconfig FILE     kubeconfig file (default: KUBECONFIG, ~/.kube/config, in-cluster)
  --context NAME        kubeconfig context (default: current-context)
  -n, --namespace NS    namespace (default: the context's namespace)
  -A, --all-namespaces  every namespace
  -o, --output FORMAT   output format of the command (audit: table, json, policyreport; explain:
                        text, json)

Exit status: the command's (see its --help); 2 for a usage error of the plugin itself (an unknown
command, -n with -A, an unusable kubeconfig).
`;

export interface KubectlFlags {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  allNamespaces: boolean;
  output?: string;
  /** Everything else, in order: the command and its own arguments. */
  readonly rest: string[];
}

const VALUE_FLAGS: ReadonlyMap<string, 'kubeconfig' | 'context' | 'namespace' | 'output'> = new Map([
  ['--kubeconfig', 'kubeconfig'],
  ['--context', 'context'],
  ['-n', 'namespace'],
  ['--namespace', 'namespace'],
  ['-o', 'output'],
  ['--output', 'output'],
]);

/** Splits kubectl's global flags from the rest, accepting `--flag value`, `--flag=value` and `-nvalue`. */
export function parseKubectlFlags(args: readonly string[]): KubectlFlags {
  const flags: KubectlFlags = { allNamespaces: false, rest: [] };
  for (let index = 0; index < args.length; index += 1) {
    const arg = args[index] ?? '';
    if (arg === '--') {
      flags.rest.push(...args.slice(index + 1));
      break;
    }
    if (arg === '-A' || arg === '--all-namespaces' || arg === '--all-namespaces=true') {
      flags.allNamespaces = true;
      continue;
    }
    if (arg === '--all-namespaces=false') continue;
    const equals = arg.indexOf('=');
    const name = arg.startsWith('--') && equals > 0 ? arg.slice(0, equals) : arg;
    let key = VALUE_FLAGS.get(name);
    let value: string | undefined;
    if (key !== undefined) {
      if (name !== arg) value = arg.slice(equals + 1);
      else {
        value = args[index + 1];
        if (value === undefined) throw new UsageError(`${arg} needs a value`);
        index += 1;
      }
    } else if ((arg.startsWith('-n') || arg.startsWith('-o')) && arg.length > 2 && !arg.startsWith('--')) {
      // kubectl (pflag) shorthand with the value attached: -nteam, -ojson, -o=json.
      key = arg[1] === 'n' ? 'namespace' : 'output';
      value = arg.slice(2).replace(/^=/, '');
    }
    if (key === undefined || value === undefined) {
      flags.rest.push(arg);
      continue;
    }
    flags[key] = value;
  }
  if (flags.namespace !== undefined && flags.allNamespaces) throw new UsageError('-n and -A exclude each other');
  return flags;
}

/** What `kubectl pullguard` runs besides help and version: the commands that read the cluster kubectl points at. */
const PLUGIN_COMMANDS: ReadonlySet<string> = new Set(['audit', 'explain']);

/** A command line the plugin does not know: answered with the plugin's usage. */
class UnknownPluginCommandError extends UsageError {}

/** The pullguard command line a plugin invocation runs. */
export function pluginCommand(flags: KubectlFlags, io: CommandIo): string[] | undefined {
  const [command, ...args] = flags.rest;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') return undefined;
  if (command === 'version' || command === '--version') return ['--version'];
  if (!PLUGIN_COMMANDS.has(command)) {
    throw new UnknownPluginCommandError(command.startsWith('-') ? `unknown flag ${command}` : `unknown command "${command}"`);
  }
  const connection = [
    ...(flags.kubeconfig !== undefined ? ['--kubeconfig', flags.kubeconfig] : []),
    ...(flags.context !== undefined ? ['--context', flags.context] : []),
  ];
  const output = flags.output !== undefined ? ['-o', flags.output] : [];
  let namespace: string[] = [];
  if (!flags.allNamespaces) {
    let chosen = flags.namespace;
    if (chosen === undefined) {
      try {
        chosen = contextNamespace({ kubeconfig: flags.kubeconfig, context: flags.context, env: io.env });
      } catch (error) {
        if (error instanceof KubeconfigError) throw new UsageError(error.message);
        throw error;
      }
    }
    namespace = ['-n', chosen];
  }
  if (command === 'audit') return ['audit', '--cluster', ...connection, ...namespace, ...output, ...args];
  return [command, ...args, ...connection, ...namespace, ...output];
}

/** `run` runs the pullguard command line: main() in-process, or the bin's runCommand. */
export async function runPlugin(args: readonly string[], io: CommandIo, run: (argv: readonly string[], io: CommandIo) => Promise<number> = main): Promise<number> {
  let command: string[] | undefined;
  try {
    command = pluginCommand(parseKubectlFlags(args), io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`kubectl pullguard: ${error.message}\n${error instanceof UnknownPluginCommandError ? `\n${PLUGIN_HELP}` : ''}`);
      return EXIT_USAGE;
    }
    throw error;
  }
  if (command === undefined) {
    // Asked for (help, -h, --help): stdout, 0. No command at all: a usage error, as for pullguard.
    const asked = args.some((arg) => arg === 'help' || arg === '-h' || arg === '--help');
    (asked ? io.stdout : io.stderr).write(PLUGIN_HELP);
    return asked ? 0 : EXIT_USAGE;
  }
  if (command[0] === '--version') {
    io.stdout.write(`kubectl-pullguard ${packageVersion()}\n`);
    return 0;
  }
  return run(command, io);
}

const invokedDirectly = isMainThread && process.argv[1] !== undefined && import.meta.filename === realpathSync(process.argv[1]);
if (invokedDirectly) {
  enableCompileCache(); // as the pullguard bin does (main.ts)
  runPlugin(process.argv.slice(2), processIo(), runCommand).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`kubectl pullguard: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 70;
    },
  );
}
