/**
 * Writes `JSON.stringify(value, null, 2)` of a report in pieces, so a report of 20,000 workloads
 * (55 MiB of text) never exists as one string, nor as that string's UTF-8 copy on its way out.
 * The text written is byte for byte what JSON.stringify(value, null, 2) returns.
 */

/**
 * Array elements stringified per piece: enough that the per-piece work is noise, few enough that a
 * piece (~3 KiB per audit result) stays below V8's large-object size and dies young.
 */
export const ELEMENTS_PER_PIECE = 32;

/**
 * `{"key": value}` stringified alone is `{\n  "key": <value at depth 1>\n}`: the member's text as
 * it appears in the whole object, found without re-indenting anything.
 */
function memberText(key: string, value: unknown): string | undefined {
  const text = JSON.stringify({ [key]: value }, null, 2);
  // `{}`: the value is undefined or a function, which JSON.stringify leaves out.
  return text === '{}' ? undefined : text.slice(2, -2);
}

/**
 * Writes the object `value`; the array members named in `streamed` go out ELEMENTS_PER_PIECE
 * elements at a time. Ends without a newline, as JSON.stringify does.
 */
export function writeJson(value: Readonly<Record<string, unknown>>, streamed: ReadonlySet<string>, write: (text: string) => void): void {
  let first = true;
  for (const key of Object.keys(value)) {
    const member = value[key];
    if (streamed.has(key) && Array.isArray(member) && member.length > 0) {
      write(first ? '{\n' : ',\n');
      first = false;
      // `  "key": [\n` then the elements at depth 2, as `{"key": [elements]}` prints them.
      const prefix = `  ${JSON.stringify(key)}: [\n`;
      const suffix = '\n  ]';
      write(prefix);
      for (let start = 0; start < member.length; start += ELEMENTS_PER_PIECE) {
        const piece = memberText(key, member.slice(start, start + ELEMENTS_PER_PIECE)) as string;
        if (start > 0) write(',\n');
        write(piece.slice(prefix.length, piece.length - suffix.length));
      }
      write(suffix);
      continue;
    }
    const text = memberText(key, member);
    if (text === undefined) continue;
    write(first ? '{\n' : ',\n');
    first = false;
    write(text);
  }
  write(first ? '{}' : '\n}');
}
