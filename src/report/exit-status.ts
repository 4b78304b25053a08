/**
 * The audit's exit statuses: a contract CI pipelines read (`pullguard audit` of files and of a
 * cluster alike). When several apply, the first in this order wins: 2 (with --strict, something was
 * skipped), 1 (something would be denied), 3 (something could not be audited), 0.
 */
export const AUDIT_EXIT = {
  /** Every input was audited and nothing would be denied. */
  ok: 0,
  /** Something would be denied. */
  denied: 1,
  /** Usage error or unreadable command-line input; with --strict, also any skipped input. */
  usage: 2,
  /** The audit is incomplete: something was not audited (a chart or overlay whose tool is missing or failed). */
  incomplete: 3,
} as const;

export interface ExitInputs {
  readonly summary: { readonly deny: number; readonly skipped: number; readonly notAudited: number };
}

export function auditExitStatus(report: ExitInputs, options: { readonly strict: boolean }): number {
  if (options.strict && report.summary.skipped > 0) return AUDIT_EXIT.usage;
  if (report.summary.deny > 0) return AUDIT_EXIT.denied;
  if (report.summary.notAudited > 0) return AUDIT_EXIT.incomplete;
  return AUDIT_EXIT.ok;
}
