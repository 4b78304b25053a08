/**
 * A copy of `text` that holds nothing but its own characters.
 *
 * In V8 a string cut out of a longer one (`slice`, a YAML or JSON reader's scalar, a name read from
 * a manifest) is a view that keeps the whole longer string alive, and a string joined with `+`
 * keeps its parts. A name kept from a parsed file for as long as the process runs would then keep
 * the file's whole text, the Secrets' data in it included. Joining with one character and cutting
 * it off again makes V8 write the characters out into a string of their own (it flattens the joined
 * string before cutting it), so the copy keeps nothing else alive.
 * Imports nothing: the pure core may use it.
 */
export function ownCopy(text: string): string {
  return ` ${text}`.slice(1);
}
