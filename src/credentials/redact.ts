/**
 * An auths key is user data, and users do paste credentials into it: `https://user:token@host`
 * or `host/path?access_token=...`. The kubelet drops userinfo, query and fragment when it stores
 * the key (BasicDockerKeyring.Add parses it as a URL), so they never matter to matching. Anything
 * pullguard shows or keeps (reports, problem details, audit annotations, interned keys) uses the
 * key with those parts replaced by `REDACTED`.
 *
 * Userinfo is whatever precedes the last `@`, wherever it is: keys are written loosely
 * (`//user:TOKEN@h`, `http:/u:TOKEN@h`, `u:TOKEN/x@h`, leading spaces), and a parser that looks
 * for the authority first lets those through. No image name holds an `@` before its digest, so an
 * `@` in a key's path never helps a match, and hiding what precedes it costs nothing.
 */
const REDACTED = 'REDACTED';

/** Length of a leading `scheme://` (RFC 3986 scheme letters), or 0. Hand-written: a RegExp would keep the key as its last subject. */
function schemeLength(raw: string): number {
  const first = raw.charCodeAt(0);
  if (!((first >= 0x41 && first <= 0x5a) || (first >= 0x61 && first <= 0x7a))) return 0;
  for (let i = 1; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    const schemeChar = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2d || c === 0x2e;
    if (schemeChar) continue;
    return c === 0x3a && raw.charCodeAt(i + 1) === 0x2f && raw.charCodeAt(i + 2) === 0x2f ? i + 3 : 0;
  }
  return 0;
}

/**
 * The key with everything before its last `@` (after a clean leading `scheme://`), and everything
 * after the first `?` or `#` that follows it, replaced by `REDACTED`. The result is a fresh copy:
 * it never shares memory with `raw` (see detachedCopy).
 */
export function redactAuthsKey(raw: string): string {
  const at = raw.lastIndexOf('@');
  const scheme = schemeLength(raw);
  let shown: string;
  let rest: number;
  if (at >= 0) {
    shown = (at >= scheme ? raw.slice(0, scheme) : '') + REDACTED + '@';
    rest = at + 1;
  } else {
    shown = '';
    rest = 0;
  }
  let tail = raw.length;
  for (let i = rest; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x3f /* ? */ || c === 0x23 /* # */) {
      tail = i;
      break;
    }
  }
  shown += raw.slice(rest, tail);
  if (tail < raw.length) shown += raw[tail] + REDACTED;
  return detachedCopy(shown);
}

/**
 * A copy of `text` built from its character codes. V8 represents `s.slice()` and `a + b` as views
 * of the original strings (sliced and cons strings), which keep the whole original alive: a
 * redacted key made that way would keep the credential it hides in the heap. A string built from
 * char codes references nothing.
 */
export function detachedCopy(text: string): string {
  const CHUNK = 8192;
  let out = '';
  const codes: number[] = [];
  for (let start = 0; start < text.length; start += CHUNK) {
    codes.length = 0;
    const end = Math.min(start + CHUNK, text.length);
    for (let i = start; i < end; i++) codes.push(text.charCodeAt(i));
    out += String.fromCharCode(...codes);
  }
  return out;
}
