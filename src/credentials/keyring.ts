import { binaryToDisplay, utf8Binary } from './go-bytes.ts';
import { compileGlob, globMatches, isLiteralPattern, type CompiledGlob } from './go-glob.ts';
import { parseGoUrl, splitHostPort } from './go-url.ts';
import type { CredentialKey, KeyringMatch, PullSecretView, WorkMeter } from './types.ts';
import { detachedCopy, redactAuthsKey } from './redact.ts';
import { Doorkeeper, DOORKEEPER_NAMES_PER_ENTRY } from '../image/string-memo.ts';

/**
 * The kubelet's credential keyring (pkg/credentialprovider/keyring.go): how an auths key is
 * stored, how it is matched against an image name, and in which order matches come back.
 * Everything works on the Go bytes of keys and names (binary strings, see go-bytes.ts), so sort
 * order and globbing agree with the kubelet even for non-ASCII input.
 */

/** The only key the Docker Hub fallback reads (keyring.go defaultRegistryHost). */
export const DOCKER_HUB_FALLBACK_KEY = 'index.docker.io';

/**
 * BasicDockerKeyring.Add: a key without a lower-case `https://` or `http://` prefix gets
 * `https://`, is parsed with Go's url.Parse (userinfo, query and fragment fall away, the host and
 * path are unescaped), a leading `/v1/` or `/v2/` of the path shrinks to `/`, and a path of `/`
 * is dropped. Returns the stored key as Go bytes, or undefined when the kubelet skips the key.
 */
function storedKeyBytes(raw: string): string | undefined {
  const value = withScheme(raw);
  const parsed = parseGoUrl(utf8Binary(value));
  if (parsed === undefined) return undefined;
  let path = parsed.path;
  if (path.startsWith('/v2/') || path.startsWith('/v1/')) path = path.slice(3);
  return path.length > 0 && path !== '/' ? parsed.host + path : parsed.host;
}

function withScheme(raw: string): string {
  return raw.startsWith('https://') || raw.startsWith('http://') ? raw : 'https://' + raw;
}

/**
 * True when Go's url.Parse takes the key's last `@` as the end of its userinfo (the `@` lies in the
 * authority), so the stored key comes from what follows it. Otherwise the stored key is made of
 * text before an `@` (`tok?@x` is stored as host `tok`), which redactAuthsKey treats as userinfo.
 */
function lastAtEndsUserinfo(raw: string): boolean {
  const value = withScheme(raw);
  const at = value.lastIndexOf('@');
  if (at < 0) return true;
  const start = value.indexOf('//') + 2;
  for (let i = start; i < at; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x2f || c === 0x3f || c === 0x23) return false;
  }
  return true;
}

/**
 * The kubelet's normalisation of an auths key: `https://index.docker.io/v1/` -> `index.docker.io`,
 * `quay.io/team` -> `quay.io/team`. Undefined for keys the kubelet skips because they do not parse.
 * Bytes that are not valid UTF-8 (from `%`-escapes) are shown as `%XX`.
 */
export function parseKeyringKey(raw: string): string | undefined {
  const bytes = storedKeyBytes(raw);
  return bytes === undefined ? undefined : binaryToDisplay(bytes);
}

/** One host label of a key: a literal (plain equality) or a glob. */
type LabelMatcher = string | CompiledGlob;

/** A stored key, parsed once (the kubelet re-parses it on every lookup: URLsMatchStr). */
interface CompiledKey {
  /** The stored key's Go bytes: sort order and the Docker Hub fallback compare these. */
  readonly bytes: string;
  /** False when the key cannot match anything: it does not re-parse, or a label is a malformed glob. */
  readonly matchable: boolean;
  readonly port: string;
  readonly path: string;
  readonly labels: readonly LabelMatcher[];
  /** The host when every label is a literal (most keys): compared whole, without the image's labels. */
  readonly literalHost: string | undefined;
}

/**
 * RFC 1035 2.3.4: a DNS label holds at most 63 bytes. No resolver looks up a longer one, so no
 * registry is reachable under such a host, and a glob over a longer label costs up to its
 * length squared: image hosts with one are matched by no key (before any glob runs).
 */
export const DNS_LABEL_MAX_BYTES = 63;
/** RFC 1035: 255 bytes on the wire are 253 characters as text; the same reasoning as for labels. */
export const DNS_NAME_MAX_BYTES = 253;
/**
 * Longest image name whose compiled target is remembered: a DNS name, a port, and a 255-character
 * path fit. Longer names are compiled every time and never kept, so a 7 MiB name cannot pin memory.
 */
const TARGET_MEMO_MAX_CHARS = DNS_NAME_MAX_BYTES + 7 + 255;

/** True when `host` (Go bytes, no port) could be a DNS name or an IP literal by length. */
export function isResolvableHostLength(host: string): boolean {
  if (host.length > DNS_NAME_MAX_BYTES) return false;
  let start = 0;
  for (let i = 0; i <= host.length; i++) {
    if (i === host.length || host.charCodeAt(i) === 0x2e) {
      if (i - start > DNS_LABEL_MAX_BYTES) return false;
      start = i + 1;
    }
  }
  return true;
}

/**
 * The image side of URLsMatch: `https://` + name, parsed and split once. Callers that compare one
 * image with many keys compile it once (imageTarget) instead of once per key or per secret. The
 * host's labels are split on first use: literal keys compare the host whole.
 */
export class ImageTarget {
  readonly name: string;
  /** isDockerHubImage(name), found once: the fallback asks for every secret looked up. */
  readonly dockerHub: boolean;
  readonly parsed: boolean;
  readonly port: string;
  readonly path: string;
  /** The host (Go bytes, no port); '' when not parsed. */
  readonly host: string;
  /** How many labels the host has (0 when not parsed). */
  readonly labelCount: number;
  private split: readonly string[] | undefined;

  constructor(name: string, dockerHub: boolean, parsed: boolean, port: string, path: string, host: string) {
    this.name = name;
    this.dockerHub = dockerHub;
    this.parsed = parsed;
    this.port = port;
    this.path = path;
    this.host = host;
    this.labelCount = parsed ? countLabels(host) : 0;
    this.split = parsed ? undefined : [];
  }

  /** The host's dot-separated labels ([] when not parsed), split when a glob key first asks. */
  get labels(): readonly string[] {
    return (this.split ??= this.host.split('.'));
  }
}

/** host.split('.').length, without the split. */
function countLabels(host: string): number {
  let count = 1;
  for (let at = host.indexOf('.'); at !== -1; at = host.indexOf('.', at + 1)) count++;
  return count;
}

function compileKeyBytes(bytes: string): CompiledKey {
  const parsed = parseGoUrl('https://' + bytes);
  if (parsed === undefined) return { bytes, matchable: false, port: '', path: '', labels: [], literalHost: undefined };
  const { host, port } = splitHostPort(parsed.host);
  const labels = host.split('.').map((label): LabelMatcher => (isLiteralPattern(label) ? label : compileGlob(label)));
  const matchable = labels.every((label) => typeof label === 'string' || label.valid);
  const literal = labels.every((label) => typeof label === 'string');
  return { bytes, matchable, port, path: parsed.path, labels, literalHost: literal ? host : undefined };
}

/**
 * Longest authority (`host[:port]`, after any userinfo) that can still hold a DNS name: each host
 * byte written at most as a 3-character %-escape, IPv6 brackets, and a 5-digit port.
 */
const AUTHORITY_MAX_CHARS = 3 * DNS_NAME_MAX_BYTES + 2 + 1 + 5;

/** False when the authority of `https://` + name is too long to hold a resolvable host; a cheap scan before parsing. */
function authorityFits(imageName: string): boolean {
  // indexOf scans natively: several times faster than a loop over a multi-megabyte name.
  let end = imageName.length;
  for (const stop of ['/', '?', '#']) {
    const at = imageName.indexOf(stop);
    if (at >= 0 && at < end) end = at;
  }
  if (end <= AUTHORITY_MAX_CHARS) return true;
  const at = end === 0 ? -1 : imageName.lastIndexOf('@', end - 1);
  return end - (at + 1) <= AUTHORITY_MAX_CHARS;
}

function compileTarget(imageName: string): ImageTarget {
  const dockerHub = isDockerHubImage(imageName);
  // Not a name any node can resolve: no key matches it (the kubelet would compare, then fail to
  // pull). Checked before parsing, so a 7 MiB host costs one scan.
  if (!authorityFits(imageName)) return unmatchableTarget(imageName, dockerHub);
  const parsed = plainImageUrl(imageName) ?? parseGoUrl('https://' + utf8Binary(imageName));
  if (parsed === undefined) return unmatchableTarget(imageName, dockerHub);
  const { host, port } = splitHostPort(parsed.host);
  if (!isResolvableHostLength(host)) return unmatchableTarget(imageName, dockerHub);
  return new ImageTarget(imageName, dockerHub, true, port, parsed.path, host);
}

/** The target of a name no key can match (built only for such a name). */
function unmatchableTarget(imageName: string, dockerHub: boolean): ImageTarget {
  return new ImageTarget(imageName, dockerHub, false, '', '', '');
}

const isLowerAlnum = (c: number): boolean => (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39);

/**
 * parseGoUrl('https://' + name) for the plain names nearly every image has: a host of lower-case
 * letters, digits, dots and dashes with an optional numeric port, and a path of lower-case
 * letters, digits, `.`, `_`, `-` and `/`. Go's parser leaves such a URL as it is (nothing to
 * unescape, no userinfo, query or fragment), so the split is the answer; anything else is
 * undefined and goes through parseGoUrl.
 */
export function plainImageUrl(imageName: string): { readonly host: string; readonly path: string } | undefined {
  const slash = imageName.indexOf('/');
  const authorityEnd = slash < 0 ? imageName.length : slash;
  let colon = -1;
  for (let i = 0; i < authorityEnd; i++) {
    const c = imageName.charCodeAt(i);
    if (c === 0x3a && colon < 0) colon = i;
    else if (colon >= 0 ? !(c >= 0x30 && c <= 0x39) : !(isLowerAlnum(c) || c === 0x2e || c === 0x2d)) return undefined;
  }
  if (authorityEnd === 0 || colon === 0 || colon === authorityEnd - 1) return undefined;
  for (let i = authorityEnd; i < imageName.length; i++) {
    const c = imageName.charCodeAt(i);
    if (!(isLowerAlnum(c) || c === 0x2e || c === 0x2d || c === 0x5f || c === 0x2f)) return undefined;
  }
  return { host: imageName.slice(0, authorityEnd), path: imageName.slice(authorityEnd) };
}

/** The image name compiled for matching; compile once, then look up or compare with many keys. */
export function imageTarget(imageName: string): ImageTarget {
  return targetOf(imageName);
}

/** A normalised keyring key (parseKeyringKey) compiled once for matching many images (policy patterns). */
export type KeyPattern = CompiledKey;

export function compileKeyPattern(key: string): KeyPattern {
  return compileKeyBytes(utf8Binary(key));
}

/** keyMatchesImage(key, target) for a key compiled with compileKeyPattern. */
export function keyPatternMatches(pattern: KeyPattern, target: ImageTarget): boolean {
  return compiledMatches(pattern, target);
}

/** URLsMatch(glob, target), with any parse or pattern error counted as "no match" as Lookup does. */
function compiledMatches(key: CompiledKey, target: ImageTarget, meter?: WorkMeter): boolean {
  const labels = key.labels;
  // Cheapest rejections first; an unparsed target has no labels, an unmatchable key none either.
  if (labels.length !== target.labelCount || !key.matchable || !target.parsed) return false;
  if (key.port !== target.port) return false;
  if (!target.path.startsWith(key.path)) return false;
  // As many labels on both sides: the hosts are equal exactly when every label is.
  if (key.literalHost !== undefined) return key.literalHost === target.host;
  const targetLabels = target.labels;
  for (let i = 0; i < labels.length; i++) {
    const matcher = labels[i] as LabelMatcher;
    const label = targetLabels[i] as string;
    if (typeof matcher === 'string' ? matcher !== label : !globMatches(matcher, label, meter)) return false;
  }
  return true;
}

// Memoisation. Compiled keys hang off the (frozen, long-lived) CredentialKey objects; strings
// passed to keyMatchesImage and image names go through small bounded maps, emptied when full.
// An image name is kept from its second sighting on (string-memo.ts: Doorkeeper): one-off images
// are compiled and dropped young, and never empty the map of the images that repeat.
const compiledByKey = new WeakMap<CredentialKey, CompiledKey>();
const CACHE_LIMIT = 4096;
const compiledByString = new Map<string, CompiledKey>();
const targetsByName = new Map<string, ImageTarget>();
const targetDoorkeeper = new Doorkeeper(DOORKEEPER_NAMES_PER_ENTRY * CACHE_LIMIT);

function remember<V>(cache: Map<string, V>, key: string, value: V): V {
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(key, value);
  return value;
}

function compiledString(key: string): CompiledKey {
  return compiledByString.get(key) ?? remember(compiledByString, key, compileKeyBytes(utf8Binary(key)));
}

function targetOf(imageName: string): ImageTarget {
  if (imageName.length > TARGET_MEMO_MAX_CHARS) return compileTarget(imageName);
  const known = targetsByName.get(imageName);
  if (known !== undefined) return known;
  const target = compileTarget(imageName);
  return targetDoorkeeper.seenBefore(imageName) ? remember(targetsByName, imageName, target) : target;
}

/** Image targets kept now (tests). */
export function imageTargetMemoSize(): number {
  return targetsByName.size;
}

function compiledOf(key: CredentialKey): CompiledKey {
  let compiled = compiledByKey.get(key);
  if (compiled === undefined) {
    // A CredentialKey built elsewhere: its normalised key is all we have.
    compiled = compileKeyBytes(utf8Binary(key.key));
    compiledByKey.set(key, compiled);
  }
  return compiled;
}

/** A view's keys with their compiled form, cached per view (views are immutable). */
interface CompiledEntry {
  readonly key: CredentialKey;
  readonly compiled: CompiledKey;
}
const compiledByView = new WeakMap<PullSecretView, readonly CompiledEntry[]>();

function entriesOf(view: PullSecretView): readonly CompiledEntry[] {
  let entries = compiledByView.get(view);
  if (entries === undefined) {
    entries = view.keys.map((key) => ({ key, compiled: compiledOf(key) }));
    compiledByView.set(view, entries);
  }
  return entries;
}

/** What an auths entry tells about its credential, without the credential itself. */
export interface CredentialFacts {
  readonly expiresAt: number | undefined;
  readonly shortLived: boolean;
  readonly anonymous: boolean;
}

/**
 * The CredentialKey for an auths key, with its matcher compiled now (projection time) rather than
 * on the admission path. Undefined when the kubelet would skip the key.
 */
export function makeCredentialKey(raw: string, facts: CredentialFacts): CredentialKey | undefined {
  // Thousands of secrets name the same few registries: equal keys share one frozen object and one
  // compiled matcher (the projection of 50,000 secrets would otherwise hold 150,000 copies).
  // The key is kept redacted (userinfo, query and fragment): they can hold credentials, and the
  // kubelet ignores them anyway. Nothing kept shares memory with `raw` (detachedCopy).
  const parsed = storedKeyBytes(raw);
  if (parsed === undefined) return undefined;
  const shown = redactAuthsKey(raw);
  // Go keeps an `@` only in the path (`HTTPS://u:p@host` is host `HTTPS:`, path `//u:p@host`);
  // no image path holds one, so such a key matches nothing. A key whose last `@` Go does not take
  // as the end of the userinfo (`TOKEN?@host` is stored as host `TOKEN`) is stored from text that
  // may be a credential: it is treated as matching nothing too (the one place we depart from the
  // kubelet, for keys no registry needs). Either way only the redacted key is kept.
  const matchable = !parsed.includes('@') && lastAtEndsUserinfo(raw);
  const bytes = matchable ? detachedCopy(parsed) : shown;
  const normalised = matchable ? binaryToDisplay(bytes) : shown;
  const internKey = `${shown}\u0000${normalised}\u0000${facts.expiresAt ?? ''}\u0000${facts.shortLived ? 1 : 0}${facts.anonymous ? 1 : 0}`;
  const interned = internedKeys.get(internKey);
  if (interned !== undefined) return interned;
  const key: CredentialKey = Object.freeze({
    raw: shown,
    key: normalised,
    expiresAt: facts.expiresAt,
    shortLived: facts.shortLived,
    anonymous: facts.anonymous,
  });
  compiledByKey.set(key, matchable ? compileKeyBytes(bytes) : { bytes, matchable: false, port: '', path: '', labels: [], literalHost: undefined });
  if (internedKeys.size >= INTERNED_KEYS_LIMIT) internedKeys.clear();
  internedKeys.set(internKey, key);
  return key;
}

/** Bound on interned keys: distinct auths keys in a cluster are few; the bound only caps a pathological one. */
const INTERNED_KEYS_LIMIT = 65_536;
const internedKeys = new Map<string, CredentialKey>();

/**
 * URLsMatchStr(key, imageName): the hosts have as many dot-separated labels and each label
 * glob-matches (filepath.Match: `*` never crosses a dot), the ports are equal as strings (no port
 * is not `:443`), and the key's path is a plain string prefix of the image's path. `key` is a
 * normalised keyring key (parseKeyringKey), `imageName` is `domain/path` (ImageReference.name).
 */
export function keyMatchesImage(key: string, image: string | ImageTarget): boolean {
  return compiledMatches(compiledString(key), typeof image === 'string' ? targetOf(image) : image);
}

/**
 * keyring.go isDefaultRegistryMatch: the name pulls from Docker Hub when its first component is
 * `docker.io`, `index.docker.io`, or holds neither `.` nor `:` (so `localhost/x` qualifies too).
 */
export function isDockerHubImage(imageName: string): boolean {
  const slash = imageName.indexOf('/');
  if (slash === 0 || imageName.length === 0) return false;
  if (slash < 0) return true;
  const first = imageName.slice(0, slash);
  if (first === 'docker.io' || first === 'index.docker.io') return true;
  return !first.includes('.') && !first.includes(':');
}

/** The work units of walking one secret's keys: one per key, and one for a secret without keys. */
function unitsOf(entries: readonly CompiledEntry[]): number {
  return entries.length === 0 ? 1 : entries.length;
}

interface PendingMatch {
  readonly secret: string;
  readonly key: CredentialKey;
  readonly bytes: string;
}

function byStoredKeyDescending(a: PendingMatch, b: PendingMatch): number {
  // Binary strings compare byte by byte, as Go's sort.StringSlice does.
  return a.bytes < b.bytes ? 1 : a.bytes > b.bytes ? -1 : 0;
}

/**
 * BasicDockerKeyring.Lookup over the usable secrets as one keyring: every credential whose key
 * matches, in reverse byte order of the stored keys (not by specificity); credentials stored
 * under the same key keep their insertion order (secret order, then the order the secret lists
 * them; within one secret Go's map order is random). When nothing matches and the image is a
 * Docker Hub image, the credentials stored under exactly `index.docker.io` come back instead.
 */
export function lookupKeyring(secrets: readonly PullSecretView[], image: string | ImageTarget, meter?: WorkMeter): KeyringMatch[] {
  return lookupKeyringCharged(secrets, image, meter, undefined);
}

/** What a lookup charged its meter for the Docker Hub fallback (0 when the fallback did not run). */
export interface FallbackCharge {
  fallback: number;
}

/**
 * lookupKeyring, telling `charge` what the Docker Hub fallback cost: the budget is checked after
 * the main loop but not after the fallback, so whoever replays a lookup's charges (a remembered
 * lookup, decide/pod-secrets.ts) must replay them in those two steps to answer as it did.
 */
export function lookupKeyringCharged(secrets: readonly PullSecretView[], image: string | ImageTarget, meter: WorkMeter | undefined, charge: FallbackCharge | undefined): KeyringMatch[] {
  if (charge !== undefined) charge.fallback = 0;
  const target = typeof image === 'string' ? targetOf(image) : image;
  // Most lookups match one key: it is held in the first slot, and a list is made from the second.
  let first: PendingMatch | undefined;
  let matched: PendingMatch[] | undefined;
  for (const secret of secrets) {
    if (!secret.usable) continue;
    const entries = entriesOf(secret);
    if (meter !== undefined) {
      // Checked before the secret's keys are compared: once spent, nothing more is compared. A
      // secret without keys costs one unit all the same: walking it is work (hundreds of them
      // against hundreds of images would otherwise be free).
      if (meter.spent > meter.limit) return [];
      meter.spent += unitsOf(entries);
    }
    for (const { key, compiled } of entries) {
      if (!compiledMatches(compiled, target, meter)) continue;
      const match: PendingMatch = { secret: secret.name, key, bytes: compiled.bytes };
      if (first === undefined) first = match;
      else (matched ??= [first]).push(match);
    }
  }
  if (meter !== undefined && meter.spent > meter.limit) return [];
  if (matched !== undefined) {
    // Array.prototype.sort is stable, which keeps same-key credentials in insertion order.
    matched.sort(byStoredKeyDescending);
    return matched.map((match) => ({ secret: match.secret, key: match.key, viaDockerHubFallback: false }));
  }
  if (first !== undefined) return [{ secret: first.secret, key: first.key, viaDockerHubFallback: false }];
  if (!target.dockerHub) return [];
  const fallback: KeyringMatch[] = [];
  for (const secret of secrets) {
    if (!secret.usable) continue;
    const entries = entriesOf(secret);
    if (meter !== undefined) meter.spent += unitsOf(entries);
    if (charge !== undefined) charge.fallback += unitsOf(entries);
    for (const { key, compiled } of entries) {
      if (compiled.bytes === DOCKER_HUB_FALLBACK_KEY) fallback.push({ secret: secret.name, key, viaDockerHubFallback: true });
    }
  }
  return fallback;
}
