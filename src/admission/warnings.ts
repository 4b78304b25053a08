import { shorten } from '../decide/messages.ts';


/** kubectl prints each warning on its own line; the API server truncates long ones. */
export const WARNING_MAX_LENGTH = 119;
/** The API server keeps at most 4 KiB of warnings per response; we stay under it with room to spare. */
export const WARNINGS_MAX_TOTAL = 4000;

const omittedWarning = (count: number): string => `pullguard: ${count} more findings omitted; run pullguard audit for all`;
/** The longest omittedWarning (a count has at most 16 digits): a warning this far under the limit needs no exact check. */
const OMITTED_MAX_LENGTH = omittedWarning(0).length + 15;

/** Deduplicates, shortens to the per-warning limit and stops before the total limit (saying so). */
export function boundWarnings(raw: readonly string[]): string[] {
  const flattened = raw.map((text) => {
    const flat = text.includes('\n') || text.includes('\r') ? text.replace(/[\r\n]+/g, ' ') : text;
    // Findings are written short already; prefixed ones ("[dry-run] would deny: ...") may not be.
    // Their start names the container and the problem, their end the fix: the middle gives way.
    return shorten(flat, WARNING_MAX_LENGTH);
  });
  const distinct = flattened.length < 2 ? flattened : [...new Set(flattened)];
  const out: string[] = [];
  let total = 0;
  for (let index = 0; index < distinct.length; index++) {
    const warning = distinct[index] as string;
    if (total + warning.length > WARNINGS_MAX_TOTAL - OMITTED_MAX_LENGTH) {
      const omitted = omittedWarning(distinct.length - index);
      if (total + warning.length > WARNINGS_MAX_TOTAL - omitted.length) {
        out.push(omitted);
        break;
      }
    }
    out.push(warning);
    total += warning.length;
  }
  return out;
}
