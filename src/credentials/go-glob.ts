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

/** filepath.scanChunk, applied until the pattern is used up. One pass by index: linear in the pattern. */
function splitChunks(pattern: string): Chunk[] {
  const chunks: Chunk[] = [];
  let start = 0;
  while (start < pattern.length) {
    let star = false;
    while (start < pattern.length && pattern.charCodeAt(start) === 0x2a) {
      start++;
      star = true;
    }
    let inRange = false;
    let i = start;
    scan: for (; i < pattern.length; i++) {
      switch (pattern.charCodeAt(i)) {
        case BACKSLASH:
          if (i + 1 < pattern.length) i++;
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
    chunks.push({ star, text: pattern.slice(start, i) });
    start = i;
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
 * where the rest begins, NO_MATCH, or BAD_PATTERN. With `scanWhole` it keeps scanning the chunk
 * after a failure, as Go does, so a malformed chunk is reported whatever `s` is (compileGlob's
 * syntax check). Matching stops at the first failure instead: the pattern is known to be valid
 * then, so the rest of the chunk cannot change the answer, and a long chunk tried at every
 * position of a name costs what the name allows, not chunk length times name length.
 */
function matchChunk(chunk: string, s: string, start: number, scanWhole: boolean): number {
  let failed = false;
  let si = start;
  let ci = 0;
  while (ci < chunk.length) {
    if (failed && !scanWhole) return NO_MATCH;
    if (!failed && si >= s.length) {
      if (!scanWhole) return NO_MATCH;
      failed = true;
    }
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
  const valid = chunks.every((chunk) => matchChunk(chunk.text, '', 0, true) !== BAD_PATTERN);
  return { valid, chunks };
}

/** Counts the work of glob matching, for the per-decision work budget (see WorkMeter in types.ts). */
export interface StepCounter {
  spent: number;
}

/**
 * filepath.Match(pattern, name) === (true, nil). Each attempt to match a chunk at a position adds
 * 1 + the bytes it could compare to `counter`: an upper bound of the work, whatever the outcome.
 */
export function globMatches(glob: CompiledGlob, name: string, counter?: StepCounter): boolean {
  if (!glob.valid) return false;
  const chunks = glob.chunks;
  let position = 0;
  let steps = 0;
  let matched = false;
  next: for (let index = 0; index < chunks.length; index++) {
    const chunk = chunks[index] as Chunk;
    const isLast = index === chunks.length - 1;
    if (chunk.star && chunk.text === '') {
      // Trailing `*` matches the rest unless it holds a separator.
      steps += 1 + name.length - position;
      matched = name.indexOf('/', position) < 0;
      break;
    }
    const length = chunk.text.length;
    steps += 1 + Math.min(length, name.length - position);
    const rest = matchChunk(chunk.text, name, position, false);
    if (rest >= 0 && (rest === name.length || !isLast)) {
      position = rest;
      if (isLast) matched = true;
      continue;
    }
    if (chunk.star) {
      for (let i = position; i < name.length && name.charCodeAt(i) !== SEPARATOR; i++) {
        steps += 1 + Math.min(length, name.length - i - 1);
        const skipped = matchChunk(chunk.text, name, i + 1, false);
        if (skipped >= 0) {
          if (isLast && skipped < name.length) continue;
          position = skipped;
          if (isLast) matched = true;
          continue next;
        }
      }
    }
    break;
  }
  if (chunks.length === 0) matched = name.length === 0;
  if (counter !== undefined) counter.spent += steps;
  return matched;
}
