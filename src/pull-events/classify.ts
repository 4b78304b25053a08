/**
 * Classifies what the kubelet says about an image pull (an Event's reason and message, or a
 * container's waiting reason and message) into one cause. Pure, linear in the text: substring
 * checks on a lower-cased copy, no backtracking patterns.
 *
 * The texts come from the kubelet (pkg/kubelet/images/image_manager.go: `Pulling image "x"`,
 * `Failed to pull image "x": ERR`, `Back-off pulling image "x"`, `Error: ErrImagePull`, ...) and
 * from the runtime inside ERR: containerd (`failed to pull and unpack image "..."`, `failed to
 * resolve reference "..."`, `pulling from host H failed with status code [manifests T]: 401
 * Unauthorized`), dockershim (`Error response from daemon: ...`), behind an optional gRPC prefix
 * (`rpc error: code = NotFound desc = `).
 */

/** The causes: a public contract (`explain -o json`, field `kubelet.events[].cause`). */
export const PULL_EVENT_CAUSES = [
  'unauthorized',
  'not-found',
  'rate-limited',
  'tls',
  'network',
  'never-pull',
  'invalid-name',
  'secret-missing',
  'secret-malformed',
  'backoff',
  'pulled',
  'pulling',
  'unknown',
] as const;
export type PullEventCause = (typeof PULL_EVENT_CAUSES)[number];

/** What each cause means and the texts that give it: the README's cause table reads this. */
export const CAUSE_DESCRIPTIONS: Readonly<Record<PullEventCause, string>> = {
  unauthorized: 'The registry refused the credentials or their absence: `401`/`403`, `unauthorized`, `pull access denied`, `insufficient_scope`, `no basic auth credentials`, a token fetch answered 401/403.',
  'not-found': 'The repository, tag or digest does not exist: `not found`, `manifest unknown`, `name unknown`, 404, gRPC `NotFound`.',
  'rate-limited': 'The registry rate-limits the node: `429 Too Many Requests`, `toomanyrequests` (Docker Hub anonymous pulls).',
  tls: "The node does not trust the registry's certificate, or the registry does not speak TLS: `x509: ...`, `tls: failed to verify certificate`, `server gave HTTP response to HTTPS client`.",
  network: 'The node cannot reach the registry: `no such host`, `connection refused`, `i/o timeout`, `connection timed out`, `no route to host`, `TLS handshake timeout`, `RegistryUnavailable`, 502/503/504. Checked before `unauthorized`, so a token fetch that times out is the network.',
  'never-pull': '`ErrImageNeverPull`: pull policy `Never` and the image is not on the node, or (with `KubeletEnsureSecretPulledImages`) the pod may not use the cached copy.',
  'invalid-name': '`InvalidImageName`, `InspectFailed` `Failed to apply default image tag`: the image string does not parse.',
  'secret-missing': '`FailedToRetrieveImagePullSecret`: a listed pull secret does not exist; the kubelet pulls without it.',
  'secret-malformed': "The kubelet could not decode one of the pod's pull secrets and fails every pull of the pod without asking a registry. The Go error is the container's waiting reason and a `Failed` event's `Error: ...`: `illegal base64 data at input byte N`, `unable to parse auth field`, or a JSON error (`invalid character ... looking for beginning of value`, `unexpected end of JSON input`, `json: cannot unmarshal ...`).",
  backoff: "`BackOff` `Back-off pulling image`, and the kubelet's `Error: ErrImagePull` / `Error: ImagePullBackOff` lines: no cause of their own; explain uses the last real error behind them. A back-off message that carries the last error (kubelet 1.31+) takes that error's cause.",
  pulled: '`Pulled`: `Successfully pulled image`, `already present on machine`.',
  pulling: '`Pulling`: a pull started.',
  unknown: 'A pull failed for a reason none of the above names (the text is shown whole).',
};

/** Causes that say why a pull failed (not progress, not a back-off repeat). */
export const FAILURE_CAUSES: ReadonlySet<PullEventCause> = new Set([
  'unauthorized',
  'not-found',
  'rate-limited',
  'tls',
  'network',
  'never-pull',
  'invalid-name',
  'secret-malformed',
  'unknown',
]);

export interface PullEventClassification {
  readonly cause: PullEventCause;
  /** The image as the kubelet names it in the message, when it names one. */
  readonly image: string | undefined;
  /** The runtime's error with the kubelet's wrapping and the gRPC prefix removed, when there is one. */
  readonly error: string | undefined;
  /** The gRPC status of the runtime's answer (`NotFound`, `Unknown`, ...), when the message carries it. */
  readonly grpcCode: string | undefined;
  /** The registry's HTTP status, when the text names one (401, 403, 404, 429, ...). */
  readonly httpStatus: number | undefined;
  /** For `secret-missing`: the secret names the kubelet could not retrieve. */
  readonly secrets: readonly string[];
}

/** Longest text looked at: events and waiting messages are short; a hostile one is cut, not scanned whole. */
export const MAX_CLASSIFIED_CHARS = 64 * 1024;

// gRPC codes by number: kubelets before 1.10 printed `code = 2`.
const GRPC_CODE_NAMES: Readonly<Record<string, string>> = {
  '1': 'Canceled',
  '2': 'Unknown',
  '4': 'DeadlineExceeded',
  '5': 'NotFound',
  '7': 'PermissionDenied',
  '8': 'ResourceExhausted',
  '14': 'Unavailable',
  '16': 'Unauthenticated',
};

const CAUSE_BY_GRPC_CODE: Readonly<Record<string, PullEventCause>> = {
  NotFound: 'not-found',
  PermissionDenied: 'unauthorized',
  Unauthenticated: 'unauthorized',
  ResourceExhausted: 'rate-limited',
  Unavailable: 'network',
  DeadlineExceeded: 'network',
};

/**
 * Phrases of each cause, tried in this order on the error text (lower case, image names and
 * quoted URLs removed). Order matters where texts combine: a token fetch that times out
 * (`failed to fetch anonymous token: ... i/o timeout`) is the network, not the credential.
 */
const PHRASES: ReadonlyArray<readonly [PullEventCause, readonly string[]]> = [
  ['rate-limited', ['toomanyrequests', 'too many requests', 'pull rate limit', 'rate limit exceeded']],
  [
    'network',
    [
      'no such host',
      'connection refused',
      'i/o timeout',
      'connection timed out',
      'no route to host',
      'network is unreachable',
      'tls handshake timeout',
      'connection reset by peer',
      'server misbehaving',
      'registryunavailable',
      'registry is unavailable',
      'context deadline exceeded',
      '502 bad gateway',
      '503 service unavailable',
      '504 gateway timeout',
    ],
  ],
  [
    'tls',
    [
      'x509:',
      'tls: ',
      'certificate signed by unknown authority',
      'certificate has expired',
      'server gave http response to https client',
      'first record does not look like a tls handshake',
    ],
  ],
  [
    'unauthorized',
    [
      '401 unauthorized',
      '403 forbidden',
      'unauthorized',
      'pull access denied',
      'insufficient_scope',
      'no basic auth credentials',
      'authentication required',
      'incorrect username or password',
      'access denied',
      'denied:',
      'forbidden',
    ],
  ],
  ['invalid-name', ['invalid reference format', "couldn't parse image name", 'invalid image name']],
  ['not-found', ['not found', 'manifest unknown', 'name unknown', 'not_found', 'does not exist']],
];

const RPC_PREFIX = 'rpc error: code = ';
const DESC_MARK = ' desc = ';

/** Reads `rpc error: code = X desc = REST` anywhere in the text: the code and REST. */
function splitGrpc(text: string): { code: string | undefined; rest: string } {
  const at = text.indexOf(RPC_PREFIX);
  if (at < 0) return { code: undefined, rest: text };
  const afterCode = at + RPC_PREFIX.length;
  const desc = text.indexOf(DESC_MARK, afterCode);
  const rawCode = (desc < 0 ? text.slice(afterCode) : text.slice(afterCode, desc)).trim();
  const code = GRPC_CODE_NAMES[rawCode] ?? rawCode;
  return { code: code === '' ? undefined : code, rest: desc < 0 ? text.slice(0, at) : text.slice(0, at) + text.slice(desc + DESC_MARK.length) };
}

/**
 * Removes what a user chose (image names, quoted URLs, tags in `[manifests TAG]`) so a repository
 * called `forbidden-app` or a tag `notfound` cannot steer the cause. A quoted span without spaces
 * is a name or a URL; Docker's JSON messages quote whole sentences, which stay.
 */
function withoutNames(text: string, images: readonly string[]): string {
  let out = '';
  let index = 0;
  while (index < text.length) {
    const char = text[index] as string;
    if (char === '"') {
      const close = text.indexOf('"', index + 1);
      if (close > index) {
        const inner = text.slice(index + 1, close);
        if (!/\s/.test(inner)) {
          out += '""';
          index = close + 1;
          continue;
        }
      }
    }
    if (char === '[' && text.startsWith('[manifests ', index)) {
      const close = text.indexOf(']', index);
      if (close > index) {
        out += '[manifests]';
        index = close + 1;
        continue;
      }
    }
    out += char;
    index += 1;
  }
  for (const image of images) if (image.length > 0) out = out.split(image).join('');
  return out;
}

/** The first `"..."` after `marker`, or undefined. */
function quotedAfter(text: string, marker: string): string | undefined {
  const at = text.indexOf(marker);
  if (at < 0) return undefined;
  const open = at + marker.length;
  if (text[open] !== '"') return undefined;
  const close = text.indexOf('"', open + 1);
  return close < 0 ? undefined : text.slice(open + 1, close);
}

function httpStatusOf(lower: string): number | undefined {
  for (const [status, phrases] of STATUS_PHRASES) if (phrases.some((phrase) => lower.includes(phrase))) return status;
  return undefined;
}

const STATUS_PHRASES: ReadonlyArray<readonly [number, readonly string[]]> = [
  [429, ['429 too many requests', 'toomanyrequests']],
  [401, ['401 unauthorized']],
  [403, ['403 forbidden']],
  [404, ['404 not found']],
  [502, ['502 bad gateway']],
  [503, ['503 service unavailable']],
  [504, ['504 gateway timeout']],
];

/** Classifies a runtime error text (what follows `Failed to pull image "x": `). */
export function classifyPullError(errorText: string, image?: string): PullEventClassification {
  const text = errorText.length > MAX_CLASSIFIED_CHARS ? errorText.slice(0, MAX_CLASSIFIED_CHARS) : errorText;
  const { code, rest } = splitGrpc(text);
  const error = rest.trim();
  const images: string[] = [];
  if (image !== undefined) images.push(image);
  for (const marker of ['failed to pull and unpack image ', 'failed to resolve reference ', 'failed to resolve image ']) {
    const named = quotedAfter(error, marker);
    if (named !== undefined) images.push(named);
  }
  const lower = withoutNames(error, images).toLowerCase();
  const httpStatus = httpStatusOf(lower);
  let cause: PullEventCause | undefined;
  for (const [candidate, phrases] of PHRASES) {
    if (phrases.some((phrase) => lower.includes(phrase))) {
      cause = candidate;
      break;
    }
  }
  cause ??= (code !== undefined ? CAUSE_BY_GRPC_CODE[code] : undefined) ?? 'unknown';
  return { cause, image, error: error === '' ? undefined : error, grpcCode: code, httpStatus, secrets: [] };
}

function plain(cause: PullEventCause, image: string | undefined, error?: string): PullEventClassification {
  return { cause, image, error, grpcCode: undefined, httpStatus: undefined, secrets: [] };
}

/**
 * The errors of the kubelet's keyring builder (credentialprovider/secrets MakeDockerKeyring: Go's
 * encoding/json and encoding/base64, and decodeDockerConfigFieldAuth) when a pull secret of the
 * pod does not decode. The kubelet then reports the bare error, with no image and no registry.
 */
const SECRET_DECODE_ERRORS: readonly RegExp[] = [
  /^illegal base64 data at input byte \d+$/,
  /^unable to parse auth field, must be formatted as base64\(username:password\)$/,
  /^invalid character .* (looking for beginning of|after|in) /,
  /^unexpected end of JSON input$/,
  /^json: cannot unmarshal /,
];

function isSecretDecodeError(text: string): boolean {
  const error = text.trim();
  return SECRET_DECODE_ERRORS.some((pattern) => pattern.test(error));
}

/** `Error: ErrImagePull` and friends: the kubelet's summary line after a failed start, by error name. */
const SUMMARY_CAUSES: Readonly<Record<string, PullEventCause>> = {
  ErrImagePull: 'backoff',
  ImagePullBackOff: 'backoff',
  ErrImageNeverPull: 'never-pull',
  InvalidImageName: 'invalid-name',
  RegistryUnavailable: 'network',
  ImageInspectError: 'unknown',
  SignatureValidationFailed: 'unknown',
};

const FAILED_TO_PULL = 'Failed to pull image ';
const BACK_OFF_PULLING = 'Back-off pulling image ';

/** Splits `PREFIX"image": rest` into the image and the rest (undefined when the shape differs). */
function imageAndRest(message: string, prefix: string): { image: string; rest: string } | undefined {
  if (!message.startsWith(prefix) || message[prefix.length] !== '"') return undefined;
  const close = message.indexOf('"', prefix.length + 1);
  if (close < 0) return undefined;
  const image = message.slice(prefix.length + 1, close);
  const tail = message.slice(close + 1);
  return { image, rest: tail.startsWith(': ') ? tail.slice(2) : tail.trim() };
}

/**
 * Classifies an Event by its reason and message. Undefined when the event is not about pulling
 * an image (Scheduled, Started, a container restart back-off, ...).
 */
export function classifyPullEvent(reason: string, message: string): PullEventClassification | undefined {
  const text = message.length > MAX_CLASSIFIED_CHARS ? message.slice(0, MAX_CLASSIFIED_CHARS) : message;
  switch (reason) {
    case 'Pulling': {
      // `Pulling image "x"`; kubelets before 1.15 wrote `pulling image "x"`.
      const image = quotedAfter(text, 'ulling image ');
      return image === undefined ? undefined : plain('pulling', image);
    }
    case 'Pulled': {
      const image = quotedAfter(text, 'pulled image ') ?? quotedAfter(text, 'Container image ');
      return image === undefined ? undefined : plain('pulled', image);
    }
    case 'BackOff':
    case 'Back-off': {
      const parts = imageAndRest(text, BACK_OFF_PULLING) ?? imageAndRest(text, 'back-off pulling image ');
      if (parts === undefined) return undefined; // a container restart back-off, not a pull
      return backOffClassification(parts.image, parts.rest);
    }
    case 'ErrImageNeverPull':
      return plain('never-pull', quotedAfter(text, 'Container image '), text);
    case 'InspectFailed': {
      const invalid = quotedAfter(text, 'Failed to apply default image tag ');
      if (invalid !== undefined) return plain('invalid-name', invalid, text);
      return plain('unknown', quotedAfter(text, 'Failed to inspect image '), text);
    }
    case 'InvalidImageName':
      return plain('invalid-name', undefined, text);
    case 'FailedToRetrieveImagePullSecret':
      return { ...plain('secret-missing', undefined, text), secrets: secretNames(text) };
    case 'Failed':
    case 'ErrImagePull':
    case 'ImagePullBackOff':
    case 'RegistryUnavailable':
      return failedClassification(reason, text);
    default:
      return undefined;
  }
}

function backOffClassification(image: string, rest: string): PullEventClassification {
  // Kubelets since 1.31 append the last error to the waiting message: `...: ErrImagePull: ERR`.
  if (rest === '') return plain('backoff', image);
  const inner = rest.startsWith('ErrImagePull: ') ? rest.slice('ErrImagePull: '.length) : rest;
  const classified = classifyPullError(inner, image);
  return classified.cause === 'unknown' ? { ...classified, cause: 'backoff' } : classified;
}

function failedClassification(reason: string, text: string): PullEventClassification | undefined {
  const pull = imageAndRest(text, FAILED_TO_PULL);
  if (pull !== undefined) return classifyPullError(pull.rest, pull.image);
  if (text.startsWith('Error: ')) {
    const error = text.slice('Error: '.length);
    if (isSecretDecodeError(error)) return plain('secret-malformed', undefined, error.trim());
    const cause = SUMMARY_CAUSES[error.trim()];
    return cause === undefined ? undefined : plain(cause, undefined);
  }
  if (text.startsWith('image pull failed for ') && text.includes('because the registry is unavailable')) {
    return { ...classifyPullError(text), cause: 'network' };
  }
  // Container waiting states carry the runtime's error bare (reason ErrImagePull) or a back-off line.
  if (reason === 'ImagePullBackOff') {
    const backOff = imageAndRest(text, BACK_OFF_PULLING);
    return backOff === undefined ? plain('backoff', undefined, text === '' ? undefined : text) : backOffClassification(backOff.image, backOff.rest);
  }
  if (reason === 'RegistryUnavailable') return { ...classifyPullError(text), cause: 'network' };
  if (reason === 'ErrImagePull') return classifyPullError(text);
  return undefined;
}

/** `Unable to retrieve some image pull secrets (a, b); attempting ...` -> [a, b]. */
function secretNames(text: string): string[] {
  const open = text.indexOf('(');
  const close = open < 0 ? -1 : text.indexOf(')', open);
  if (close < 0) return [];
  return text
    .slice(open + 1, close)
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
}

/** Waiting reasons of a container that are about its image. */
const IMAGE_WAITING_REASONS: ReadonlySet<string> = new Set([
  'ErrImagePull',
  'ImagePullBackOff',
  'ErrImageNeverPull',
  'InvalidImageName',
  'RegistryUnavailable',
  'ImageInspectError',
  'SignatureValidationFailed',
]);

/**
 * Classifies a container's `state.waiting` (reason, message). Undefined when the container is not
 * waiting for its image (ContainerCreating, CrashLoopBackOff, ...).
 */
export function classifyWaitingState(reason: string, message: string): PullEventClassification | undefined {
  // A kubelet that cannot even build the pod's keyring (an undecodable pull secret) puts the Go
  // error itself in the reason: `illegal base64 data at input byte 3`. Reasons are CamelCase words.
  if (/[\s:]/.test(reason)) return plain(isSecretDecodeError(reason) ? 'secret-malformed' : 'unknown', undefined, message || reason);
  if (!IMAGE_WAITING_REASONS.has(reason)) return undefined;
  if (reason === 'ErrImageNeverPull') return plain('never-pull', quotedAfter(message, 'Container image '), message || undefined);
  if (reason === 'InvalidImageName') return plain('invalid-name', undefined, message || undefined);
  if (reason === 'ImageInspectError' || reason === 'SignatureValidationFailed') return plain('unknown', undefined, message || undefined);
  return failedClassification(reason, message) ?? plain(reason === 'ImagePullBackOff' ? 'backoff' : 'unknown', undefined, message || undefined);
}
