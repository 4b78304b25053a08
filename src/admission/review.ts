import { sliceWhole } from '../decide/messages.ts';
import { isRecord } from '../workloads/extract.ts';

/** The parts of an AdmissionReview v1 request we read; everything is checked before use. */
export interface AdmissionRequest {
  readonly uid: string;
  readonly kind: { readonly group: string; readonly version: string; readonly kind: string };
  readonly resource: { readonly group: string; readonly version: string; readonly resource: string };
  readonly subResource: string;
  readonly name: string;
  readonly namespace: string;
  readonly operation: string;
  readonly object: unknown;
  readonly oldObject: unknown;
  readonly dryRun: boolean;
  /** request.userInfo.username ('' when absent): who sent the object (mirror pods come from `system:node:*`). */
  readonly username: string;
}

export class MalformedReviewError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedReviewError';
  }
}

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';

/**
 * A malformed field is quoted to show what was sent, not to send it back: a 7 MiB string must not
 * make a 7 MiB answer (nor a log line the log pipe drops), so at most this many characters of it.
 */
export const ECHOED_VALUE_MAX_CHARS = 64;

/**
 * What a malformed field holds, for an error message: a short string or scalar as JSON, otherwise
 * its type. Never walks into the value, so a `kind` nested a million levels deep (which would
 * overflow the stack of JSON.stringify) costs nothing.
 */
export function describeValue(value: unknown): string {
  if (value === undefined || value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string':
      return value.length <= ECHOED_VALUE_MAX_CHARS
        ? JSON.stringify(value)
        : `${JSON.stringify(sliceWhole(value, 0, ECHOED_VALUE_MAX_CHARS))}… (${value.length} characters)`;
    case 'number':
    case 'boolean':
      return String(value);
    default:
      return 'an object';
  }
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

// One function per shape (not one keyed by field names): objects with fixed literal keys share a
// hidden class, which keeps every later read of them fast.
const NO_KIND: AdmissionRequest['kind'] = Object.freeze({ group: '', version: '', kind: '' });
const NO_RESOURCE: AdmissionRequest['resource'] = Object.freeze({ group: '', version: '', resource: '' });

function groupVersionKind(value: unknown): AdmissionRequest['kind'] {
  if (value === undefined) return NO_KIND;
  if (!isRecord(value)) throw new MalformedReviewError('request.kind must be an object');
  return { group: str(value['group']), version: str(value['version']), kind: str(value['kind']) };
}

function groupVersionResource(value: unknown): AdmissionRequest['resource'] {
  if (value === undefined) return NO_RESOURCE;
  if (!isRecord(value)) throw new MalformedReviewError('request.resource must be an object');
  return { group: str(value['group']), version: str(value['version']), resource: str(value['resource']) };
}

const OPTIONAL_STRING_FIELDS = ['name', 'namespace', 'subResource'] as const;

/**
 * Checks an AdmissionReview body and returns its request. Anything the API server would never send
 * (wrong apiVersion, no uid, wrong types) is a MalformedReviewError, which the server maps to HTTP 400.
 */
export function decodeAdmissionReview(body: unknown): AdmissionRequest {
  if (!isRecord(body)) throw new MalformedReviewError('body must be a JSON object (an AdmissionReview)');
  if (body['kind'] !== 'AdmissionReview') throw new MalformedReviewError(`kind must be AdmissionReview, got ${describeValue(body['kind'])}`);
  if (body['apiVersion'] !== ADMISSION_API_VERSION) {
    throw new MalformedReviewError(`apiVersion must be ${ADMISSION_API_VERSION} (v1beta1 was removed in Kubernetes 1.22), got ${describeValue(body['apiVersion'])}`);
  }
  const request = body['request'];
  if (!isRecord(request)) throw new MalformedReviewError('request must be an object');
  const uid = request['uid'];
  if (typeof uid !== 'string' || uid === '') throw new MalformedReviewError('request.uid must be a non-empty string');
  const operation = request['operation'];
  if (typeof operation !== 'string' || operation === '') throw new MalformedReviewError('request.operation must be a string');
  if (request['dryRun'] !== undefined && typeof request['dryRun'] !== 'boolean') throw new MalformedReviewError('request.dryRun must be a boolean');
  for (const field of OPTIONAL_STRING_FIELDS) {
    if (request[field] !== undefined && typeof request[field] !== 'string') throw new MalformedReviewError(`request.${field} must be a string`);
  }
  const kind = groupVersionKind(request['kind']);
  const resource = groupVersionResource(request['resource']);
  return {
    uid,
    kind,
    resource,
    subResource: str(request['subResource']),
    name: str(request['name']),
    namespace: str(request['namespace']),
    operation,
    object: request['object'],
    oldObject: request['oldObject'],
    dryRun: request['dryRun'] === true,
    username: isRecord(request['userInfo']) ? str(request['userInfo']['username']) : '',
  };
}

export interface AdmissionResponseBody {
  uid: string;
  allowed: boolean;
  status?: { code: number; reason?: string; message: string };
  patch?: string;
  patchType?: 'JSONPatch';
  warnings?: string[];
  auditAnnotations?: Record<string, string>;
}

export interface AdmissionReviewResponse {
  apiVersion: typeof ADMISSION_API_VERSION;
  kind: 'AdmissionReview';
  response: AdmissionResponseBody;
}

export function reviewResponse(response: AdmissionResponseBody): AdmissionReviewResponse {
  return { apiVersion: ADMISSION_API_VERSION, kind: 'AdmissionReview', response };
}
