import { sliceWhole } from '../decide/messages.ts';


/** kubectl prints each warning on its own line; the API server truncates long ones. */
export const WARNING_MAX_LENGTH = 119;
/** The API server keeps at most 4 KiB of warnings per response; we stay under it with room to spare. */
export const WARNINGS_MAX_TOTAL = 4000;

/** Deduplicates, shortens to the per-warning limit and stops before the total limit (saying so). */
export function boundWarnings(raw: readonly string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  let total = 0;
  for (const text of raw) {
    const flat = text.replace(/[\r\n]+/g, ' ');
    // Findings are written short already; prefixed ones ("[dry-run] would deny: ...") may not be.
    // Their start names the container and registry, so the end is what gets cut.
    const warning = flat.length <= WARNING_MAX_LENGTH ? flat : `${sliceWhole(flat, 0, WARNING_MAX_LENGTH - 1)}…`;
    if (seen.has(warning)) continue;
    const omitted = `pullguard: ${raw.length - out.length} more findings omitted; run pullguard audit for all`;
    if (total + warning.length > WARNINGS_MAX_TOTAL - omitted.length) {
      out.push(omitted);
      break;
    }
    seen.add(warning);
    out.push(warning);
    total += warning.length;
  }
  return out;
}
