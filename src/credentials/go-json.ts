import { binaryToText, bytesToBinary } from './go-bytes.ts';

/**
 * Just enough of Go's encoding/json to decode docker config payloads the way the kubelet does:
 * the up-front syntax check (json.Unmarshal validates the whole input first, nesting depth at
 * most 10000), a cursor to walk a validated document without recursion, Go's string unquoting
 * (invalid UTF-8 and lone surrogates become U+FFFD), and Go's case-insensitive field names.
 */

const MAX_NESTING_DEPTH = 10000; // encoding/json scanner.go maxNestingDepth

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

function isWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isHexDigit(c: number): boolean {
  return isDigit(c) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);
}

function skipWhitespace(bytes: Uint8Array, index: number): number {
  let i = index;
  while (i < bytes.length && isWhitespace(bytes[i] as number)) i++;
  return i;
}

/** End of the string starting at `index` (a quote), or -1 when it is not a valid JSON string. */
function scanString(bytes: Uint8Array, index: number): number {
  let i = index + 1;
  while (i < bytes.length) {
    const c = bytes[i] as number;
    if (c === QUOTE) return i + 1;
    if (c < 0x20) return -1;
    if (c === BACKSLASH) {
      const e = bytes[i + 1];
      if (e === 0x75) {
        for (let k = 2; k < 6; k++) if (!isHexDigit(bytes[i + k] ?? 0)) return -1;
        i += 6;
      } else if (e === QUOTE || e === BACKSLASH || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) {
        i += 2;
      } else {
        return -1;
      }
    } else {
      i++;
    }
  }
  return -1;
}

function scanDigits(bytes: Uint8Array, index: number): number {
  let i = index;
  while (i < bytes.length && isDigit(bytes[i] as number)) i++;
  return i;
}

/** End of the number at `index`, or -1. What may follow it is the caller's business, as in Go. */
function scanNumber(bytes: Uint8Array, index: number): number {
  let i = index;
  if (bytes[i] === 0x2d) i++;
  if (bytes[i] === 0x30) i++;
  else if ((bytes[i] ?? 0) >= 0x31 && (bytes[i] ?? 0) <= 0x39) i = scanDigits(bytes, i);
  else return -1;
  if (bytes[i] === 0x2e) {
    const end = scanDigits(bytes, i + 1);
    if (end === i + 1) return -1;
    i = end;
  }
  if (bytes[i] === 0x65 || bytes[i] === 0x45) {
    i++;
    if (bytes[i] === 0x2b || bytes[i] === 0x2d) i++;
    const end = scanDigits(bytes, i);
    if (end === i) return -1;
    i = end;
  }
  return i;
}

function scanLiteral(bytes: Uint8Array, index: number, literal: string): number {
  for (let k = 0; k < literal.length; k++) {
    if (bytes[index + k] !== literal.charCodeAt(k)) return -1;
  }
  return index + literal.length;
}

/** Scans an object key and its colon; returns the index of the value, or -1. */
function scanKeyAndColon(bytes: Uint8Array, index: number): number {
  if (bytes[index] !== QUOTE) return -1;
  const end = scanString(bytes, index);
  if (end < 0) return -1;
  const colon = skipWhitespace(bytes, end);
  if (bytes[colon] !== COLON) return -1;
  return skipWhitespace(bytes, colon + 1);
}

/**
 * json.Unmarshal's up-front validity check (checkValid), iteratively. Returns the byte offset of
 * the first error, or -1 when the input is one valid JSON value with only whitespace around it.
 */
export function jsonSyntaxErrorOffset(bytes: Uint8Array): number {
  const stack: number[] = [];
  let i = skipWhitespace(bytes, 0);
  let expectValue = true;
  for (;;) {
    if (expectValue) {
      if (i >= bytes.length) return i;
      const c = bytes[i] as number;
      if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
        stack.push(c);
        if (stack.length > MAX_NESTING_DEPTH) return i;
        const close = c === OPEN_OBJECT ? CLOSE_OBJECT : CLOSE_ARRAY;
        i = skipWhitespace(bytes, i + 1);
        if (bytes[i] === close) {
          stack.pop();
          i++;
          expectValue = false;
          continue;
        }
        if (c === OPEN_OBJECT) {
          const value = scanKeyAndColon(bytes, i);
          if (value < 0) return i;
          i = value;
        }
        continue;
      }
      let end: number;
      if (c === QUOTE) end = scanString(bytes, i);
      else if (c === 0x2d || isDigit(c)) end = scanNumber(bytes, i);
      else if (c === 0x74) end = scanLiteral(bytes, i, 'true');
      else if (c === 0x66) end = scanLiteral(bytes, i, 'false');
      else if (c === 0x6e) end = scanLiteral(bytes, i, 'null');
      else return i;
      if (end < 0) return i;
      i = end;
      expectValue = false;
      continue;
    }
    i = skipWhitespace(bytes, i);
    const top = stack[stack.length - 1];
    if (top === undefined) return i === bytes.length ? -1 : i;
    const c = bytes[i];
    if (c === COMMA) {
      i = skipWhitespace(bytes, i + 1);
      if (top === OPEN_OBJECT) {
        const value = scanKeyAndColon(bytes, i);
        if (value < 0) return i;
        i = value;
      }
      expectValue = true;
      continue;
    }
    if ((top === OPEN_OBJECT && c === CLOSE_OBJECT) || (top === OPEN_ARRAY && c === CLOSE_ARRAY)) {
      stack.pop();
      i++;
      continue;
    }
    return i;
  }
}

export type JsonKind = 'object' | 'array' | 'string' | 'number' | 'boolean' | 'null';

/** The kind of the (valid) value at `index`. */
export function kindAt(bytes: Uint8Array, index: number): JsonKind {
  const c = bytes[index];
  if (c === OPEN_OBJECT) return 'object';
  if (c === OPEN_ARRAY) return 'array';
  if (c === QUOTE) return 'string';
  if (c === 0x74 || c === 0x66) return 'boolean';
  if (c === 0x6e) return 'null';
  return 'number';
}

/** End of the (valid) value at `index`, without recursion. */
export function skipValue(bytes: Uint8Array, index: number): number {
  const c = bytes[index];
  if (c === QUOTE) return scanString(bytes, index);
  if (c !== OPEN_OBJECT && c !== OPEN_ARRAY) {
    let i = index;
    while (i < bytes.length) {
      const d = bytes[i] as number;
      if (isWhitespace(d) || d === COMMA || d === CLOSE_OBJECT || d === CLOSE_ARRAY) break;
      i++;
    }
    return i;
  }
  let depth = 0;
  let i = index;
  while (i < bytes.length) {
    const d = bytes[i] as number;
    if (d === QUOTE) {
      i = scanString(bytes, i);
      continue;
    }
    if (d === OPEN_OBJECT || d === OPEN_ARRAY) depth++;
    else if (d === CLOSE_OBJECT || d === CLOSE_ARRAY) {
      depth--;
      if (depth === 0) return i + 1;
    }
    i++;
  }
  return i;
}

function hex4(bytes: Uint8Array, index: number): number {
  let value = 0;
  for (let k = 0; k < 4; k++) {
    const c = bytes[index + k] ?? 0;
    const digit = isDigit(c) ? c - 0x30 : (c | 0x20) - 0x61 + 10;
    value = value * 16 + digit;
  }
  return value;
}

function isSurrogate(unit: number): boolean {
  return unit >= 0xd800 && unit <= 0xdfff;
}

/**
 * The (valid) string at `index` as Go's decoder produces it: escapes resolved, a surrogate pair
 * joined, a lone surrogate or an invalid UTF-8 byte replaced by U+FFFD.
 */
export function readString(bytes: Uint8Array, index: number): string {
  const end = scanString(bytes, index) - 1;
  let out = '';
  let runStart = index + 1;
  const flushRaw = (until: number): void => {
    if (until > runStart) out += binaryToText(bytesToBinary(bytes.subarray(runStart, until)));
  };
  let i = index + 1;
  while (i < end) {
    if (bytes[i] !== BACKSLASH) {
      i++;
      continue;
    }
    flushRaw(i);
    const e = bytes[i + 1];
    if (e === 0x75) {
      let unit = hex4(bytes, i + 2);
      i += 6;
      if (isSurrogate(unit)) {
        const next = bytes[i] === BACKSLASH && bytes[i + 1] === 0x75 ? hex4(bytes, i + 2) : -1;
        if (unit <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
          out += String.fromCharCode(unit, next);
          i += 6;
          runStart = i;
          continue;
        }
        unit = 0xfffd;
      }
      out += String.fromCharCode(unit);
    } else {
      out += e === 0x62 ? '\b' : e === 0x66 ? '\f' : e === 0x6e ? '\n' : e === 0x72 ? '\r' : e === 0x74 ? '\t' : String.fromCharCode(e ?? 0);
      i += 2;
    }
    runStart = i;
  }
  flushRaw(end);
  return out;
}

/**
 * Calls `visit(key, valueIndex)` for each member of the (valid) object at `index`, in document
 * order, duplicates included (Go decodes each in turn; for a map, the last one wins).
 */
export function forEachMember(bytes: Uint8Array, index: number, visit: (key: string, valueIndex: number) => void): void {
  let i = skipWhitespace(bytes, index + 1);
  if (bytes[i] === CLOSE_OBJECT) return;
  for (;;) {
    const key = readString(bytes, i);
    const valueIndex = scanKeyAndColon(bytes, i);
    visit(key, valueIndex);
    i = skipWhitespace(bytes, skipValue(bytes, valueIndex));
    if (bytes[i] !== COMMA) return;
    i = skipWhitespace(bytes, i + 1);
  }
}

/** Where the single top-level value starts. */
export function firstValueIndex(bytes: Uint8Array): number {
  return skipWhitespace(bytes, 0);
}

/**
 * encoding/json's folded field name (fold.go): ASCII upper-cased, every other rune mapped to the
 * smallest rune of its case-fold orbit. Only `ſ` (U+017F, folds to `S`) and the Kelvin sign
 * (U+212A, folds to `K`) fold into ASCII; any other non-ASCII rune can never equal an ASCII field
 * name, so it is kept as is.
 */
export function foldFieldName(name: string): string {
  let out = '';
  for (const ch of name) {
    const c = ch.codePointAt(0) ?? 0;
    if (c >= 0x61 && c <= 0x7a) out += String.fromCharCode(c - 0x20);
    else if (c === 0x17f) out += 'S';
    else if (c === 0x212a) out += 'K';
    else out += ch;
  }
  return out;
}
