import type { AuditReport, AuditResult } from './audit.ts';

export interface TableOptions {
  readonly color: boolean;
  /** Extra lines under a result's header (the cluster audit's pod roll-up), already indented. */
  readonly resultLines?: (result: AuditResult, paint: (color: TableColor, text: string) => string) => readonly string[];
}

export type TableColor = 'red' | 'yellow' | 'green' | 'cyan' | 'dim' | 'bold';

const COLORS = { red: '\x1b[31m', yellow: '\x1b[33m', green: '\x1b[32m', cyan: '\x1b[36m', dim: '\x1b[2m', bold: '\x1b[1m', reset: '\x1b[0m' };

/**
 * Manifests are untrusted: a name or image holding terminal control sequences must not repaint the
 * reader's terminal. Control characters are shown as `\xNN`.
 */
export function clean(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** The human report: grouped by namespace, one block per workload, findings indented under their container. */
export function renderTable(report: AuditReport, options: TableOptions): string {
  const paint = (color: keyof typeof COLORS, text: string): string => (options.color ? `${COLORS[color]}${text}${COLORS.reset}` : text);
  const verdictColor = { allow: 'green', inject: 'cyan', deny: 'red' } as const;
  const severityColor = { deny: 'red', warn: 'yellow', info: 'dim' } as const;
  const lines: string[] = [];
  let namespace: string | undefined;
  for (const result of report.results) {
    if (result.namespace !== namespace) {
      namespace = result.namespace;
      lines.push('', paint('bold', `namespace ${clean(namespace)}`) + paint('dim', ` (mode ${result.mode})`));
    }
    const inject = result.inject.length > 0 ? ` inject [${clean(result.inject.join(', '))}]` : '';
    lines.push(`  ${clean(result.kind)}/${clean(result.name)}  ${paint(verdictColor[result.decision], result.decision.toUpperCase())}${inject}  ${paint('dim', clean(result.source))}`);
    if (result.skipped !== undefined) lines.push(paint('dim', `    skipped: ${clean(result.skipped)}`));
    if (options.resultLines !== undefined) lines.push(...options.resultLines(result, paint));
    for (const finding of result.findings) {
      lines.push(`    ${paint(severityColor[finding.severity], finding.severity.padEnd(4))} ${finding.code}: ${clean(finding.message)}`);
    }
    for (const container of result.containers) {
      const via = container.credential !== null
        ? `via ${clean(container.credential.secret)} (${container.credential.source})`
        : container.access === null ? '' : `access ${container.access}`;
      lines.push(`    ${clean(container.name)}  ${clean(container.reference.normalized ?? container.image)}  ${paint(verdictColor[container.decision], container.decision)}  ${paint('dim', via)}`);
      for (const finding of container.findings) {
        lines.push(`      ${paint(severityColor[finding.severity], finding.severity.padEnd(4))} ${finding.code}: ${clean(finding.message)}`);
      }
    }
  }
  const s = report.summary;
  lines.push(
    '',
    `${s.objects} workloads, ${s.containers} containers: ${paint(s.deny > 0 ? 'red' : 'green', `${s.deny} would be denied`)}, ${s.inject} would get pull secrets injected, ${s.warn} with warnings (policy mode ${report.mode})`,
  );
  return lines.join('\n').replace(/^\n/, '') + '\n';
}
