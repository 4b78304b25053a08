/**
 * An auths key is user data, and users do paste credentials into it: `https://user:token@host`
 * or `host/path?access_token=...`. The kubelet drops userinfo, query and fragment when it stores
 * the key (BasicDockerKeyring.Add parses it as a URL), so they never matter to matching. Anything
 * pullguard shows or keeps (reports, problem details, audit annotations, interned keys) uses the
 * key with those parts replaced by `REDACTED`.
 */
const REDACTED = 'REDACTED';
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

export function redactAuthsKey(raw: string): string {
  const scheme = SCHEME.exec(raw);
  const authorityStart = scheme === null ? 0 : scheme[0].length;
  let authorityEnd = raw.length;
  for (let i = authorityStart; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x2f /* / */ || c === 0x3f /* ? */ || c === 0x23 /* # */) {
      authorityEnd = i;
      break;
    }
  }
  const at = raw.lastIndexOf('@', authorityEnd - 1);
  let shown = at >= authorityStart ? raw.slice(0, authorityStart) + REDACTED + raw.slice(at) : raw;
  // Query and fragment: everything from the first `?` or `#` after the authority.
  const offset = shown.length - raw.length;
  let tail = -1;
  for (let i = authorityEnd + offset; i < shown.length; i++) {
    const c = shown.charCodeAt(i);
    if (c === 0x3f || c === 0x23) {
      tail = i;
      break;
    }
  }
  if (tail >= 0) shown = shown.slice(0, tail + 1) + REDACTED;
  return shown;
}
