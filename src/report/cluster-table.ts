import type { AuditResult } from './audit.ts';
import type { ClusterAuditReport, ClusterAuditResult } from './cluster-audit.ts';
import { clean, renderTable, type TableColor } from './table.ts';

/**
 * The cluster audit's table: the offline audit's, plus each workload's live pods under it, one
 * line per distinct outcome (`3 pods allow`, `1 pod deny (e.g. web-7)` with its findings).
 */
export function renderClusterTable(report: ClusterAuditReport, options: { color: boolean }): string {
  return renderTable(report, { color: options.color, resultLines: podLines });
}

const VERDICT_COLOR = { allow: 'green', inject: 'cyan', deny: 'red' } as const;
const SEVERITY_COLOR = { deny: 'red', warn: 'yellow', info: 'dim' } as const;

function podLines(result: AuditResult, paint: (color: TableColor, text: string) => string): string[] {
  const pods = (result as ClusterAuditResult).pods;
  if (pods === undefined) return [];
  const plural = (count: number): string => `${count} pod${count === 1 ? '' : 's'}`;
  const lines = [paint('dim', `    live pods: ${pods.total} (${pods.allow} allow, ${pods.inject} inject, ${pods.deny} deny)`)];
  for (const outcome of pods.outcomes) {
    // A single outcome without findings says nothing the count line did not.
    if (pods.outcomes.length === 1 && outcome.findings.length === 0) break;
    lines.push(`      ${plural(outcome.count)} ${paint(VERDICT_COLOR[outcome.decision], outcome.decision)} ${paint('dim', `(e.g. ${clean(outcome.example)})`)}`);
    for (const finding of outcome.findings) {
      lines.push(`        ${paint(SEVERITY_COLOR[finding.severity], finding.severity.padEnd(4))} ${finding.code}: ${clean(finding.message)}`);
    }
  }
  if (pods.otherPods > 0) lines.push(paint('dim', `      ${plural(pods.otherPods)} with other outcomes (see -o json)`));
  return lines;
}
