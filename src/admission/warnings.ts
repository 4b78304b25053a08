import { shorten } from '../decide/messages.ts';


/** kubectl prints each warning on its own line; the API server truncates long ones. */
export const WARNING_MAX_LENGTH = 119;
/** The API server keeps at most 4 KiB of warnings per response; we stay under it with room to spare. */
export const WARNINGS_MAX_TOTAL = 4000;

/** Deduplicates, shortens to the per-warning limit and stops before the total limit (saying so). */
export function boundWarnings(raw: readonly string[]): string[] {
  const flattened = raw.map((text) => {
    const flat = text.replace(/[\r\n]+/g, ' ');
    // Findings are written short already; prefixed ones ("[dry-run] would deny: ...") may not be.
    // Their start names the container and the problem, their end the fix: the middle gives way.
    return shorten(flat, WARNING_MAX_LENGTH);
  });
  const distinct = [...new Set(flattened)];
  const out: string[] = [];
  let total = 0;
  for (const [index, warning] of distinct.entries()) {
    const omitted = `pullguard: ${distinct.length - index} more findings omitted; run pullguard audit for all`;
    if (total + warning.length > WARNINGS_MAX_TOTAL - omitted.length) {
      out.push(omitted);
      break;
    }
    out.push(warning);
    total += warning.length;
  }
  return out;
}
