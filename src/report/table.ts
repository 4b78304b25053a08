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

export function plural(count: number, word: string, many = `${word}s`): string {
  return `${count} ${count === 1 ? word : many}`;
}

/**
 * The human report: grouped by namespace, one block per workload, findings indented under their
 * container; then what was not audited, the roll-up, and the summary line. Images are printed
 * whole, however long.
 */
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
    // `INJECT [regcred]`; another verdict that still names secrets says what they are for.
    const injected = `[${clean(result.inject.join(', '))}]`;
    const inject = result.inject.length === 0 ? '' : result.decision === 'inject' ? ` ${injected}` : ` inject ${injected}`;
    lines.push(`  ${clean(result.kind)}/${clean(result.name)}  ${paint(verdictColor[result.decision], result.decision.toUpperCase())}${inject}  ${paint('dim', clean(result.source))}`);
    const others = result.sources.slice(1);
    if (others.length > 0) {
      const note = result.copiesDiffer ? 'copies differ; shown: the copy with the worst verdict; also in' : 'also in';
      lines.push(paint(result.copiesDiffer ? 'yellow' : 'dim', `    ${note}: ${clean(others.join(', '))}`));
    }
    if (result.skipped !== undefined) lines.push(paint('dim', `    skipped: ${clean(result.skipped)}`));
    if (options.resultLines !== undefined) lines.push(...options.resultLines(result, paint));
    for (const finding of result.findings) {
      lines.push(`    ${paint(severityColor[finding.severity], finding.severity.padEnd(4))} ${finding.code}: ${clean(finding.message)}`);
    }
    for (const container of result.containers) {
      const via = container.credential !== null
        ? `via ${clean(container.credential.secret)} (${container.credential.source})`
        : container.access === null ? '' : `access ${container.access}`;
      lines.push(`    ${clean(container.name)}  ${clean(container.reference.normalized ?? container.image)}  ${paint(verdictColor[container.decision], container.decision)}  ${paint('dim', via)}`.trimEnd());
      for (const finding of container.findings) {
        lines.push(`      ${paint(severityColor[finding.severity], finding.severity.padEnd(4))} ${finding.code}: ${clean(finding.message)}`);
      }
    }
  }
  lines.push(...renderNotAudited(report, paint));
  lines.push(...renderRollup(report));
  const s = report.summary;
  const tail: string[] = [];
  if (s.skipped > 0) tail.push(`${plural(s.skipped, 'input')} skipped (not Kubernetes objects)`);
  if (s.notAudited > 0) tail.push(paint('red', `${plural(s.notAudited, 'input')} NOT AUDITED: the audit is incomplete`));
  lines.push(
    '',
    `${plural(s.objects, 'workload')}, ${plural(s.containers, 'container')}: ${paint(s.deny > 0 ? 'red' : 'green', `${s.deny} would be denied`)}, ${s.inject} would get pull secrets injected, ${s.warn} with warnings (policy mode ${report.mode})` +
      (tail.length > 0 ? `; ${tail.join(', ')}` : ''),
  );
  return lines.join('\n').replace(/^\n/, '') + '\n';
}

function renderNotAudited(report: AuditReport, paint: (color: keyof typeof COLORS, text: string) => string): string[] {
  if (report.notAudited.length === 0) return [];
  const lines = ['', paint('red', paint('bold', `NOT AUDITED (${report.notAudited.length}): the audit is incomplete`))];
  for (const entry of report.notAudited) {
    lines.push(`  ${clean(entry.source)}  ${clean(entry.reason)}`);
    if (entry.command !== undefined) lines.push(`    run: ${clean(entry.command)}`);
  }
  return lines;
}

/** A two-column block whose second column starts at the same place on every line. */
function aligned(rows: readonly (readonly [string, string])[], indent = '  '): string[] {
  const width = Math.max(...rows.map(([left]) => left.length));
  return rows.map(([left, right]) => `${indent}${left.padEnd(width)}  ${right}`.trimEnd());
}

function renderRollup(report: AuditReport): string[] {
  const { rollup } = report;
  const lines: string[] = [];
  if (rollup.findings.length > 0) {
    lines.push('', 'Findings by code');
    lines.push(...aligned(rollup.findings.map((entry) => {
      const by = (['deny', 'warn', 'info'] as const).filter((severity) => entry[severity] > 0).map((severity) => `${entry[severity]} ${severity}`);
      return [entry.code, `${String(entry.count).padStart(6)}  (${by.join(', ')})`] as const;
    })));
  }
  if (rollup.registries.length > 0) {
    lines.push('', 'Images by registry');
    lines.push(...aligned(rollup.registries.map((entry) => {
      const rules = entry.rules.map((rule) => (rule === null ? 'defaultAccess: no rule names it' : `rule ${rule}`));
      const how = `access ${entry.access.join(', ')}${rules.length > 0 ? ` (${rules.join('; ')})` : ''}`;
      return [clean(entry.registry), `${plural(entry.images, 'image').padStart(12)}  ${how}`] as const;
    })));
  }
  if (rollup.uncovered.length > 0) {
    lines.push('', 'Registries that no rule names and no secret covers');
    lines.push(...aligned(rollup.uncovered.map((entry) => [clean(entry.registry), `${plural(entry.images, 'image')} in ${plural(entry.workloads, 'workload')}, e.g. ${clean(entry.example)}`] as const)));
    lines.push('', 'Suggested policy block (paste into the policy; check each access before enforcing):');
    lines.push(...rollup.suggestedPolicy.trimEnd().split('\n').map((line) => `  ${clean(line)}`));
  }
  return lines;
}
