import { decodeRunePacked, RUNE_ERROR } from './go-bytes.ts';

/**
 * Go's path/filepath.Match on Unix (separator `/`, `\` escapes), over binary strings: `*` any run
 * of non-separator bytes, `?` one rune, `[a-z]`/`[^...]` one rune in or out of the class. The
 * kubelet applies it per dot-separated host label and counts an error as "no match". Match only
 * returns true after scanning every chunk whole, so a malformed pattern never matches (whether Go
 * notices the error depends on the name); we validate once when compiling instead.
 */

const SEPARATOR = 0x2f; // '/'
const BACKSLASH = 0x5c;

interface Chunk {
  /** The chunk was preceded by one or more `*`. */
  readonly star: boolean;
  readonly text: string;
}

export interface CompiledGlob {
  readonly valid: boolean;
  readonly chunks: readonly Chunk[];
}

/** True when `label` has no glob syntax, so plain equality is the whole match. */
export function isLiteralPattern(label: string): boolean {
  for (let i = 0; i < label.length; i++) {
    const c = label.charCodeAt(i);
    if (c === 0x2a || c === 0x3f || c === 0x5b || c === BACKSLASH) return false;
  }
  return true;
}

/** filepath.scanChunk, applied until the pattern is used up. */
function splitChunks(pattern: string): Chunk[] {
  const chunks: Chunk[] = [];
  let rest = pattern;
  while (rest.length > 0) {
    let star = false;
    while (rest.length > 0 && rest.charCodeAt(0) === 0x2a) {
      rest = rest.slice(1);
      star = true;
    }
    let inRange = false;
    let i = 0;
    scan: for (; i < rest.length; i++) {
      switch (rest.charCodeAt(i)) {
        case BACKSLASH:
          if (i + 1 < rest.length) i++;
          break;
        case 0x5b:
          inRange = true;
          break;
        case 0x5d:
          inRange = false;
          break;
        case 0x2a:
          if (!inRange) break scan;
          break;
        default:
          break;
      }
    }
    chunks.push({ star, text: rest.slice(0, i) });
    rest = rest.slice(i);
  }
  return chunks;
}

const BAD_PATTERN = -1;
const NO_MATCH = -2;

/** filepath.getEsc: one (possibly escaped) rune of a class. Returns packed rune*8+consumed, or BAD_PATTERN. */
function classRune(chunk: string, index: number): number {
  if (index >= chunk.length) return BAD_PATTERN;
  let i = index;
  const first = chunk.charCodeAt(i);
  if (first === 0x2d || first === 0x5d) return BAD_PATTERN;
  if (first === BACKSLASH) {
    i++;
    if (i >= chunk.length) return BAD_PATTERN;
  }
  const packed = decodeRunePacked(chunk, i);
  const rune = Math.floor(packed / 8);
  const size = packed % 8;
  if (rune === RUNE_ERROR && size === 1) return BAD_PATTERN;
  i += size;
  if (i >= chunk.length) return BAD_PATTERN;
  return rune * 8 + (i - index);
}

/**
 * filepath.matchChunk: matches `chunk` at the start of `s` from `start`. Returns the index in `s`
 * where the rest begins, NO_MATCH, or BAD_PATTERN. Like Go it keeps scanning the chunk after a
 * failure, so a malformed chunk is reported whatever `s` is.
 */
function matchChunk(chunk: string, s: string, start: number): number {
  let failed = false;
  let si = start;
  let ci = 0;
  while (ci < chunk.length) {
    if (!failed && si >= s.length) failed = true;
    const c = chunk.charCodeAt(ci);
    if (c === 0x5b) {
      let rune = 0;
      if (!failed) {
        const packed = decodeRunePacked(s, si);
        rune = Math.floor(packed / 8);
        si += packed % 8;
      }
      ci++;
      let negated = false;
      if (ci < chunk.length && chunk.charCodeAt(ci) === 0x5e) {
        negated = true;
        ci++;
      }
      let matched = false;
      let ranges = 0;
      for (;;) {
        if (ci < chunk.length && chunk.charCodeAt(ci) === 0x5d && ranges > 0) {
          ci++;
          break;
        }
        const low = classRune(chunk, ci);
        if (low === BAD_PATTERN) return BAD_PATTERN;
        ci += low % 8;
        let high = low;
        if (chunk.charCodeAt(ci) === 0x2d) {
          high = classRune(chunk, ci + 1);
          if (high === BAD_PATTERN) return BAD_PATTERN;
          ci += 1 + (high % 8);
        }
        if (Math.floor(low / 8) <= rune && rune <= Math.floor(high / 8)) matched = true;
        ranges++;
      }
      if (matched === negated) failed = true;
    } else if (c === 0x3f) {
      if (!failed) {
        if (s.charCodeAt(si) === SEPARATOR) failed = true;
        si += decodeRunePacked(s, si) % 8;
      }
      ci++;
    } else {
      if (c === BACKSLASH) {
        ci++;
        if (ci >= chunk.length) return BAD_PATTERN;
      }
      if (!failed) {
        if (chunk.charCodeAt(ci) !== s.charCodeAt(si)) failed = true;
        si++;
      }
      ci++;
    }
  }
  return failed ? NO_MATCH : si;
}

export function compileGlob(pattern: string): CompiledGlob {
  const chunks = splitChunks(pattern);
  // Matching against "" scans every chunk in full, exactly as Go's syntax check does.
  const valid = chunks.every((chunk) => matchChunk(chunk.text, '', 0) !== BAD_PATTERN);
  return { valid, chunks };
}

/** filepath.Match(pattern, name) === (true, nil). */
export function globMatches(glob: CompiledGlob, name: string): boolean {
  if (!glob.valid) return false;
  const chunks = glob.chunks;
  let position = 0;
  next: for (let index = 0; index < chunks.length; index++) {
    const chunk = chunks[index] as Chunk;
    const isLast = index === chunks.length - 1;
    if (chunk.star && chunk.text === '') {
      // Trailing `*` matches the rest unless it holds a separator.
      return name.indexOf('/', position) < 0;
    }
    const rest = matchChunk(chunk.text, name, position);
    if (rest >= 0 && (rest === name.length || !isLast)) {
      position = rest;
      continue;
    }
    if (chunk.star) {
      for (let i = position; i < name.length && name.charCodeAt(i) !== SEPARATOR; i++) {
        const skipped = matchChunk(chunk.text, name, i + 1);
        if (skipped >= 0) {
          if (isLast && skipped < name.length) continue;
          position = skipped;
          continue next;
        }
      }
    }
    return false;
  }
  return position === name.length;
}
