import { decodeDockerAuthField, decodeGoBase64 } from './go-base64.ts';
import { ownCopy } from '../text/own-copy.ts';
import { firstValueIndex, foldFieldName, forEachMember, jsonSyntaxErrorOffset, kindAt, readString, type JsonKind } from './go-json.ts';
import { makeCredentialKey, type CredentialFacts } from './keyring.ts';
import { payloadDigest, rememberedPayload, rememberPayload } from './payload-memo.ts';
import { redactAuthsKey } from './redact.ts';
import { credentialFacts } from './token-expiry.ts';
import {
  DOCKER_CFG_KEY,
  DOCKER_CFG_TYPE,
  DOCKER_CONFIG_JSON_KEY,
  DOCKER_CONFIG_JSON_TYPE,
  type CredentialKey,
  type PullSecretProblem,
  type PullSecretView,
} from './types.ts';

/**
 * Projects a Kubernetes Secret onto what pull decisions need, decoding its payload exactly as the
 * kubelet does (pkg/credentialprovider/secrets/secrets.go, config.go): Go's encoding/json and
 * encoding/base64, quirks included. Passwords and `auth` values live only in locals of this
 * module while one entry is decoded; the view keeps keys, usability, the problem and expiry.
 */

/** The API server's default for a Secret without a type. */
const DEFAULT_SECRET_TYPE = 'Opaque';
/** Longest piece of user data (a type or a key) quoted in a problem detail. */
const MAX_QUOTED_LENGTH = 100;

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** Facts for an entry that failed to decode: nothing is known about its credential. */
const UNKNOWN_FACTS: CredentialFacts = Object.freeze({ expiresAt: undefined, shortLived: false, anonymous: false });

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function quote(text: string): string {
  const shown = text.length > MAX_QUOTED_LENGTH ? text.slice(0, MAX_QUOTED_LENGTH) + '...' : text;
  return JSON.stringify(shown);
}

/** An auths key as shown in a detail: redacted, since users paste credentials into keys too. */
function quoteKey(key: string): string {
  return quote(redactAuthsKey(key));
}

function describeKind(kind: JsonKind): string {
  return kind === 'null' ? 'null' : kind === 'object' || kind === 'array' ? `an ${kind}` : `a ${kind}`;
}

/** What is kept of a Secret: its strings as own copies (ownCopy), so that they keep nothing of the text it was read from. */
function view(name: string, type: string, problem: PullSecretProblem | undefined, keys: readonly CredentialKey[]): PullSecretView {
  let expiresAt: number | undefined;
  for (const key of keys) {
    if (key.expiresAt !== undefined && (expiresAt === undefined || key.expiresAt < expiresAt)) expiresAt = key.expiresAt;
  }
  return Object.freeze({ name: ownCopy(name), type: ownCopy(type), usable: problem === undefined, problem, keys: Object.isFrozen(keys) ? keys : Object.freeze([...keys]), expiresAt });
}

function wrongType(detail: string): PullSecretProblem {
  return Object.freeze({ kind: 'wrong-type', detail: ownCopy(detail) });
}

function malformed(detail: string): PullSecretProblem {
  return Object.freeze({ kind: 'malformed', detail: ownCopy(detail) });
}

// ---------------------------------------------------------------------------------------------
// Secret object -> payload bytes

type Payload =
  | { readonly status: 'present'; readonly bytes: Uint8Array }
  | { readonly status: 'absent' }
  | { readonly status: 'invalid'; readonly detail: string };

/**
 * The bytes of one data key, with `stringData` merged over `data` as the API server does on write
 * (manifests on disk may still carry `stringData`). `data` values are Go StdEncoding base64.
 */
function payloadOf(secret: Record<string, unknown>, dataKey: string): Payload {
  const stringData = secret['stringData'];
  if (isRecord(stringData) && Object.hasOwn(stringData, dataKey)) {
    const value = stringData[dataKey];
    if (typeof value === 'string') return { status: 'present', bytes: textEncoder.encode(value) };
    if (value === null || value === undefined) return { status: 'absent' };
    return { status: 'invalid', detail: `stringData key ${dataKey} is not a string` };
  }
  const data = secret['data'];
  if (!isRecord(data) || !Object.hasOwn(data, dataKey)) return { status: 'absent' };
  const value = data[dataKey];
  if (value === null || value === undefined) return { status: 'absent' };
  if (typeof value !== 'string') return { status: 'invalid', detail: `data key ${dataKey} is not a base64 string` };
  const bytes = decodeGoBase64(value, true);
  if (bytes === undefined) return { status: 'invalid', detail: `data key ${dataKey} is not valid base64` };
  return { status: 'present', bytes };
}

// ---------------------------------------------------------------------------------------------
// Payload -> auths entries

/** How decoding went, as Go would report it: a hard error (from an entry) beats a type error. */
class DecodeState {
  hardError: string | undefined;
  typeError: string | undefined;
  /** Raw auths key -> facts; a Map keeps first-insertion order while the last value wins. */
  auths: Map<string, CredentialFacts> | undefined;

  constructor() {
    this.hardError = undefined;
    this.typeError = undefined;
    this.auths = undefined;
  }

  hard(detail: string): void {
    this.hardError ??= detail;
  }

  type(detail: string): void {
    this.typeError ??= detail;
  }
}

/**
 * DockerConfigEntry.UnmarshalJSON: fields `username`, `password`, `email`, `auth` (any case),
 * strings or null, everything else ignored; a non-empty `auth` replaces username and password.
 * Returns the facts, or a problem detail naming the key (never a value).
 */
function decodeEntry(bytes: Uint8Array, index: number, key: string): CredentialFacts | string {
  const kind = kindAt(bytes, index);
  if (kind === 'null') return credentialFacts('', '');
  if (kind !== 'object') return `entry ${quoteKey(key)} is ${describeKind(kind)}, not an object`;
  let username = '';
  let password = '';
  let auth = '';
  let fieldError: string | undefined;
  forEachMember(bytes, index, (field, valueIndex) => {
    const folded = foldFieldName(field);
    if (folded !== 'USERNAME' && folded !== 'PASSWORD' && folded !== 'EMAIL' && folded !== 'AUTH') return;
    const valueKind = kindAt(bytes, valueIndex);
    // Go leaves a string field untouched on null, so a later null does not erase an earlier value.
    if (valueKind === 'null') return;
    if (valueKind !== 'string') {
      fieldError ??= `entry ${quoteKey(key)}: field ${folded.toLowerCase()} is ${describeKind(valueKind)}, not a string`;
      return;
    }
    if (folded === 'USERNAME') username = readString(bytes, valueIndex);
    else if (folded === 'PASSWORD') password = readString(bytes, valueIndex);
    else if (folded === 'AUTH') auth = readString(bytes, valueIndex);
  });
  if (fieldError !== undefined) return fieldError;
  if (auth.length > 0) {
    const decoded = decodeDockerAuthField(auth);
    if (decoded === undefined) return `entry ${quoteKey(key)}: auth is not valid base64`;
    const colon = decoded.indexOf(0x3a);
    if (colon < 0) {
      decoded.fill(0);
      return `entry ${quoteKey(key)}: auth does not decode to user:password`;
    }
    username = textDecoder.decode(decoded.subarray(0, colon));
    password = textDecoder.decode(decoded.subarray(colon + 1));
    decoded.fill(0);
  }
  return credentialFacts(username, password);
}

/** Decodes a DockerConfig map (auths object, or the whole legacy .dockercfg) into `state.auths`. */
function decodeAuthsObject(bytes: Uint8Array, index: number, state: DecodeState): void {
  const auths = (state.auths ??= new Map());
  forEachMember(bytes, index, (key, valueIndex) => {
    const outcome = decodeEntry(bytes, valueIndex, key);
    if (typeof outcome === 'string') {
      state.hard(outcome);
      auths.set(key, UNKNOWN_FACTS);
    } else {
      auths.set(key, outcome);
    }
  });
}

/** The map field of a struct: null resets it, an object merges into it (Go does not clear a map it decodes into). */
function decodeAuthsField(bytes: Uint8Array, index: number, state: DecodeState, what: string): void {
  const kind = kindAt(bytes, index);
  if (kind === 'null') state.auths = undefined;
  else if (kind === 'object') decodeAuthsObject(bytes, index, state);
  else state.type(`${what} is ${describeKind(kind)}, not an object`);
}

/** DockerConfigJSON: `auths` and `HttpHeaders` (map of strings) matched case-insensitively; the rest ignored. */
function decodeDockerConfigJson(bytes: Uint8Array, index: number, state: DecodeState): void {
  forEachMember(bytes, index, (field, valueIndex) => {
    const folded = foldFieldName(field);
    if (folded === 'AUTHS') {
      decodeAuthsField(bytes, valueIndex, state, 'auths');
    } else if (folded === 'HTTPHEADERS') {
      const kind = kindAt(bytes, valueIndex);
      if (kind === 'object') {
        forEachMember(bytes, valueIndex, (_header, headerIndex) => {
          const headerKind = kindAt(bytes, headerIndex);
          if (headerKind !== 'string' && headerKind !== 'null') state.type(`HttpHeaders has ${describeKind(headerKind)} value, not a string`);
        });
      } else if (kind !== 'null') {
        state.type(`HttpHeaders is ${describeKind(kind)}, not an object`);
      }
    }
  });
}

function decodePayload(bytes: Uint8Array, legacy: boolean, dataKey: string): DecodeState {
  const state = new DecodeState();
  const errorOffset = jsonSyntaxErrorOffset(bytes);
  if (errorOffset >= 0) {
    state.hard(`${dataKey} is not valid JSON (error at byte ${errorOffset})`);
    return state;
  }
  const top = firstValueIndex(bytes);
  const kind = kindAt(bytes, top);
  if (kind === 'null') return state;
  if (kind !== 'object') {
    state.type(`${dataKey} is ${describeKind(kind)}, not a JSON object`);
    return state;
  }
  if (legacy) decodeAuthsObject(bytes, top, state);
  else decodeDockerConfigJson(bytes, top, state);
  return state;
}

// ---------------------------------------------------------------------------------------------

function secretName(secret: Record<string, unknown>): string {
  const metadata = secret['metadata'];
  const name = isRecord(metadata) ? metadata['name'] : undefined;
  return typeof name === 'string' ? name : '';
}

/** The type as stored; the API server defaults a missing one to Opaque. */
function secretType(secret: Record<string, unknown>): string {
  const type = secret['type'];
  if (type === undefined || type === null || type === '') return DEFAULT_SECRET_TYPE;
  return typeof type === 'string' ? type : '(not a string)';
}

/** A type as shown in a detail: bare when it is a plain token, quoted otherwise. */
function showType(type: string): string {
  return /^[\w./-]{1,100}$/.test(type) ? type : quote(type);
}

function hasDataKey(secret: Record<string, unknown>, dataKey: string): boolean {
  const data = secret['data'];
  const stringData = secret['stringData'];
  return (isRecord(data) && Object.hasOwn(data, dataKey)) || (isRecord(stringData) && Object.hasOwn(stringData, dataKey));
}

/** Why the kubelet ignores a secret of this type, with the fix when the data shows it. */
function wrongTypeDetail(secret: Record<string, unknown>, type: string): string {
  const legacyOnly = hasDataKey(secret, DOCKER_CFG_KEY) && !hasDataKey(secret, DOCKER_CONFIG_JSON_KEY);
  const needed = legacyOnly ? DOCKER_CFG_TYPE : DOCKER_CONFIG_JSON_TYPE;
  return `type ${showType(type)}; pull secrets must be ${needed}`;
}

/** Why a pull-secret type with a missing or empty data key is ignored. */
function missingKeyDetail(secret: Record<string, unknown>, type: string, dataKey: string): string {
  const otherKey = dataKey === DOCKER_CFG_KEY ? DOCKER_CONFIG_JSON_KEY : DOCKER_CFG_KEY;
  const otherType = dataKey === DOCKER_CFG_KEY ? DOCKER_CONFIG_JSON_TYPE : DOCKER_CFG_TYPE;
  const hint = hasDataKey(secret, otherKey) ? ` (it has ${otherKey}: the type should be ${otherType})` : '';
  return `type ${type} needs a non-empty data key ${dataKey}${hint}; the kubelet ignores this secret`;
}

function project(secret: unknown): PullSecretView {
  if (!isRecord(secret)) return view('', DEFAULT_SECRET_TYPE, wrongType('not a Secret object'), []);
  const name = secretName(secret);
  const type = secretType(secret);
  const legacy = type === DOCKER_CFG_TYPE;
  if (type !== DOCKER_CONFIG_JSON_TYPE && !legacy) {
    return view(name, type, wrongType(wrongTypeDetail(secret, type)), []);
  }
  const dataKey = legacy ? DOCKER_CFG_KEY : DOCKER_CONFIG_JSON_KEY;
  const digest = memoDigest(secret, type, dataKey);
  const known = digest === undefined ? undefined : rememberedPayload(digest);
  if (known !== undefined) return view(name, type, known.problem, known.keys);
  const payload = payloadOf(secret, dataKey);
  if (payload.status === 'invalid') return view(name, type, malformed(payload.detail), []);
  if (payload.status === 'absent' || payload.bytes.length === 0) {
    return view(name, type, wrongType(missingKeyDetail(secret, type, dataKey)), []);
  }
  const state = decodePayload(payload.bytes, legacy, dataKey);
  payload.bytes.fill(0);
  const keys: CredentialKey[] = [];
  for (const [raw, facts] of state.auths ?? []) {
    const key = makeCredentialKey(raw, facts);
    if (key !== undefined) keys.push(key);
  }
  const detail = state.hardError ?? state.typeError;
  const decoded = { keys: Object.freeze(keys), problem: detail === undefined ? undefined : malformed(detail) };
  if (digest !== undefined) rememberPayload(digest, decoded);
  return view(name, type, decoded.problem, decoded.keys);
}

/**
 * The payload memo's key for a secret whose payload is a non-empty string (where payloadOf reads
 * it: `stringData` over `data`), else undefined: other shapes are cheap to judge afresh.
 */
function memoDigest(secret: Record<string, unknown>, type: string, dataKey: string): string | undefined {
  const stringData = secret['stringData'];
  if (isRecord(stringData) && Object.hasOwn(stringData, dataKey)) {
    const value = stringData[dataKey];
    return typeof value === 'string' && value !== '' ? payloadDigest(`${type}\u0000stringData`, value) : undefined;
  }
  const data = secret['data'];
  const value = isRecord(data) && Object.hasOwn(data, dataKey) ? data[dataKey] : undefined;
  return typeof value === 'string' && value !== '' ? payloadDigest(`${type}\u0000data`, value) : undefined;
}

/**
 * The view of one Secret object (`{metadata: {name}, type, data: {key: base64}, stringData?}`).
 * Never throws: anything that is not a readable Secret becomes an unusable view.
 */
export function projectPullSecret(secret: unknown): PullSecretView {
  try {
    return project(secret);
  } catch {
    // Only hostile objects get here (throwing getters, proxies): report, do not crash admission.
    return view('', DEFAULT_SECRET_TYPE, malformed('the secret object could not be read'), []);
  }
}

export interface SecretObjectSpec {
  readonly name: string;
  readonly namespace?: string;
  readonly type?: string;
  /** Data values as plain text; they are base64-encoded into `data`. */
  readonly data?: Readonly<Record<string, string>>;
  readonly stringData?: Readonly<Record<string, string>>;
}

/** A Secret object as the API would return it, for tests and fixtures. */
export function buildSecretObject(spec: SecretObjectSpec): Record<string, unknown> {
  const data: Record<string, string> = {};
  for (const [key, value] of Object.entries(spec.data ?? {})) {
    let binary = '';
    for (const byte of textEncoder.encode(value)) binary += String.fromCharCode(byte);
    data[key] = btoa(binary);
  }
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: spec.name, ...(spec.namespace !== undefined ? { namespace: spec.namespace } : {}) },
    ...(spec.type !== undefined ? { type: spec.type } : {}),
    data,
    ...(spec.stringData !== undefined ? { stringData: { ...spec.stringData } } : {}),
  };
}
