/**
 * Go strings are byte strings, and the kubelet's rules (URL parsing, globbing, sort order) work on
 * bytes. We model a Go string as a JS "binary string": one char per byte, each char code 0-255.
 * ASCII text is its own binary string, which keeps the common path allocation-free.
 */

const encoder = new TextEncoder();

export function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7f) return false;
  }
  return true;
}

/** The UTF-8 bytes of a JS string; lone surrogates become U+FFFD, as Go's JSON decoding makes them. */
export function utf8Binary(text: string): string {
  return isAscii(text) ? text : bytesToBinary(encoder.encode(text));
}

export function bytesToBinary(bytes: Uint8Array): string {
  let out = '';
  // Chunked: String.fromCharCode with a huge spread would overflow the argument stack.
  for (let i = 0; i < bytes.length; i += 8192) {
    out += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return out;
}

export function binaryToBytes(bin: string): Uint8Array {
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}

export const RUNE_ERROR = 0xfffd;

function inRange(bin: string, index: number, low: number, high: number): boolean {
  const c = bin.charCodeAt(index);
  return c >= low && c <= high;
}

/**
 * utf8.DecodeRuneInString: the rune at `index` and its size in bytes. An invalid or truncated
 * sequence is (RUNE_ERROR, 1); the end of the string is (RUNE_ERROR, 0).
 * Returned packed as rune * 8 + size to avoid allocating on the glob path.
 */
export function decodeRunePacked(bin: string, index: number): number {
  const length = bin.length;
  if (index >= length) return RUNE_ERROR * 8;
  const b0 = bin.charCodeAt(index);
  if (b0 < 0x80) return b0 * 8 + 1;
  const invalid = RUNE_ERROR * 8 + 1;
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    if (index + 1 >= length || !inRange(bin, index + 1, 0x80, 0xbf)) return invalid;
    return (((b0 & 0x1f) << 6) | (bin.charCodeAt(index + 1) & 0x3f)) * 8 + 2;
  }
  if (b0 >= 0xe0 && b0 <= 0xef) {
    const low = b0 === 0xe0 ? 0xa0 : 0x80;
    const high = b0 === 0xed ? 0x9f : 0xbf;
    if (index + 2 >= length || !inRange(bin, index + 1, low, high) || !inRange(bin, index + 2, 0x80, 0xbf)) return invalid;
    return (((b0 & 0x0f) << 12) | ((bin.charCodeAt(index + 1) & 0x3f) << 6) | (bin.charCodeAt(index + 2) & 0x3f)) * 8 + 3;
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    const low = b0 === 0xf0 ? 0x90 : 0x80;
    const high = b0 === 0xf4 ? 0x8f : 0xbf;
    if (
      index + 3 >= length ||
      !inRange(bin, index + 1, low, high) ||
      !inRange(bin, index + 2, 0x80, 0xbf) ||
      !inRange(bin, index + 3, 0x80, 0xbf)
    ) {
      return invalid;
    }
    const rune =
      ((b0 & 0x07) << 18) | ((bin.charCodeAt(index + 1) & 0x3f) << 12) | ((bin.charCodeAt(index + 2) & 0x3f) << 6) | (bin.charCodeAt(index + 3) & 0x3f);
    return rune * 8 + 4;
  }
  return invalid;
}

/** Go's `string(bytes)` read as text: each byte of an invalid sequence becomes U+FFFD (as Go's JSON decoder does). */
export function binaryToText(bin: string): string {
  if (isAscii(bin)) return bin;
  let out = '';
  for (let i = 0; i < bin.length; ) {
    const packed = decodeRunePacked(bin, i);
    out += String.fromCodePoint(Math.floor(packed / 8));
    i += packed % 8;
  }
  return out;
}

/**
 * A printable, lossless form of Go bytes: valid UTF-8 as text, each byte of an invalid sequence
 * as `%XX`. Re-parsing it as a URL yields the same bytes, because Go unescapes `%80`-`%FF` in
 * hosts and paths alike.
 */
export function binaryToDisplay(bin: string): string {
  if (isAscii(bin)) return bin;
  let out = '';
  for (let i = 0; i < bin.length; ) {
    const packed = decodeRunePacked(bin, i);
    const size = packed % 8;
    const rune = Math.floor(packed / 8);
    if (rune === RUNE_ERROR && size === 1) {
      out += '%' + bin.charCodeAt(i).toString(16).toUpperCase().padStart(2, '0');
    } else {
      out += String.fromCodePoint(rune);
    }
    i += size;
  }
  return out;
}
