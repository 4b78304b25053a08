/**
 * The parts of Go's net/url, net/netip and net.SplitHostPort the kubelet's keyring relies on,
 * over binary strings (see go-bytes.ts). Semantics of Go 1.25 with `urlstrictcolons=0`, which is
 * what Kubernetes builds with (its go.mod says go 1.25): the last colon of a host starts the port,
 * and a `[...]` host must be an IPv6 literal (the CVE-2025-47912 fix).
 */

const HOST = 1;
const ZONE = 2;
const USER_PASSWORD = 3;
const PATH = 4;
const FRAGMENT = 5;
type Mode = typeof HOST | typeof ZONE | typeof USER_PASSWORD | typeof PATH | typeof FRAGMENT;

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);
}

function unhex(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return 0;
}

function isAlphanumeric(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39);
}

/** Bytes a host may hold unescaped: unreserved, sub-delims, and `:[]<>"` (url.go shouldEscape, encodeHost). */
const HOST_SAFE = new Set([...'!$&\'()*+,;=:[]<>"-_.~'].map((ch) => ch.charCodeAt(0)));

function shouldEscapeInHost(c: number): boolean {
  return !(isAlphanumeric(c) || HOST_SAFE.has(c));
}

/** url.unescape: validates `%XX` (and, in hosts, the characters) then decodes. Undefined on error. */
function unescape(s: string, mode: Mode): string | undefined {
  let escapes = 0;
  for (let i = 0; i < s.length; ) {
    const c = s.charCodeAt(i);
    if (c === 0x25) {
      escapes++;
      if (i + 2 >= s.length || !isHex(s.charCodeAt(i + 1)) || !isHex(s.charCodeAt(i + 2))) return undefined;
      const isPercent25 = s.charCodeAt(i + 1) === 0x32 && s.charCodeAt(i + 2) === 0x35;
      // In a host, %-encoding is only for non-ASCII bytes (and %25 for IPv6 zones).
      if (mode === HOST && unhex(s.charCodeAt(i + 1)) < 8 && !isPercent25) return undefined;
      if (mode === ZONE) {
        const value = (unhex(s.charCodeAt(i + 1)) << 4) | unhex(s.charCodeAt(i + 2));
        if (!isPercent25 && value !== 0x20 && shouldEscapeInHost(value)) return undefined;
      }
      i += 3;
    } else {
      if ((mode === HOST || mode === ZONE) && c < 0x80 && shouldEscapeInHost(c)) return undefined;
      i++;
    }
  }
  if (escapes === 0) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) === 0x25) {
      out += String.fromCharCode((unhex(s.charCodeAt(i + 1)) << 4) | unhex(s.charCodeAt(i + 2)));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

function containsControlByte(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** validOptionalPort: empty, or `:` followed by digits only (possibly none). */
function isValidOptionalPort(port: string): boolean {
  if (port === '') return true;
  if (port.charCodeAt(0) !== 0x3a) return false;
  for (let i = 1; i < port.length; i++) {
    const c = port.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/** Userinfo characters Go accepts (url.go validUserinfo); any non-ASCII byte is rejected. */
const USERINFO_SAFE = new Set([...'-._:~!$&\'()*+,;=%@'].map((ch) => ch.charCodeAt(0)));

function isValidUserinfo(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!isAlphanumeric(c) && !USERINFO_SAFE.has(c)) return false;
  }
  return true;
}

function parseHost(host: string): string | undefined {
  const open = host.lastIndexOf('[');
  if (open > 0) return undefined;
  if (open === 0) {
    const close = host.lastIndexOf(']');
    if (close < 0) return undefined;
    const colonPort = host.slice(close + 1);
    if (!isValidOptionalPort(colonPort)) return undefined;
    const hostname = host.slice(1, close);
    const zoneIndex = hostname.indexOf('%25');
    let unescaped: string | undefined;
    if (zoneIndex >= 0) {
      const hostPart = unescape(hostname.slice(0, zoneIndex), HOST);
      const zonePart = unescape(hostname.slice(zoneIndex), ZONE);
      unescaped = hostPart === undefined || zonePart === undefined ? undefined : hostPart + zonePart;
    } else {
      unescaped = unescape(hostname, HOST);
    }
    if (unescaped === undefined || !isIPv6Address(unescaped)) return undefined;
    return '[' + unescaped + ']' + colonPort;
  }
  const colon = host.lastIndexOf(':');
  if (colon !== -1 && !isValidOptionalPort(host.slice(colon))) return undefined;
  return unescape(host, HOST);
}

function parseAuthority(authority: string): string | undefined {
  const at = authority.lastIndexOf('@');
  const host = parseHost(at < 0 ? authority : authority.slice(at + 1));
  if (host === undefined || at < 0) return host;
  const userinfo = authority.slice(0, at);
  if (!isValidUserinfo(userinfo)) return undefined;
  const colon = userinfo.indexOf(':');
  if (colon < 0) return unescape(userinfo, USER_PASSWORD) === undefined ? undefined : host;
  const username = unescape(userinfo.slice(0, colon), USER_PASSWORD);
  const password = unescape(userinfo.slice(colon + 1), USER_PASSWORD);
  return username === undefined || password === undefined ? undefined : host;
}

/** getScheme: the index just after `scheme:`, 0 when there is no scheme, -1 on "missing protocol scheme". */
function schemeEnd(raw: string): number {
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if ((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a)) continue;
    if ((c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2d || c === 0x2e) {
      if (i === 0) return 0;
      continue;
    }
    if (c === 0x3a) return i === 0 ? -1 : i + 1;
    return 0;
  }
  return 0;
}

/** The fields of a parsed URL the keyring reads: Host (unescaped, with port) and Path (unescaped). */
export interface GoUrl {
  readonly host: string;
  readonly path: string;
}

/**
 * url.Parse for absolute URLs of the form `scheme://authority/path`, which is all the keyring
 * builds (`https://` + key or image). Undefined when Go's Parse returns an error; other shapes
 * (opaque, relative) yield an empty host, which never matches anything.
 */
export function parseGoUrl(raw: string): GoUrl | undefined {
  const hash = raw.indexOf('#');
  const beforeFragment = hash < 0 ? raw : raw.slice(0, hash);
  if (containsControlByte(beforeFragment)) return undefined;
  const afterScheme = schemeEnd(beforeFragment);
  if (afterScheme < 0) return undefined;
  let rest = beforeFragment.slice(afterScheme);
  const query = rest.indexOf('?');
  if (query >= 0) rest = rest.slice(0, query);
  let host = '';
  if (afterScheme > 0 && !rest.startsWith('/')) {
    // Opaque URL (`https:foo`): no host, no path.
    rest = '';
  } else if (afterScheme === 0 && !rest.startsWith('/') && (rest.split('/', 1)[0] ?? '').includes(':')) {
    return undefined;
  } else if (rest.startsWith('//') && (afterScheme > 0 || !rest.startsWith('///'))) {
    const slash = rest.indexOf('/', 2);
    const authority = slash < 0 ? rest.slice(2) : rest.slice(2, slash);
    rest = slash < 0 ? '' : rest.slice(slash);
    const parsedHost = parseAuthority(authority);
    if (parsedHost === undefined) return undefined;
    host = parsedHost;
  }
  const path = unescape(rest, PATH);
  if (path === undefined) return undefined;
  if (hash >= 0 && hash + 1 < raw.length && unescape(raw.slice(hash + 1), FRAGMENT) === undefined) return undefined;
  return { host, path };
}

/** net.SplitHostPort; on error the kubelet (keyring.go SplitURL) keeps the whole host and no port. */
export function splitHostPort(hostport: string): { readonly host: string; readonly port: string } {
  const whole = { host: hostport, port: '' };
  const colon = hostport.lastIndexOf(':');
  if (colon < 0) return whole;
  let host: string;
  let afterOpen = 0;
  let afterClose = 0;
  if (hostport.charCodeAt(0) === 0x5b) {
    const end = hostport.indexOf(']');
    if (end < 0 || end + 1 !== colon) return whole;
    host = hostport.slice(1, end);
    afterOpen = 1;
    afterClose = end + 1;
  } else {
    host = hostport.slice(0, colon);
    if (host.includes(':')) return whole;
  }
  if (hostport.indexOf('[', afterOpen) >= 0 || hostport.indexOf(']', afterClose) >= 0) return whole;
  return { host, port: hostport.slice(colon + 1) };
}

// ---------------------------------------------------------------------------------------------
// netip.ParseAddr, reduced to the question url.parseHost asks: "is this an IPv6 address?"

function isIPv4Tail(s: string): boolean {
  // netip parseIPv4Fields: four decimal octets, no leading zeros, each at most 255.
  let fields = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) {
      if (digits === 1 && value === 0) return false;
      value = value * 10 + (c - 0x30);
      digits++;
      if (value > 255) return false;
    } else if (c === 0x2e) {
      if (i === 0 || i === s.length - 1 || s.charCodeAt(i - 1) === 0x2e) return false;
      if (fields === 3) return false;
      fields++;
      value = 0;
      digits = 0;
    } else {
      return false;
    }
  }
  return fields === 3;
}

function hexValue(c: number): number {
  return isHex(c) ? unhex(c) : -1;
}

/** netip.parseIPv6 success (zone allowed, non-empty). */
function parseIPv6(input: string): boolean {
  let s = input;
  const percent = s.indexOf('%');
  if (percent >= 0) {
    if (percent === s.length - 1) return false;
    s = s.slice(0, percent);
  }
  let ellipsis = -1;
  if (s.length >= 2 && s.charCodeAt(0) === 0x3a && s.charCodeAt(1) === 0x3a) {
    ellipsis = 0;
    s = s.slice(2);
    if (s.length === 0) return true;
  }
  let i = 0;
  while (i < 16) {
    let off = 0;
    for (; off < s.length; off++) {
      if (hexValue(s.charCodeAt(off)) < 0) break;
      if (off > 3) return false;
    }
    if (off === 0) return false;
    if (off < s.length && s.charCodeAt(off) === 0x2e) {
      if (ellipsis < 0 && i !== 12) return false;
      if (i + 4 > 16) return false;
      if (!isIPv4Tail(s)) return false;
      s = '';
      i += 4;
      break;
    }
    i += 2;
    s = s.slice(off);
    if (s.length === 0) break;
    if (s.charCodeAt(0) !== 0x3a) return false;
    if (s.length === 1) return false;
    s = s.slice(1);
    if (s.charCodeAt(0) === 0x3a) {
      if (ellipsis >= 0) return false;
      ellipsis = i;
      s = s.slice(1);
      if (s.length === 0) break;
    }
  }
  if (s.length !== 0) return false;
  if (i < 16) return ellipsis >= 0;
  return ellipsis < 0;
}

/** ParseAddr(s) succeeds and is not IPv4 (IPv4-mapped IPv6 is fine). */
function isIPv6Address(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x2e || c === 0x25) return false;
    if (c === 0x3a) return parseIPv6(s);
  }
  return false;
}
