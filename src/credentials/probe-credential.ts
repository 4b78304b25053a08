import { decodeDockerAuthField, decodeGoBase64 } from './go-base64.ts';
import { firstValueIndex, foldFieldName, forEachMember, jsonSyntaxErrorOffset, kindAt, readString } from './go-json.ts';
import { redactAuthsKey } from './redact.ts';
import { DOCKER_CFG_KEY, DOCKER_CFG_TYPE, DOCKER_CONFIG_JSON_KEY, DOCKER_CONFIG_JSON_TYPE } from './types.ts';

/**
 * The one credential `explain --probe` sends to a registry: the username and password of one
 * auths entry, decoded with the kubelet's rules (Go JSON, `auth` wins over username/password).
 * Only the probe calls this, on the user's request; the result lives in the probe's locals and is
 * never printed, logged or kept. The projection (dockerconfig.ts) never keeps passwords.
 */
export interface ProbeCredential {
  readonly username: string;
  readonly password: string;
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function payloadBytes(secret: Record<string, unknown>, dataKey: string): Uint8Array | undefined {
  const stringData = secret['stringData'];
  if (isRecord(stringData) && typeof stringData[dataKey] === 'string') return textEncoder.encode(stringData[dataKey]);
  const data = secret['data'];
  const value = isRecord(data) ? data[dataKey] : undefined;
  return typeof value === 'string' ? decodeGoBase64(value, true) : undefined;
}

function entryCredential(bytes: Uint8Array, index: number): ProbeCredential | undefined {
  const kind = kindAt(bytes, index);
  if (kind === 'null') return { username: '', password: '' };
  if (kind !== 'object') return undefined;
  let username = '';
  let password = '';
  let auth = '';
  forEachMember(bytes, index, (field, valueIndex) => {
    if (kindAt(bytes, valueIndex) !== 'string') return;
    const folded = foldFieldName(field);
    if (folded === 'USERNAME') username = readString(bytes, valueIndex);
    else if (folded === 'PASSWORD') password = readString(bytes, valueIndex);
    else if (folded === 'AUTH') auth = readString(bytes, valueIndex);
  });
  if (auth.length === 0) return { username, password };
  const decoded = decodeDockerAuthField(auth);
  if (decoded === undefined) return undefined;
  const colon = decoded.indexOf(0x3a);
  const result = colon < 0 ? undefined : { username: textDecoder.decode(decoded.subarray(0, colon)), password: textDecoder.decode(decoded.subarray(colon + 1)) };
  decoded.fill(0);
  return result;
}

/**
 * The credential stored under `shownKey` (an auths key as explain shows it: redacted) in a Secret
 * object, or undefined when the secret has no such readable entry. Duplicate keys: the last wins.
 */
export function probeCredentialFor(secret: unknown, shownKey: string): ProbeCredential | undefined {
  if (!isRecord(secret)) return undefined;
  const type = secret['type'];
  const legacy = type === DOCKER_CFG_TYPE;
  if (type !== DOCKER_CONFIG_JSON_TYPE && !legacy) return undefined;
  const bytes = payloadBytes(secret, legacy ? DOCKER_CFG_KEY : DOCKER_CONFIG_JSON_KEY);
  if (bytes === undefined || bytes.length === 0 || jsonSyntaxErrorOffset(bytes) >= 0) return undefined;
  try {
    const top = firstValueIndex(bytes);
    if (kindAt(bytes, top) !== 'object') return undefined;
    let found: ProbeCredential | undefined;
    const visitAuths = (index: number): void => {
      if (kindAt(bytes, index) !== 'object') return;
      forEachMember(bytes, index, (key, valueIndex) => {
        if (redactAuthsKey(key) === shownKey) found = entryCredential(bytes, valueIndex);
      });
    };
    if (legacy) visitAuths(top);
    else forEachMember(bytes, top, (field, valueIndex) => (foldFieldName(field) === 'AUTHS' ? visitAuths(valueIndex) : undefined));
    return found;
  } finally {
    bytes.fill(0);
  }
}
