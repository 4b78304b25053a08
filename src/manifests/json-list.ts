/**
 * The items of a JSON `List` (`kubectl get -o json`, a cluster dump) found without building the
 * whole tree: the text is scanned once for the top-level members and each item's span, so each
 * item can be parsed alone with JSON.parse and dropped as soon as its caller has taken what it
 * needs. A 64 MiB List then never exists as one 300 MiB tree that the garbage collector has to walk
 * over and over while every item is processed.
 *
 * The scan only finds boundaries (strings and their escapes, bracket depth, the separators between
 * members and items); JSON.parse still judges every byte: the caller parses each item span, and
 * `validateListMembers` parses every other top-level member and the kind. Together with the
 * separators checked here that is the whole text, so a text is accepted only when JSON.parse of
 * the whole text would accept it. Anything unexpected returns undefined and the caller parses the
 * whole text as before. Linear: every character is visited a bounded number of times.
 */

/** Item spans of a JSON List, in text order: item i is `text.slice(starts[i], ends[i])`. */
export interface JsonListSpans {
  readonly starts: readonly number[];
  readonly ends: readonly number[];
  /** Spans of the other top-level values, `kind` last; validateListMembers parses them. */
  readonly members: readonly (readonly [number, number])[];
  /** The last `kind` member's value span (JSON keeps the last of duplicate keys), if any. */
  readonly kind: readonly [number, number] | undefined;
  /**
   * True when some item ends were guessed from the layout: a span that does not parse may then be
   * a wrong guess, and `scanJsonListExactly` says for sure. Without guesses, every span is an item.
   */
  readonly guessed: boolean;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

function isJsonSpace(code: number): boolean {
  return code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09;
}

function skipSpace(text: string, index: number): number {
  let at = index;
  while (at < text.length && isJsonSpace(text.charCodeAt(at))) at += 1;
  return at;
}

/** End (exclusive) of the string starting at the quote at `index`, or -1. */
function stringEnd(text: string, index: number): number {
  let from = index + 1;
  for (;;) {
    const quote = text.indexOf('"', from);
    if (quote === -1) return -1;
    // The run of backslashes before a quote lies between it and the previous quote: linear overall.
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes += 1;
    if (backslashes % 2 === 0) return quote + 1;
    from = quote + 1;
  }
}

/** End (exclusive) of the value starting at `index` (not validated: JSON.parse does that), or -1. */
function valueEnd(text: string, index: number): number {
  const first = text.charCodeAt(index);
  if (first === QUOTE) return stringEnd(text, index);
  if (first === OPEN_BRACE || first === OPEN_BRACKET) {
    let depth = 0;
    for (let at = index; at < text.length; at += 1) {
      const code = text.charCodeAt(at);
      if (code === QUOTE) {
        const end = stringEnd(text, at);
        if (end === -1) return -1;
        at = end - 1;
      } else if (code === OPEN_BRACE || code === OPEN_BRACKET) {
        depth += 1;
      } else if (code === CLOSE_BRACE || code === CLOSE_BRACKET) {
        depth -= 1;
        if (depth === 0) return at + 1;
      }
    }
    return -1;
  }
  // A number, true, false or null: up to the next separator.
  let at = index;
  while (at < text.length) {
    const code = text.charCodeAt(at);
    if (code === COMMA || code === CLOSE_BRACE || code === CLOSE_BRACKET || isJsonSpace(code)) break;
    at += 1;
  }
  return at === index ? -1 : at;
}

function lineBreakAt(text: string, at: number): boolean {
  const code = text.charCodeAt(at);
  return code === 0x0a || (code === 0x0d && text.charCodeAt(at + 1) === 0x0a);
}

/** How far back from an item the line break before it is looked for (its indentation). */
const MAX_INDENT = 256;

/**
 * Item ends found from the layout of indented JSON (`kubectl get -o json`, `jq .`), without
 * visiting every character. A raw line break cannot be inside a JSON string, so in such text an
 * object item that starts after `indent` spaces ends at the first line that holds, after exactly
 * those spaces, its closing bracket. The answer is only a guess where the text is laid out some
 * other way, and a wrong guess can never be taken for an item: every item span is JSON.parsed, and
 * a span that starts at an item and stops anywhere but its end does not parse (its brackets only
 * balance at the end). The scanner also checks a separator follows, and scans when not. Linear:
 * each search starts at the item it is for and stops at the first match, and a search that finds
 * none ends the guessing. A scan that fails after a guess is done again without guessing.
 */
class IndentedItems {
  private readonly text: string;
  private indent = -1;
  private needle = '';
  /** `{"key"` of the last compact item, and the needle `},{"key"` its end is searched with. */
  private compactKey = '';
  private compactNeedle = '';
  private stopped = false;
  /** True once an item end came from the layout. */
  guessed = false;
  constructor(text: string) {
    this.text = text;
  }
  stop(): void {
    this.stopped = true;
  }
  /** End (exclusive) of the object item at `start`, or -1 when the layout does not say. */
  itemEnd(start: number): number {
    if (this.stopped || this.text.charCodeAt(start) !== OPEN_BRACE) return -1;
    if (this.text.charCodeAt(start + 1) === QUOTE) return this.compactItemEnd(start);
    // Only an object laid out over lines (`{` ends its line): one written on a single line among
    // indented ones would take the next one's closing line for its own.
    if (!lineBreakAt(this.text, start + 1)) return -1;
    let lineStart = start;
    while (lineStart > 0 && start - lineStart <= MAX_INDENT && this.text.charCodeAt(lineStart - 1) === 0x20) lineStart -= 1;
    if (lineStart === 0 || this.text.charCodeAt(lineStart - 1) !== 0x0a) return -1; // not alone on its line
    const indent = start - lineStart;
    if (indent !== this.indent) {
      this.indent = indent;
      this.needle = `\n${' '.repeat(indent)}}`;
    }
    const close = this.text.indexOf(this.needle, start);
    if (close === -1) {
      this.stopped = true;
      return -1;
    }
    this.guessed = true;
    return close + this.needle.length;
  }

  /**
   * A compact List (`JSON.stringify`, `jq -c`, the API server's own answers) has its items written
   * one after the other, each starting with the same first key: `},{"apiVersion"`. An item that
   * starts `{"key"` is guessed to end before the next `},{"key"` (the quote is raw there, so not
   * inside a string, where it would be escaped). A nested list of objects that start with the same
   * key (`managedFields`, `ownerReferences`) makes that guess short; its span then does not parse,
   * and the reader scans the text again without guessing (parse.ts). No match (the last item, or
   * items that start with other keys) ends the guessing: each search stops at its first match.
   */
  private compactItemEnd(start: number): number {
    const keyEnd = stringEnd(this.text, start + 1);
    if (keyEnd === -1) return -1;
    const keyLength = keyEnd - start;
    // Most items start with the same key: the needle is built once.
    if (this.compactKey.length !== keyLength || !this.text.startsWith(this.compactKey, start)) {
      this.compactKey = this.text.slice(start, keyEnd);
      this.compactNeedle = `},${this.compactKey}`;
    }
    const close = this.text.indexOf(this.compactNeedle, keyEnd);
    if (close === -1) {
      this.stopped = true;
      return -1;
    }
    this.guessed = true;
    return close + 1;
  }
}

function parseKey(text: string, start: number, end: number): string | undefined {
  try {
    const key: unknown = JSON.parse(text.slice(start, end));
    return typeof key === 'string' ? key : undefined;
  } catch {
    return undefined;
  }
}

/** Where the scan stopped on text that is not valid JSON: a hint for the error's line. */
export interface InvalidJson {
  readonly invalidAt: number;
}

/**
 * The spans of a top-level object's members, with the items of its (last) `items` array; or
 * undefined when the text is not an object whose `items` is an array; or, when its structure is
 * in doubt, where the doubt arose. In both cases JSON.parse of the whole text decides, and names
 * the error (the offset is only a hint for when its message names no position).
 */
export function scanJsonList(text: string): JsonListSpans | InvalidJson | undefined {
  const layout = new IndentedItems(text);
  const found = scanList(text, layout);
  // A guess from the layout never makes the answer worse: when the scan with guesses fails, the
  // text is scanned again character by character.
  return found !== undefined && !('invalidAt' in found) ? found : layout.guessed ? scanList(text, undefined) : found;
}

/** scanJsonList without guesses from the layout: every character visited, every span one item. */
export function scanJsonListExactly(text: string): JsonListSpans | InvalidJson | undefined {
  return scanList(text, undefined);
}

function scanList(text: string, layout: IndentedItems | undefined): JsonListSpans | InvalidJson | undefined {
  const invalid = (at: number): InvalidJson => ({ invalidAt: Math.min(at, text.length) });
  let at = skipSpace(text, 0);
  if (text.charCodeAt(at) !== OPEN_BRACE) return undefined;
  at = skipSpace(text, at + 1);
  const firstMember = at;
  let starts: number[] | undefined;
  let ends: number[] | undefined;
  let itemsSpan: [number, number] | undefined;
  let kind: [number, number] | undefined;
  const members: [number, number][] = [];
  for (;;) {
    if (text.charCodeAt(at) !== QUOTE) return at === firstMember && text.charCodeAt(at) === CLOSE_BRACE ? undefined : invalid(at);
    const keyEnd = stringEnd(text, at);
    if (keyEnd === -1) return invalid(at);
    const key = parseKey(text, at, keyEnd);
    if (key === undefined) return invalid(at);
    at = skipSpace(text, keyEnd);
    if (text.charCodeAt(at) !== COLON) return invalid(at);
    at = skipSpace(text, at + 1);
    const valueStart = at;
    let end: number;
    if (key === 'items' && text.charCodeAt(at) === OPEN_BRACKET) {
      // An earlier `items` loses (JSON keeps the last), but must still be valid JSON.
      if (itemsSpan !== undefined) members.push(itemsSpan);
      const itemStarts: number[] = [];
      const itemEnds: number[] = [];
      at = skipSpace(text, at + 1);
      if (text.charCodeAt(at) !== CLOSE_BRACKET) {
        for (;;) {
          // The layout's answer is taken only when a separator follows it; else the item is scanned.
          let itemEnd = layout === undefined ? -1 : layout.itemEnd(at);
          let after = itemEnd === -1 ? -1 : skipSpace(text, itemEnd);
          if (after !== -1 && text.charCodeAt(after) !== COMMA && text.charCodeAt(after) !== CLOSE_BRACKET) {
            layout?.stop();
            after = -1;
          }
          if (after === -1) {
            itemEnd = valueEnd(text, at);
            if (itemEnd === -1) return invalid(at);
            after = skipSpace(text, itemEnd);
          }
          itemStarts.push(at);
          itemEnds.push(itemEnd);
          at = after;
          const separator = text.charCodeAt(at);
          if (separator === CLOSE_BRACKET) break;
          if (separator !== COMMA) return invalid(at);
          at = skipSpace(text, at + 1);
        }
      }
      end = at + 1;
      starts = itemStarts;
      ends = itemEnds;
      itemsSpan = [valueStart, end];
    } else {
      end = valueEnd(text, at);
      if (end === -1) return invalid(at);
      if (key === 'items') {
        // `items` is not an array after all (the last one wins): not a List.
        starts = undefined;
        ends = undefined;
      }
      if (key === 'kind') {
        if (kind !== undefined) members.push(kind);
        kind = [valueStart, end];
      } else {
        members.push([valueStart, end]);
      }
    }
    at = skipSpace(text, end);
    const separator = text.charCodeAt(at);
    if (separator === CLOSE_BRACE) break;
    if (separator !== COMMA) return invalid(at);
    at = skipSpace(text, at + 1);
  }
  const after = skipSpace(text, at + 1);
  if (after !== text.length) return invalid(after);
  if (starts === undefined || ends === undefined) return undefined;
  return { starts, ends, members: kind === undefined ? members : [...members, kind], kind, guessed: layout?.guessed === true };
}

/**
 * The List's kind when every top-level value other than the items is valid JSON (JSON.parse of
 * each), or undefined when one is not (the whole text is then invalid JSON) or `kind` is absent.
 */
export function validateListMembers(text: string, spans: JsonListSpans): unknown {
  try {
    for (const [start, end] of spans.members) JSON.parse(text.slice(start, end));
  } catch {
    return undefined;
  }
  return spans.kind === undefined ? undefined : JSON.parse(text.slice(spans.kind[0], spans.kind[1]));
}
