import { parseArgs } from 'node:util';
import { PROBE_FLAG_OPTIONS } from './probe-flags.ts';

/**
 * The offline audit's flags (parseArgs declarations), apart from the command so the bin can tell,
 * before loading it, whether an audit reads stdin (cluster-worker.ts runs those that do not in its
 * memory-bounded worker).
 */
export const AUDIT_OPTIONS = {
  output: { type: 'string', short: 'o', default: 'table' },
  only: { type: 'string', multiple: true, default: [] as string[] },
  namespace: { type: 'string', short: 'n' },
  state: { type: 'string', multiple: true, default: [] as string[] },
  policy: { type: 'string' },
  'helm-values': { type: 'string', multiple: true, default: [] as string[] },
  strict: { type: 'boolean' },
  now: { type: 'string' },
  'probe-anonymous': { type: 'boolean' },
  ...PROBE_FLAG_OPTIONS,
  'report-api': { type: 'string' },
  'report-pass': { type: 'boolean' },
  // Known only to say why it does not apply here (parseArgs would call it an unknown flag).
  apply: { type: 'boolean' },
  'no-color': { type: 'boolean' },
  stats: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/**
 * True when `pullguard audit ARGS` (offline) reads stdin: `-` among the inputs, or no input at all
 * (stdin is the default). Arguments that do not parse count as reading stdin: the command then
 * runs where it reports them, on the main thread.
 */
export function offlineAuditReadsStdin(args: readonly string[]): boolean {
  try {
    const { positionals } = parseArgs({ args: [...args], options: AUDIT_OPTIONS, allowPositionals: true });
    return positionals.length === 0 || positionals.includes('-');
  } catch {
    return true;
  }
}
