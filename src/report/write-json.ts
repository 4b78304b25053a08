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

/** Indentation of the elements of a streamed list (`{"key": [elements]}`: depth 2) and of their members (depth 3). */
const ELEMENT_INDENT = '    ';
const MEMBER_INDENT = '      ';
/**
 * The text of `value` as JSON.stringify(..., null, 2) prints it as member `key` of an object
 * `depth` levels deep (indented for that depth, toJSON called with `key`), or undefined when JSON
 * leaves it out. It is stringified inside objects nested that deep and cut out of their text.
 */
function nestedText(key: string, value: unknown, depth: number): string | undefined {
  let wrapper: unknown = { [key]: value };
  let prefix = `${'  '.repeat(depth)}${JSON.stringify(key)}: `;
  let suffix = '';
  for (let level = depth - 1; level >= 1; level -= 1) {
    wrapper = { '': wrapper };
    prefix = `${'  '.repeat(level)}"": {\n${prefix}`;
    suffix += `\n${'  '.repeat(level)}}`;
  }
  prefix = `{\n${prefix}`;
  suffix += '\n}';
  const wrapped = JSON.stringify(wrapper, null, 2);
  return wrapped.startsWith(prefix) ? wrapped.slice(prefix.length, wrapped.length - suffix.length) : undefined;
}

/** Texts of member values kept for reuse (see ElementWriter); emptied when full. */
export const SHARED_TEXTS_MAX = 1024;

/**
 * The text of one element of a streamed list, as `JSON.stringify` prints it at depth 2. Rows of a
 * report share objects (replicas decided once share one `containers` list and its findings): an
 * object or array member value is stringified once where JSON.stringify indents it for depth 3, and its text reused
 * for the next element that holds the same object. The report is not changed while it is written,
 * so the same object always prints the same text (a value with toJSON is not shared: it may answer
 * differently for another member name). An element that is not a plain object (an array, a
 * primitive, an object with toJSON or a prototype of its own) is stringified as a whole.
 */
class ElementWriter {
  private readonly shared = new Map<object, string | undefined>();
  private readonly keyPrefixes = new Map<string, string>();

  text(element: unknown, index: number): string {
    if (!isPlainObject(element)) {
      // As the whole list prints it: at depth 2, a toJSON called with the element's index.
      const text = nestedText(String(index), element, 2);
      return text === undefined ? `${ELEMENT_INDENT}null` : ELEMENT_INDENT + text;
    }
    let body = '';
    for (const key of Object.keys(element)) {
      const value = element[key];
      const text = typeof value === 'object' && value !== null ? this.sharedText(key, value) : (JSON.stringify(value) as string | undefined);
      if (text === undefined) continue; // undefined, a function, a symbol: JSON leaves the member out
      body += (body === '' ? '' : ',\n') + this.keyPrefix(key) + text;
    }
    return body === '' ? `${ELEMENT_INDENT}{}` : `${ELEMENT_INDENT}{\n${body}\n${ELEMENT_INDENT}}`;
  }

  private sharedText(key: string, value: object): string | undefined {
    // A toJSON may answer differently for another member name: such a value is not shared.
    if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return nestedText(key, value, 3);
    // Most rows hold lists of their own that JSON.stringify would print with more ceremony than
    // work: an empty list, or a list of strings (a row's sources).
    if (Array.isArray(value) && isStringList(value)) return stringListText(value);
    if (this.shared.has(value)) return this.shared.get(value);
    if (this.shared.size >= SHARED_TEXTS_MAX) this.shared.clear();
    const text = nestedText('', value, 3);
    this.shared.set(value, text);
    return text;
  }

  private keyPrefix(key: string): string {
    let prefix = this.keyPrefixes.get(key);
    if (prefix === undefined) {
      prefix = `${MEMBER_INDENT}${JSON.stringify(key)}: `;
      this.keyPrefixes.set(key, prefix);
    }
    return prefix;
  }
}

function isStringList(list: readonly unknown[]): list is readonly string[] {
  for (const item of list) if (typeof item !== 'string') return false;
  return true;
}

/** A list of strings printed at depth 3, as JSON.stringify prints it there (`[]` when empty). */
function stringListText(list: readonly string[]): string {
  if (list.length === 0) return '[]';
  let text = '[';
  for (let index = 0; index < list.length; index += 1) text += `${index === 0 ? '' : ','}\n${MEMBER_INDENT}  ${JSON.stringify(list[index])}`;
  return `${text}\n${MEMBER_INDENT}]`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return (prototype === Object.prototype || prototype === null) && typeof (value as { toJSON?: unknown }).toJSON !== 'function';
}

/**
 * Writes the object `value`; the array members named in `streamed` go out ELEMENTS_PER_PIECE
 * elements at a time. Ends without a newline, as JSON.stringify does.
 */
export function writeJson(value: Readonly<Record<string, unknown>>, streamed: ReadonlySet<string>, write: (text: string) => void): void {
  let first = true;
  const elements = new ElementWriter();
  for (const key of Object.keys(value)) {
    const member = value[key];
    if (streamed.has(key) && Array.isArray(member) && member.length > 0) {
      write(first ? '{\n' : ',\n');
      first = false;
      // `  "key": [\n` then the elements at depth 2, as `{"key": [elements]}` prints them.
      write(`  ${JSON.stringify(key)}: [\n`);
      for (let start = 0; start < member.length; start += ELEMENTS_PER_PIECE) {
        let piece = start > 0 ? ',\n' : '';
        const end = Math.min(start + ELEMENTS_PER_PIECE, member.length);
        for (let index = start; index < end; index += 1) piece += (index > start ? ',\n' : '') + elements.text(member[index], index);
        write(piece);
      }
      write('\n  ]');
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
