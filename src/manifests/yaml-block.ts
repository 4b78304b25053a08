import type { Schema } from 'js-yaml';

/**
 * A fast reader for the YAML that manifests are almost always written in: block mappings and
 * sequences, one scalar per line (plain, single- or double-quoted), comments, `[]` and `{}`.
 * That is what kubectl, helm, kustomize and most people write, and reading it line by line is
 * several times faster than a general YAML parser.
 *
 * It never guesses: anything else (flow collections, anchors and aliases, tags, block scalars,
 * scalars over several lines, merge keys, duplicate keys, tabs, directives, odd indentation, a
 * document that is not a mapping) makes it return undefined, and the caller reads that document
 * with js-yaml, as it would have anyway. Plain scalars are resolved by the same schema js-yaml
 * uses (null, booleans, integers, floats of the YAML 1.2 core schema), so both readers give the
 * same values; a property test holds them to it.
 */

class NotBlockYaml extends Error {}
const NOT_BLOCK = new NotBlockYaml();

function bail(): never {
  throw NOT_BLOCK;
}

const SPACE = 0x20;
const HASH = 0x23;
const COLON = 0x3a;
const DASH = 0x2d;
const QUOTE = 0x22;
const APOSTROPHE = 0x27;
const BACKSLASH = 0x5c;

/** Characters that give a plain scalar's first character a meaning we leave to js-yaml. */
const SPECIAL_FIRST = new Set([...'[]{},&*!|>%@`?:'].map((character) => character.charCodeAt(0)));

/**
 * The content lines of the chunk being read (not blank, not a comment): spaces before the
 * content, and offsets of the content and of the line's end. Kept in arrays reused from chunk
 * to chunk: a 74 MiB file has 1.5 million lines, and an object per line is garbage.
 */
let indents = new Int32Array(1024);
let starts = new Int32Array(1024);
let ends = new Int32Array(1024);

function pushLine(count: number, indent: number, start: number, end: number): void {
  if (count === indents.length) {
    const grow = (array: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> => {
      const bigger = new Int32Array(array.length * 2);
      bigger.set(array);
      return bigger;
    };
    indents = grow(indents);
    starts = grow(starts);
    ends = grow(ends);
  }
  indents[count] = indent;
  starts[count] = start;
  ends[count] = end;
}

/**
 * Keys and plain values one text's reading has met, in small tables indexed by length and first
 * and last character. Manifests repeat a few dozen keys (`name`, `image`, `metadata`) and many
 * values (`v1`, `Pod`, `IfNotPresent`, `true`, `80`) from object to object: a key found here,
 * compared in place with the text, skips the slice, the checks below and the schema's resolution
 * (done when it was first read), and is the same string as before, which V8 already uses as a
 * property name; a value found here skips the slice and the resolution. A key or value that is not
 * here is read as usual and takes the slot.
 *
 * One per text read (parse.ts makes one per file), never shared: what is remembered are slices of
 * that text, so they hold the text, and its values (a Secret's data among them), only as long as
 * the text is being read. Only values nobody can change are remembered (strings, numbers,
 * booleans, null), and they are read by one schema.
 */
export class RememberedScalars {
  readonly schema: Schema;
  readonly keys: (string | undefined)[] = new Array<string | undefined>(REMEMBERED_SLOTS).fill(undefined);
  readonly values: (string | undefined)[] = new Array<string | undefined>(REMEMBERED_SLOTS).fill(undefined);
  readonly resolved: unknown[] = new Array<unknown>(REMEMBERED_SLOTS).fill(undefined);
  constructor(schema: Schema) {
    this.schema = schema;
  }
}

const REMEMBERED_SLOTS = 1024;

function keySlot(text: string, start: number, end: number): number {
  const length = end - start;
  return (Math.imul(length, 0x9e3779b1) ^ Math.imul(text.charCodeAt(start), 0x85ebca6b) ^ Math.imul(text.charCodeAt(end - 1), 0xc2b2ae35)) >>> 22;
}

class Reader {
  readonly text: string;
  readonly count: number;
  readonly schema: Schema;
  readonly remembered: RememberedScalars;
  next = 0;

  constructor(text: string, count: number, remembered: RememberedScalars) {
    this.text = text;
    this.count = count;
    this.schema = remembered.schema;
    this.remembered = remembered;
  }

  /** Indentation of the next line, or -1 when there is none (so `< column` means "the block ends"). */
  nextIndent(): number {
    return this.next < this.count ? (indents[this.next] as number) : -1;
  }

  /** True when the next line is a `- ` entry. */
  nextIsSequenceEntry(): boolean {
    return this.next < this.count && this.isSequenceEntry(starts[this.next] as number, ends[this.next] as number);
  }

  /** A value at this indentation or deeper: a mapping or a sequence (scalars never start a line). */
  block(indent: number): unknown {
    const lineIndent = this.nextIndent();
    if (lineIndent < indent) bail();
    const start = starts[this.next] as number;
    if (this.nextIsSequenceEntry()) return this.sequence(lineIndent, start);
    return this.mapping(lineIndent, start);
  }

  isSequenceEntry(start: number, end: number): boolean {
    return this.text.charCodeAt(start) === DASH && (start + 1 === end || this.text.charCodeAt(start + 1) === SPACE);
  }

  /** A block mapping whose keys are at column `column`; the first key starts at `first` (in the current line). */
  mapping(column: number, first: number): Record<string, unknown> {
    const result: Record<string, unknown> = {};
    let start = first;
    for (;;) {
      const end = ends[this.next] as number;
      const colon = this.keyEnd(start, end);
      const key = this.key(start, colon);
      if (Object.hasOwn(result, key) || key === '<<') bail();
      this.next += 1;
      const value = this.value(column, colon + 1, end, true);
      if (key === '__proto__') Object.defineProperty(result, key, { value, enumerable: true, writable: true, configurable: true });
      else result[key] = value;
      const following = this.nextIndent();
      if (following < column) return result;
      if (following > column) bail();
      if (this.nextIsSequenceEntry()) return result; // the parent's sequence goes on (a mapping in `- ` at the same column cannot)
      start = starts[this.next] as number;
    }
  }

  /** A block sequence whose dashes are at column `column`. */
  sequence(column: number, first: number): unknown[] {
    const result: unknown[] = [];
    let dash = first;
    for (;;) {
      const end = ends[this.next] as number;
      let at = dash + 1;
      while (at < end && this.text.charCodeAt(at) === SPACE) at += 1;
      if (at === end || this.text.charCodeAt(at) === HASH) {
        // `-` alone: the entry is the block below, or null.
        this.next += 1;
        result.push(this.nextIndent() > column ? this.block(column + 1) : this.schema.resolveImplicitScalarTag('').value);
      } else if (this.isSequenceEntry(at, end)) {
        bail(); // `- - a`
      } else if (this.looksLikeKey(at, end)) {
        // `- key: value`: a mapping whose keys line up with this first key.
        result.push(this.mapping(column + (at - dash), at));
      } else {
        this.next += 1;
        result.push(this.value(column, dash + 1, end, false));
      }
      const following = this.nextIndent();
      if (following < column) return result;
      if (following > column || !this.nextIsSequenceEntry()) {
        // A mapping key at the sequence's column ends the sequence only when the sequence is a
        // mapping value written at its key's column (`key:\n- a\nnext: b`): the caller checks.
        if (following === column) return result;
        bail();
      }
      dash = starts[this.next] as number;
    }
  }

  /** True when the text from `start` is `key:` or `key: ...` (a plain or quoted key). */
  looksLikeKey(start: number, end: number): boolean {
    const first = this.text.charCodeAt(start);
    if (first === QUOTE || first === APOSTROPHE) {
      const close = this.quotedEnd(start, end);
      return close < end && this.text.charCodeAt(close) === COLON && (close + 1 === end || this.text.charCodeAt(close + 1) === SPACE);
    }
    return this.plainKeyColon(start, end) !== -1;
  }

  /** Offset of the `:` ending a plain key (`: ` or `:` at the end of the line), or -1. */
  plainKeyColon(start: number, end: number): number {
    // Searched within the line only (indexOf would run on to later lines: quadratic on long lists).
    for (let at = start; at < end; at += 1) {
      if (this.text.charCodeAt(at) === COLON && (at + 1 === end || this.text.charCodeAt(at + 1) === SPACE)) return at;
    }
    return -1;
  }

  /** Offset of the ` #` starting a comment within the line, or `end`. */
  commentStart(start: number, end: number): number {
    for (let at = start + 1; at < end; at += 1) {
      if (this.text.charCodeAt(at) === HASH && this.text.charCodeAt(at - 1) === SPACE) return at - 1;
    }
    return end;
  }

  /** Offset of the `:` after the key that starts at `start`. */
  keyEnd(start: number, end: number): number {
    const first = this.text.charCodeAt(start);
    if (first === QUOTE || first === APOSTROPHE) {
      const close = this.quotedEnd(start, end);
      if (close >= end || this.text.charCodeAt(close) !== COLON || (close + 1 < end && this.text.charCodeAt(close + 1) !== SPACE)) bail();
      return close;
    }
    const colon = this.plainKeyColon(start, end);
    if (colon === -1) bail();
    return colon;
  }

  key(start: number, colon: number): string {
    const first = this.text.charCodeAt(start);
    if (first === QUOTE || first === APOSTROPHE) return this.quoted(start, colon);
    const slot = keySlot(this.text, start, colon);
    const known = this.remembered.keys[slot];
    if (known !== undefined && known.length === colon - start && this.text.startsWith(known, start)) return known;
    if (SPECIAL_FIRST.has(first) || first === HASH || first === DASH) bail();
    const raw = this.text.slice(start, colon);
    if (raw.includes(' #') || raw.endsWith(' ')) bail();
    // Keys other than strings (`1:`, `null:`, `true:`) are converted by js-yaml; leave them to it.
    if (this.schema.resolveImplicitScalarTag(raw).value !== raw) bail();
    this.remembered.keys[slot] = raw;
    return raw;
  }

  /**
   * The value after a key's `:` or an entry's `- ` (from `start` to the end of the line): a
   * scalar, `[]`, `{}`, or, when the line ends there and `nested` allows it, the block below.
   */
  value(column: number, from: number, end: number, nested: boolean): unknown {
    let start = from;
    while (start < end && this.text.charCodeAt(start) === SPACE) start += 1;
    if (start === end || this.text.charCodeAt(start) === HASH) {
      if (start !== end && start === from) bail(); // `key:#x` is not a comment
      if (!nested) bail();
      const following = this.nextIndent();
      if (following < column) return this.schema.resolveImplicitScalarTag('').value;
      if (following === column) {
        // `key:` then `- a` at the key's column: the sequence is the value.
        return this.nextIsSequenceEntry() ? this.sequence(column, starts[this.next] as number) : this.schema.resolveImplicitScalarTag('').value;
      }
      return this.block(column + 1);
    }
    if (start === from) bail(); // `key:value` would be one plain scalar, not a pair
    let value: unknown;
    let after: number;
    const first = this.text.charCodeAt(start);
    if (first === QUOTE || first === APOSTROPHE) {
      value = this.quoted(start, end);
      after = this.quotedEnd(start, end);
    } else if (this.text.startsWith('[]', start) || this.text.startsWith('{}', start)) {
      value = first === 0x5b ? [] : {};
      after = start + 2;
    } else {
      if (SPECIAL_FIRST.has(first) || (first === DASH && (start + 1 === end || this.text.charCodeAt(start + 1) === SPACE))) bail();
      let stop = this.commentStart(start, end);
      while (stop > start && this.text.charCodeAt(stop - 1) === SPACE) stop -= 1;
      value = this.plainValue(start, stop);
      after = stop;
    }
    while (after < end && this.text.charCodeAt(after) === SPACE) after += 1;
    if (after < end && (this.text.charCodeAt(after) !== HASH || this.text.charCodeAt(after - 1) !== SPACE)) bail();
    // A deeper line after a scalar would continue it over several lines.
    if (this.nextIndent() > column) bail();
    return value;
  }

  /** The plain scalar from `start` to `stop`, resolved by the schema (null, booleans, numbers, else the text). */
  plainValue(start: number, stop: number): unknown {
    const slot = keySlot(this.text, start, stop);
    const remembered = this.remembered;
    const known = remembered.values[slot];
    if (known !== undefined && known.length === stop - start && this.text.startsWith(known, start)) return remembered.resolved[slot];
    const raw = this.text.slice(start, stop);
    // `a: b: c` is an error in YAML; a plain value ending in `:` is fine but rare: both to js-yaml.
    if (raw.includes(': ') || raw.endsWith(':')) bail();
    const value = this.schema.resolveImplicitScalarTag(raw).value;
    // Only values nobody can change are handed out twice (a schema with timestamps makes Dates).
    if (typeof value === 'object' && value !== null) return value;
    remembered.values[slot] = raw;
    remembered.resolved[slot] = value;
    return value;
  }

  /** Offset just after the closing quote of the quoted scalar at `start`, within the line. */
  quotedEnd(start: number, end: number): number {
    const quote = this.text.charCodeAt(start);
    let at = start + 1;
    while (at < end) {
      const code = this.text.charCodeAt(at);
      if (quote === QUOTE && code === BACKSLASH) at += 2;
      else if (code === quote) {
        if (quote === APOSTROPHE && this.text.charCodeAt(at + 1) === APOSTROPHE && at + 1 < end) at += 2;
        else return at + 1;
      } else at += 1;
    }
    return bail(); // the scalar goes on to the next line
  }

  /** The text of the quoted scalar at `start` (single: `''` is `'`; double: the common escapes). */
  quoted(start: number, end: number): string {
    const close = this.quotedEnd(start, end);
    const body = this.text.slice(start + 1, close - 1);
    if (this.text.charCodeAt(start) === APOSTROPHE) return body.includes("''") ? body.replaceAll("''", "'") : body;
    if (!body.includes('\\')) return body;
    return body.replace(/\\(.)/g, (_match, escaped: string) => {
      const replacement = ESCAPES[escaped];
      return replacement === undefined ? bail() : replacement;
    });
  }
}

/** Double-quoted escapes read here; `\u`, `\x` and the rest go to js-yaml. */
const ESCAPES: Readonly<Record<string, string>> = { '"': '"', '\\': '\\', '/': '/', n: '\n', t: '\t', r: '\r' };

/**
 * Characters this reader leaves to js-yaml: tabs and carriage returns (separators and line breaks
 * with rules of their own), what js-yaml refuses as not printable, other line and paragraph
 * separators, byte order marks, and surrogates (characters outside the BMP, or broken ones).
 */
const LEFT_TO_JS_YAML = /[\t\r\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff\ud800-\udfff]/;

/** Fills the line arrays with the chunk's content lines; -1 when the text has what only js-yaml reads. */
function contentLines(text: string): number {
  if (LEFT_TO_JS_YAML.test(text)) return -1;
  let count = 0;
  let start = 0;
  let sawMarker = false;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    let content = start;
    while (content < end && text.charCodeAt(content) === SPACE) content += 1;
    const code = text.charCodeAt(content);
    if (content < end && code !== HASH) {
      if (content === start && text.startsWith('---', start) && (end === start + 3 || text.charCodeAt(start + 3) === SPACE)) {
        // The chunk's own marker, first and bare; anything after it on the line goes to js-yaml.
        if (sawMarker || count > 0 || !/^---\s*(#.*)?$/.test(text.slice(start, end))) return -1;
        sawMarker = true;
      } else if (content === start && (code === 0x25 || text.startsWith('...', start))) {
        return -1; // a directive or a document end
      } else {
        pushLine(count, content - start, content, end);
        count += 1;
      }
    }
    start = end + 1;
  }
  return count;
}

/**
 * The documents of one chunk of a multi-document text (as js-yaml's loadAll would return them,
 * empty documents left out), or undefined when the chunk is not plain block YAML. The chunks of
 * one text share `remembered` (made for the same schema); by default a chunk has its own.
 */
export function readBlockYaml(text: string, schema: Schema, remembered: RememberedScalars = new RememberedScalars(schema)): unknown[] | undefined {
  if (remembered.schema !== schema) throw new Error('readBlockYaml: the remembered scalars were read by another schema');
  const count = contentLines(text);
  if (count === -1) return undefined;
  if (count === 0) return [];
  const reader = new Reader(text, count, remembered);
  try {
    const start = starts[0] as number;
    const end = ends[0] as number;
    if (indents[0] !== 0 || reader.isSequenceEntry(start, end) || !reader.looksLikeKey(start, end)) return undefined;
    const document = reader.mapping(0, start);
    return reader.next === count ? [document] : undefined;
  } catch (error) {
    if (error === NOT_BLOCK) return undefined;
    throw error;
  }
}
