/**
 * Image references, parsed exactly as the kubelet parses them: distribution/reference v0.6
 * `ParseNormalizedNamed` (what the kubelet's keyring looks up) and `ParseDockerRef` (the canonical
 * pull form containerd uses), with digests checked the way opencontainers/go-digest v1.0.0 does
 * with sha256, sha384 and sha512 registered.
 *
 * It runs for every container on every admission and on attacker-chosen strings, so it is a
 * hand-written, single-pass scanner instead of upstream's regular expressions: JavaScript regexes
 * backtrack, and the upstream grammar's nested repetitions cost quadratic time on long near-misses.
 * Every function here is linear in the input and never throws.
 */
import { StringMemo } from './string-memo.ts';
import type { ImageReference, ImageReferenceResult } from './types.ts';

/** Docker Hub's canonical domain: names without a registry are pulled from it. [normalize.go] */
export const DOCKER_HUB_DOMAIN = 'docker.io';
/** The "Docker Index" domain, rewritten to docker.io when written as a registry. [normalize.go] */
const LEGACY_DOCKER_HUB_DOMAIN = 'index.docker.io';
/** Docker Hub's namespace for official images: `nginx` is `library/nginx`. [normalize.go] */
const OFFICIAL_REPOSITORY_PREFIX = 'library/';
/** Always a registry when it is the first of several components, though it has no `.` or `:`. */
const LOCALHOST = 'localhost';
/** What containerd pulls when the reference has neither tag nor digest. [normalize.go TagNameOnly] */
export const DEFAULT_TAG = 'latest';
/** Longest repository path; v0.6 measures the path only, not the domain (distribution/reference#9). */
export const REPOSITORY_PATH_MAX_CHARS = 255;
/** Longest tag: the tag grammar is `[\w][\w.-]{0,127}`. [regexp.go] */
export const TAG_MAX_CHARS = 128;
/** Shortest hex part the reference grammar accepts in a digest (128 bits). [regexp.go] */
const DIGEST_HEX_MIN_CHARS = 32;
/** Length of a bare image ID, which ParseNormalizedNamed refuses as a name. [regexp.go identifier] */
const IDENTIFIER_HEX_CHARS = 64;
/** Digest algorithms the kubelet links in, with the exact hex length each demands. [go-digest algorithm.go] */
const REGISTERED_DIGEST_HEX_CHARS: ReadonlyMap<string, number> = new Map([
  ['sha256', 64],
  ['sha384', 96],
  ['sha512', 128],
]);
/** Input quoted inside an error is shortened to this, so a huge image string cannot flood a warning. */
const ERROR_SUBJECT_MAX_CHARS = 48;

const INVALID_FORMAT = 'invalid reference format';

/**
 * Parsed references remembered from their second sighting. A cluster runs a few thousand distinct
 * images at most and every pod repeats them; a miss costs one parse, as without the memo, and an
 * image seen once is not kept. [string-memo.ts]
 */
export const REFERENCE_MEMO_ENTRIES = 4096;
/**
 * Longer strings are parsed every time and never kept: real references are far shorter (a registry,
 * a two-level path, a tag or a sha256 digest come to ~150 characters), and the bound keeps the memo
 * under a few MiB whatever the reviews hold.
 */
export const REFERENCE_MEMO_MAX_CHARS = 256;

const memo = new StringMemo((input: string) => freezeResult(parseImageReferenceUncached(input)), {
  maxEntries: REFERENCE_MEMO_ENTRIES,
  maxKeyChars: REFERENCE_MEMO_MAX_CHARS,
  secondSighting: true,
});

/**
 * Parses an image string as the kubelet does; never throws. Results are memoised and shared
 * between callers, so they are frozen.
 */
export function parseImageReference(input: string): ImageReferenceResult {
  return memo.get(input);
}

/** The memo, for tests: its size and bounds. */
export const referenceMemo: { readonly size: number; readonly maxEntries: number; readonly maxKeyChars: number; clear(): void } = memo;

function freezeResult(result: ImageReferenceResult): ImageReferenceResult {
  if (result.ok) Object.freeze(result.reference);
  return Object.freeze(result);
}

/** parseImageReference without the memo (fresh, unfrozen objects); the memo's tests compare the two. */
export function parseImageReferenceUncached(input: string): ImageReferenceResult {
  return parseRegistryReference(input) ?? parseAnyReference(input);
}

/**
 * The shape nearly every image of a private registry has, `host[:port]/path[:tag]`: a first
 * component upstream takes for a registry as written (not Docker Hub's own hosts, which are
 * rewritten or get `library/`), a path and maybe a tag, checked by the grammar's own pieces in a
 * single scan. A valid one is parsed here, with the split and the result parseAnyReference gives it
 * (the tests compare the two on generated strings); anything else (no registry, a digest, any
 * character or length the grammar refuses) is undefined and left to parseAnyReference, which also
 * words the errors. The written string is then the joined one upstream parses, and its own
 * normalised form when it has a tag.
 */
export function parseRegistryReference(s: string): ImageReferenceResult | undefined {
  const domainEnd = s.indexOf('/');
  if (domainEnd <= 0) return undefined;
  const domain = s.slice(0, domainEnd);
  if (!namesRegistry(domain) || domain === DOCKER_HUB_DOMAIN || domain === LEGACY_DOCKER_HUB_DOMAIN || !isDomainAndPort(s, 0, domainEnd)) return undefined;
  // The path ends at the first colon after the host (a colon in a path or a `/` in a tag fails
  // either check below, and the full parser has the last word); no `@`: a digest is not this shape.
  const colon = s.indexOf(':', domainEnd + 1);
  const nameEnd = colon === -1 ? s.length : colon;
  if (nameEnd - domainEnd - 1 > REPOSITORY_PATH_MAX_CHARS || !isRemoteName(s, domainEnd + 1, nameEnd)) return undefined;
  if (nameEnd < s.length && !isTag(s, nameEnd + 1, s.length)) return undefined;
  const name = s.slice(0, nameEnd);
  const tag = nameEnd < s.length ? s.slice(nameEnd + 1) : undefined;
  return {
    ok: true,
    reference: { input: s, domain, path: s.slice(domainEnd + 1, nameEnd), name, tag, digest: undefined, normalized: tag === undefined ? `${name}:${DEFAULT_TAG}` : s },
  };
}

/** Every shape of image string, valid or not (parseImageReferenceUncached tries parseRegistryReference first). */
export function parseAnyReference(input: string): ImageReferenceResult {
  if (isIdentifier(input)) {
    return failure(input, `invalid repository name (${quoteSubject(input)}), cannot specify 64-byte hexadecimal strings`);
  }

  const { domain: splitDomain, remainder } = splitDockerDomain(input);
  const tagSeparator = remainder.indexOf(':');
  const remote = tagSeparator === -1 ? remainder : remainder.slice(0, tagSeparator);
  if (hasUpperCase(remote)) {
    return failure(input, `${INVALID_FORMAT}: repository name (${quoteSubject(remote)}) must be lowercase`);
  }

  // Upstream re-parses the joined string, so its own split of domain and path is the one that counts.
  // When the split kept the input as written (a registry host, then the path), that string is the
  // input itself: no concatenation to build and flatten before the scan.
  const joined = remainder.length + splitDomain.length + 1 === input.length && input.startsWith(splitDomain) && input.charCodeAt(splitDomain.length) === SLASH && input.endsWith(remainder)
    ? input
    : `${splitDomain}/${remainder}`;
  const match = matchReference(joined);
  if (match === undefined) {
    const lowered = lowerCaseLikeGo(joined);
    const onlyCase = lowered !== joined && matchReference(lowered) !== undefined;
    return failure(input, onlyCase ? `${INVALID_FORMAT}: repository name must be lowercase` : INVALID_FORMAT);
  }

  const domain = match.domainEnd === -1 ? '' : joined.slice(0, match.domainEnd);
  const path = joined.slice(match.domainEnd + 1, match.nameEnd);
  if (path.length > REPOSITORY_PATH_MAX_CHARS) {
    return failure(input, `${INVALID_FORMAT}: repository name must not be more than ${REPOSITORY_PATH_MAX_CHARS} characters`);
  }
  const tag = match.tagStart === -1 ? undefined : joined.slice(match.tagStart, match.tagEnd);
  const digest = match.digestStart === -1 ? undefined : joined.slice(match.digestStart);
  if (digest !== undefined) {
    const digestError = validateDigest(digest);
    if (digestError !== undefined) return failure(input, `${INVALID_FORMAT}: ${digestError}`);
  }

  const name = joined.slice(0, match.nameEnd);
  // ParseDockerRef: a digest wins over a tag; a bare name pulls `latest`.
  const normalized = digest !== undefined ? `${name}@${digest}` : `${name}:${tag ?? DEFAULT_TAG}`;
  return { ok: true, reference: { input, domain, path, name, tag, digest, normalized } };
}

/**
 * True when the image may change under the same reference: no digest, and no tag or `latest`.
 * A digest pins the content even when a `latest` tag is written next to it.
 */
export function isLatestOrUntagged(reference: ImageReference): boolean {
  return reference.digest === undefined && (reference.tag === undefined || reference.tag === DEFAULT_TAG);
}

function failure(input: string, error: string): ImageReferenceResult {
  return { ok: false, input, error };
}

/** splitDockerDomain: which registry a written name means, before any validation. */
function splitDockerDomain(input: string): { domain: string; remainder: string } {
  const slash = input.indexOf('/');
  if (slash === -1) {
    // A single component is always a Docker Hub library name, even `localhost:5000` or `example.com`.
    return { domain: DOCKER_HUB_DOMAIN, remainder: OFFICIAL_REPOSITORY_PREFIX + input };
  }
  const first = input.slice(0, slash);
  let domain: string;
  let remainder: string;
  if (first === LOCALHOST) {
    domain = first;
    remainder = input.slice(slash + 1);
  } else if (first === LEGACY_DOCKER_HUB_DOMAIN) {
    domain = DOCKER_HUB_DOMAIN;
    remainder = input.slice(slash + 1);
  } else if (namesRegistry(first)) {
    domain = first;
    remainder = input.slice(slash + 1);
  } else {
    domain = DOCKER_HUB_DOMAIN;
    remainder = input;
  }
  if (domain === DOCKER_HUB_DOMAIN && !remainder.includes('/')) {
    remainder = OFFICIAL_REPOSITORY_PREFIX + remainder;
  }
  return { domain, remainder };
}

/**
 * True when upstream takes the first of several components for a registry: `localhost`, or one
 * with a `.` or a `:`, or with upper case (never valid in a path, so it must be a host).
 */
function namesRegistry(first: string): boolean {
  return first === LOCALHOST || first.includes('.') || first.includes(':') || hasUpperCase(first);
}

/** Offsets of the parts of `name[:tag][@digest]`; -1 where a part is absent. */
interface ReferenceMatch {
  /** End of the domain (the `/` after it), or -1 when the whole name is a path. */
  readonly domainEnd: number;
  readonly nameEnd: number;
  readonly tagStart: number;
  readonly tagEnd: number;
  readonly digestStart: number;
}

/**
 * The anchored reference grammar. The parts never overlap in what they may contain (only a digest
 * has `@`; a tag has no `/` or `:`; a path has no `:`), so each separator's position is forced and a
 * single scan finds the same split upstream's leftmost-first regex does.
 */
function matchReference(s: string): ReferenceMatch | undefined {
  const at = s.indexOf('@');
  const nameAndTagEnd = at === -1 ? s.length : at;
  if (at !== -1 && !isReferenceDigest(s, at + 1, s.length)) return undefined;

  let lastSlash = -1;
  for (let i = nameAndTagEnd - 1; i >= 0; i--) {
    if (s.charCodeAt(i) === SLASH) {
      lastSlash = i;
      break;
    }
  }
  let colon = -1;
  for (let i = lastSlash + 1; i < nameAndTagEnd; i++) {
    if (s.charCodeAt(i) === COLON) {
      colon = i;
      break;
    }
  }
  let nameEnd = nameAndTagEnd;
  let tagStart = -1;
  let tagEnd = -1;
  if (colon !== -1) {
    if (!isTag(s, colon + 1, nameAndTagEnd)) return undefined;
    nameEnd = colon;
    tagStart = colon + 1;
    tagEnd = nameAndTagEnd;
  }

  const domainEnd = matchName(s, nameEnd);
  if (domainEnd === undefined) return undefined;
  return { domainEnd, nameEnd, tagStart, tagEnd, digestStart: at === -1 ? -1 : at + 1 };
}

/**
 * `[domain/]path` over `s[0, end)`. Returns where the domain ends (-1: no domain) or undefined.
 * Like upstream, the first component is the domain whenever it can be one: only when it cannot
 * (`a_b.com/x`) is the whole name read as a path, leaving the domain empty.
 */
function matchName(s: string, end: number): number | undefined {
  let firstSlash = -1;
  for (let i = 0; i < end; i++) {
    if (s.charCodeAt(i) === SLASH) {
      firstSlash = i;
      break;
    }
  }
  if (firstSlash > 0 && isDomainAndPort(s, 0, firstSlash) && isRemoteName(s, firstSlash + 1, end)) return firstSlash;
  if (isRemoteName(s, 0, end)) return -1;
  return undefined;
}

/** `host[:port]`, host being DNS-like labels of letters, digits and inner dashes, or `[ipv6]`. */
function isDomainAndPort(s: string, start: number, end: number): boolean {
  let i = start;
  if (i >= end) return false;
  if (s.charCodeAt(i) === OPEN_BRACKET) {
    i++;
    const addressStart = i;
    while (i < end && isHexOrColon(s.charCodeAt(i))) i++;
    if (i === addressStart || i >= end || s.charCodeAt(i) !== CLOSE_BRACKET) return false;
    i++;
  } else {
    for (;;) {
      const labelStart = i;
      while (i < end && (isAlphaNumeric(s.charCodeAt(i)) || s.charCodeAt(i) === DASH)) i++;
      if (i === labelStart || s.charCodeAt(labelStart) === DASH || s.charCodeAt(i - 1) === DASH) return false;
      if (i < end && s.charCodeAt(i) === DOT) {
        i++;
        continue;
      }
      break;
    }
  }
  if (i === end) return true;
  if (s.charCodeAt(i) !== COLON) return false;
  i++;
  if (i === end) return false;
  for (; i < end; i++) if (!isDigit(s.charCodeAt(i))) return false;
  return true;
}

/**
 * Path components joined by `/`; each is lower-case alphanumeric runs joined by one separator:
 * `.`, `_`, `__` or any number of `-`. Every separator must be followed by an alphanumeric run, so
 * consuming greedily is the only way to match.
 */
function isRemoteName(s: string, start: number, end: number): boolean {
  let i = start;
  for (;;) {
    if (i >= end || !isLowerAlphaNumeric(s.charCodeAt(i))) return false;
    while (i < end && isLowerAlphaNumeric(s.charCodeAt(i))) i++;
    if (i === end) return true;
    const c = s.charCodeAt(i);
    if (c === SLASH) {
      i++;
      continue;
    }
    if (c === DOT) {
      i++;
    } else if (c === UNDERSCORE) {
      i++;
      if (i < end && s.charCodeAt(i) === UNDERSCORE) i++;
    } else if (c === DASH) {
      while (i < end && s.charCodeAt(i) === DASH) i++;
    } else {
      return false;
    }
    if (i >= end || !isLowerAlphaNumeric(s.charCodeAt(i))) return false;
  }
}

/** `[\w][\w.-]{0,127}`, `\w` being ASCII letters, digits and `_`. */
function isTag(s: string, start: number, end: number): boolean {
  const length = end - start;
  if (length < 1 || length > TAG_MAX_CHARS || !isWordChar(s.charCodeAt(start))) return false;
  for (let i = start + 1; i < end; i++) {
    const c = s.charCodeAt(i);
    if (!isWordChar(c) && c !== DOT && c !== DASH) return false;
  }
  return true;
}

/**
 * The reference grammar's digest: algorithm components `[A-Za-z][A-Za-z0-9]*` joined by one of
 * `-_+.`, a colon, then at least 32 hex digits of either case. Registration is checked later.
 */
function isReferenceDigest(s: string, start: number, end: number): boolean {
  let i = start;
  for (;;) {
    if (i >= end || !isLetter(s.charCodeAt(i))) return false;
    i++;
    while (i < end && isAlphaNumeric(s.charCodeAt(i))) i++;
    if (i >= end) return false;
    const c = s.charCodeAt(i);
    if (c === COLON) break;
    if (c !== DASH && c !== UNDERSCORE && c !== PLUS && c !== DOT) return false;
    i++;
  }
  i++;
  if (end - i < DIGEST_HEX_MIN_CHARS) return false;
  for (; i < end; i++) if (!isHexDigit(s.charCodeAt(i))) return false;
  return true;
}

/**
 * go-digest `Digest.Validate` on a digest the reference grammar accepted: a registered algorithm
 * needs exactly its length of lower-case hex; any other well-formed algorithm is unsupported.
 */
function validateDigest(digest: string): string | undefined {
  const colon = digest.indexOf(':');
  const algorithm = digest.slice(0, colon);
  const hexLength = digest.length - colon - 1;
  const expectedLength = REGISTERED_DIGEST_HEX_CHARS.get(algorithm);
  if (expectedLength === undefined) {
    return isGoDigestAlgorithm(digest, 0, colon) ? 'unsupported digest algorithm' : 'invalid checksum digest format';
  }
  if (hexLength !== expectedLength) return 'invalid checksum digest length';
  for (let i = colon + 1; i < digest.length; i++) {
    if (!isLowerHexDigit(digest.charCodeAt(i))) return 'invalid checksum digest format';
  }
  return undefined;
}

/**
 * go-digest's own algorithm grammar `[a-z0-9]+([.+_-][a-z0-9]+)*`; the hex part after the colon
 * always satisfies go-digest's `[a-zA-Z0-9=_-]+` once the reference grammar accepted it.
 */
function isGoDigestAlgorithm(s: string, start: number, end: number): boolean {
  let i = start;
  for (;;) {
    if (i >= end || !isLowerAlphaNumeric(s.charCodeAt(i))) return false;
    while (i < end && isLowerAlphaNumeric(s.charCodeAt(i))) i++;
    if (i === end) return true;
    const c = s.charCodeAt(i);
    if (c !== DOT && c !== PLUS && c !== UNDERSCORE && c !== DASH) return false;
    i++;
  }
}

/** A bare 64-hex image ID (`[a-f0-9]{64}`), which is not a repository name. */
function isIdentifier(s: string): boolean {
  if (s.length !== IDENTIFIER_HEX_CHARS) return false;
  for (let i = 0; i < s.length; i++) if (!isLowerHexDigit(s.charCodeAt(i))) return false;
  return true;
}

/** Go's `strings.ToLower(s) != s`, with an allocation-free path for ASCII. */
function hasUpperCase(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= UPPER_A && c <= UPPER_Z) return true;
    if (c >= FIRST_NON_ASCII) return s.toLowerCase() !== s;
  }
  return false;
}

/**
 * Lower-cases the way Go's simple case mapping does, as far as it matters for an ASCII grammar:
 * ASCII letters, plus the two non-ASCII capitals whose lower case is ASCII (U+0130 dotted I and
 * U+212A Kelvin sign; JavaScript would turn U+0130 into two code points). Other characters never
 * match the grammar, lower-cased or not, so they are left alone.
 */
function lowerCaseLikeGo(s: string): string {
  let out = '';
  let copiedUpTo = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let lower = -1;
    if (c >= UPPER_A && c <= UPPER_Z) lower = c + CASE_OFFSET;
    else if (c === DOTTED_CAPITAL_I) lower = LOWER_I;
    else if (c === KELVIN_SIGN) lower = LOWER_K;
    if (lower !== -1) {
      out += s.slice(copiedUpTo, i) + String.fromCharCode(lower);
      copiedUpTo = i + 1;
    }
  }
  return copiedUpTo === 0 ? s : out + s.slice(copiedUpTo);
}

/** Keeps quoted input short; the full image string is already in the caller's message. */
function quoteSubject(text: string): string {
  if (text.length <= ERROR_SUBJECT_MAX_CHARS) return text;
  const head = Math.ceil((ERROR_SUBJECT_MAX_CHARS - 1) / 2);
  const tail = ERROR_SUBJECT_MAX_CHARS - 1 - head;
  return `${text.slice(0, head)}…${text.slice(text.length - tail)}`;
}

const SLASH = 0x2f;
const COLON = 0x3a;
const DOT = 0x2e;
const DASH = 0x2d;
const UNDERSCORE = 0x5f;
const PLUS = 0x2b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const UPPER_A = 0x41;
const UPPER_F = 0x46;
const UPPER_Z = 0x5a;
const LOWER_A = 0x61;
const LOWER_F = 0x66;
const LOWER_I = 0x69;
const LOWER_K = 0x6b;
const LOWER_Z = 0x7a;
const CASE_OFFSET = LOWER_A - UPPER_A;
const FIRST_NON_ASCII = 0x80;
const DOTTED_CAPITAL_I = 0x130;
const KELVIN_SIGN = 0x212a;

function isDigit(c: number): boolean {
  return c >= DIGIT_0 && c <= DIGIT_9;
}
function isLowerLetter(c: number): boolean {
  return c >= LOWER_A && c <= LOWER_Z;
}
function isLetter(c: number): boolean {
  return isLowerLetter(c) || (c >= UPPER_A && c <= UPPER_Z);
}
function isLowerAlphaNumeric(c: number): boolean {
  return isLowerLetter(c) || isDigit(c);
}
function isAlphaNumeric(c: number): boolean {
  return isLetter(c) || isDigit(c);
}
function isWordChar(c: number): boolean {
  return isAlphaNumeric(c) || c === UNDERSCORE;
}
function isLowerHexDigit(c: number): boolean {
  return isDigit(c) || (c >= LOWER_A && c <= LOWER_F);
}
function isHexDigit(c: number): boolean {
  return isLowerHexDigit(c) || (c >= UPPER_A && c <= UPPER_F);
}
function isHexOrColon(c: number): boolean {
  return isHexDigit(c) || c === COLON;
}
