import { parseArgs } from 'node:util';
import { auditObjects } from '../report/audit.ts';
import { renderTable } from '../report/table.ts';
import { snapshotFromObjects } from '../snapshot/from-objects.ts';
import { EXIT_DENIED, EXIT_OK, UsageError } from './errors.ts';
import { loadPolicyResolver, readObjects } from './inputs.ts';
import type { CommandIo } from './io.ts';
import { parseNow } from './review.ts';

export const AUDIT_HELP = `Usage: pullguard audit [FILE|DIR|-]... [-o table|json] [--state FILE...] [--policy FILE]

Reports, for every workload in the manifests, what pullguard would decide for each container.
Secrets, ServiceAccounts and Namespaces among the manifests (and in --state files) are the cluster
state. Directories are read recursively (*.yaml, *.yml, *.json); '-' reads stdin (the default).

  -o, --output table|json   report format (default table; colour when stdout is a terminal)
  --state FILE|DIR          extra cluster state; repeatable
  --policy FILE             policy.yaml (default: built-in policy)
  --now RFC3339             evaluate token expiry at this time (default: now)
  --no-color                never colour the table

With --cluster, reads a live cluster instead: see pullguard audit --cluster --help.

Exit status: 0 nothing would be denied, 1 something would be denied, 2 usage or unreadable input.
A denial counts whatever the namespace's mode: exit 1 also when the only denials are in dry-run or
warn namespaces (the report's mode column says where the webhook would only warn).
`;

export async function runAudit(args: readonly string[], io: CommandIo): Promise<number> {
  // The live cluster is its own front door (src/cli/audit-cluster.ts): same decision, report and exit codes.
  if (args.includes('--cluster')) return (await import('./audit-cluster.ts')).runClusterAudit(args, io);
  const { values, positionals } = parseArgs({
    args: [...args],
    options: {
      output: { type: 'string', short: 'o', default: 'table' },
      state: { type: 'string', multiple: true, default: [] },
      policy: { type: 'string' },
      now: { type: 'string' },
      'no-color': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
  });
  if (values.help === true) {
    io.stdout.write(AUDIT_HELP);
    return EXIT_OK;
  }
  if (values.output !== 'table' && values.output !== 'json') throw new UsageError(`-o must be table or json, got ${values.output}`);
  const now = parseNow(values.now);
  const policy = await loadPolicyResolver(values.policy);
  const manifests = await readObjects(positionals.length === 0 ? ['-'] : positionals, io.stdin);
  if (values.state.includes('-')) throw new UsageError('--state - is not supported: stdin carries the manifests; give a file or directory');
  const state = values.state.length === 0 ? [] : await readObjects(values.state);
  const snapshot = snapshotFromObjects([...state, ...manifests].map((entry) => entry.object));
  const report = auditObjects(
    manifests.map((entry) => ({ object: entry.object, source: `${entry.source}:${entry.line}` })),
    snapshot,
    policy,
    now,
  );
  if (values.output === 'json') io.stdout.write(JSON.stringify(report, null, 2) + '\n');
  else {
    const color = values['no-color'] !== true && io.stdout.isTTY === true && io.env['NO_COLOR'] === undefined;
    io.stdout.write(renderTable(report, { color }));
  }
  return report.summary.deny > 0 ? EXIT_DENIED : EXIT_OK;
}
