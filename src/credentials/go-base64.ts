/**
 * Go's encoding/base64 with the standard alphabet, as the kubelet and the API server decode:
 * `StdEncoding` (padding required) or `RawStdEncoding` (padding forbidden). Both skip `\r` and
 * `\n` anywhere and ignore non-zero trailing bits (neither is `.Strict()`). Node's Buffer is far
 * more lenient (it accepts missing padding, `-`/`_`, garbage), so it cannot stand in.
 */

const INVALID = 0xff;
const DECODE = new Uint8Array(128).fill(INVALID);
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

const PAD = 0x3d; // '='
const LF = 0x0a;
const CR = 0x0d;

function skipNewlines(input: string, index: number): number {
  let i = index;
  while (i < input.length && (input.charCodeAt(i) === LF || input.charCodeAt(i) === CR)) i++;
  return i;
}

/** Decodes `input` (one char per byte; any char above 0x7F is invalid) or returns undefined on error. */
export function decodeGoBase64(input: string, padded: boolean): Uint8Array | undefined {
  const out = new Uint8Array(Math.floor((input.length * 3) / 4) + 3);
  const quantum = [0, 0, 0, 0];
  let written = 0;
  let si = 0;
  for (;;) {
    let length = 4;
    let last = false;
    for (let j = 0; j < 4; j++) {
      if (si === input.length) {
        if (j === 0) return out.subarray(0, written);
        if (j === 1 || padded) return undefined;
        length = j;
        last = true;
        break;
      }
      const c = input.charCodeAt(si);
      si++;
      const value = c < 128 ? (DECODE[c] ?? INVALID) : INVALID;
      if (value !== INVALID) {
        quantum[j] = value;
        continue;
      }
      if (c === LF || c === CR) {
        j--;
        continue;
      }
      if (!padded || c !== PAD) return undefined;
      // Padding: only `xx==` or `xxx=`, then nothing but newlines.
      if (j < 2) return undefined;
      if (j === 2) {
        si = skipNewlines(input, si);
        if (si === input.length || input.charCodeAt(si) !== PAD) return undefined;
        si++;
      }
      si = skipNewlines(input, si);
      if (si < input.length) return undefined;
      length = j;
      last = true;
      break;
    }
    const value = ((quantum[0] ?? 0) << 18) | ((quantum[1] ?? 0) << 12) | ((quantum[2] ?? 0) << 6) | (quantum[3] ?? 0);
    out[written] = (value >> 16) & 0xff;
    if (length >= 3) out[written + 1] = (value >> 8) & 0xff;
    if (length === 4) out[written + 2] = value & 0xff;
    written += length - 1;
    quantum[0] = quantum[1] = quantum[2] = quantum[3] = 0;
    if (last) return out.subarray(0, written);
  }
}

/** Go's unicode.IsSpace for the Latin-1 range plus the other Unicode White_Space code points. */
function isGoSpace(c: number): boolean {
  if (c <= 0xff) return c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0x85 || c === 0xa0;
  return c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000;
}

/**
 * The kubelet's decoding of an `auth` field (config.go decodeDockerConfigFieldAuth): padded
 * StdEncoding when the trimmed value ends in `=`, else unpadded RawStdEncoding.
 */
export function decodeDockerAuthField(field: string): Uint8Array | undefined {
  let end = field.length;
  while (end > 0 && isGoSpace(field.charCodeAt(end - 1))) end--;
  const padded = end > 0 && field.charCodeAt(end - 1) === PAD;
  return decodeGoBase64(field, padded);
}
