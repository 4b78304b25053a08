/**
 * What one review may hold. The body limit (7 MiB) bounds the bytes, not what a decision builds
 * from them: 120,000 one-line containers fit in 7 MiB and made a 386 MB peak. Beyond these limits a
 * review is refused with HTTP 400 before anything is decided, so the peak memory of the worst
 * review the limits allow is known (README: Memory) and the chart's memory limit is set from it.
 * The README's review-limits table reads these same constants.
 */
import { isRecord, podSpecOf, CONTAINER_GROUPS } from '../workloads/extract.ts';
import type { PodTemplateKinds } from '../workloads/pod-templates.ts';
import { MalformedReviewError, type AdmissionRequest } from './review.ts';

/** Containers of one pod spec, init and ephemeral included: Kubernetes sets no limit, real pods have tens (ephemeral containers from `kubectl debug` accumulate, but not by hundreds); 120,000 made a 386 MB peak. */
export const REVIEW_MAX_CONTAINERS = 1_000;

/** imagePullSecrets entries of one pod spec: real pods list a handful; each entry is resolved against the snapshot and may become a finding. */
export const REVIEW_MAX_IMAGE_PULL_SECRETS = 1_000;

/** Characters of an image, a container name, a pull-secret name or a ServiceAccount name: names are at most 253 characters (DNS subdomain) and no valid image reference is longer than about 800 (253-character host, port, 255-character path, 128-character tag, sha512 digest). */
export const REVIEW_MAX_NAME_CHARS = 2_048;

/** JSON objects and arrays in one request body, anywhere in it (fields pullguard never reads too): each costs ~100 bytes once parsed, so 2.4 million `{}` in 7 MiB made a 351 MiB peak; an UPDATE of a custom resource that keeps unknown fields, both objects at etcd's 1.5 MiB and made of nothing but `[]` (3 characters with its comma), holds ~1,050,000. */
export const REVIEW_MAX_JSON_CONTAINERS = 1_100_000;

/** A review over a limit: still a 400 (the API server never sends one), with what was over and by how much. */
export class ReviewLimitError extends MalformedReviewError {
  constructor(message: string) {
    super(message);
    this.name = 'ReviewLimitError';
  }
}

/**
 * Throws ReviewLimitError when the object or oldObject of `request` holds more than a review may.
 * Bounds every pod spec admit() may decide: a built-in workload kind's, and a custom resource's
 * that `podTemplates` (the policy's resolver, `policy.podTemplates`: the policy's
 * workloads.podTemplates and the built-in Argo Rollout, Knative and KEDA entries) locates, found by
 * the same lookup admit() extracts it with. Reads array lengths before anything else, so an
 * oversized list costs nothing to refuse.
 */
export function checkReviewLimits(request: AdmissionRequest, podTemplates: PodTemplateKinds): void {
  checkObject(request.object, 'request.object', podTemplates);
  checkObject(request.oldObject, 'request.oldObject', podTemplates);
}

/** The raw pod spec admit() would decide in `object` (a built-in kind's first, as admit() does), or undefined. */
function reviewedSpecOf(object: unknown, podTemplates: PodTemplateKinds): { readonly spec: Record<string, unknown>; readonly path: string } | undefined {
  return podSpecOf(object) ?? (isRecord(object) ? podTemplates.podSpecOf(object) : undefined);
}

function checkObject(object: unknown, where: string, podTemplates: PodTemplateKinds): void {
  const found = reviewedSpecOf(object, podTemplates);
  if (found === undefined) return;
  const { spec, path } = found;
  const field = `${where}.${path}`;
  let containers = 0;
  for (const group of CONTAINER_GROUPS) {
    const list = spec[group];
    if (Array.isArray(list)) containers += list.length;
  }
  if (containers > REVIEW_MAX_CONTAINERS) {
    throw new ReviewLimitError(`${field} has ${containers} containers; pullguard reviews pod specs of at most ${REVIEW_MAX_CONTAINERS} (REVIEW_MAX_CONTAINERS)`);
  }
  const secrets = spec['imagePullSecrets'];
  if (Array.isArray(secrets)) {
    if (secrets.length > REVIEW_MAX_IMAGE_PULL_SECRETS) {
      throw new ReviewLimitError(`${field}.imagePullSecrets has ${secrets.length} entries; pullguard reviews at most ${REVIEW_MAX_IMAGE_PULL_SECRETS} (REVIEW_MAX_IMAGE_PULL_SECRETS)`);
    }
    for (let index = 0; index < secrets.length; index++) {
      const entry: unknown = secrets[index];
      if (isRecord(entry)) checkName(entry['name'], field, 'imagePullSecrets', index, 'name');
    }
  }
  checkName(spec['serviceAccountName'], field, 'serviceAccountName');
  checkName(spec['serviceAccount'], field, 'serviceAccount');
  for (const group of CONTAINER_GROUPS) {
    const list = spec[group];
    if (!Array.isArray(list)) continue;
    for (let index = 0; index < list.length; index++) {
      const entry: unknown = list[index];
      if (!isRecord(entry)) continue;
      checkName(entry['name'], field, group, index, 'name');
      checkName(entry['image'], field, group, index, 'image');
    }
  }
}

/** The field path is built only for the message: on every review, no string is made for a name that fits. */
function checkName(value: unknown, spec: string, name: string, index?: number, member?: string): void {
  if (typeof value === 'string' && value.length > REVIEW_MAX_NAME_CHARS) {
    const field = index === undefined ? `${spec}.${name}` : `${spec}.${name}[${index}].${member ?? ''}`;
    throw new ReviewLimitError(`${field} is ${value.length} characters; pullguard reviews names and images of at most ${REVIEW_MAX_NAME_CHARS} (REVIEW_MAX_NAME_CHARS)`);
  }
}

/** Each JSON object or array takes at least two characters, its brackets: a shorter body cannot be over the limit, and is not scanned. */
const SCAN_FROM_CHARS = 2 * REVIEW_MAX_JSON_CONTAINERS;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;

/**
 * Throws ReviewLimitError when the JSON text holds more than REVIEW_MAX_JSON_CONTAINERS objects
 * and arrays, before it is parsed: the body limit bounds bytes, and 7 MiB of `{}` in a field no
 * decision reads (`request.dryRun`, `spec.volumes`) parses into 2.4 million objects. One pass over
 * the text outside its strings, stopping at the first container over the limit; bodies under
 * SCAN_FROM_CHARS (every review the API server sends in practice) cost one comparison. The text is
 * not validated here: JSON.parse does that after.
 */
export function checkJsonBodyLimits(text: string): void {
  if (text.length < SCAN_FROM_CHARS) return;
  let containers = 0;
  const length = text.length;
  for (let at = 0; at < length; at++) {
    const code = text.charCodeAt(at);
    if (code === QUOTE) {
      // Skip the string: to the next quote that no backslash escapes.
      for (at++; at < length; at++) {
        const inner = text.charCodeAt(at);
        if (inner === BACKSLASH) at++;
        else if (inner === QUOTE) break;
      }
    } else if ((code === OPEN_BRACE || code === OPEN_BRACKET) && ++containers > REVIEW_MAX_JSON_CONTAINERS) {
      throw new ReviewLimitError(`the request body holds more than ${REVIEW_MAX_JSON_CONTAINERS} JSON objects and arrays; pullguard reviews at most ${REVIEW_MAX_JSON_CONTAINERS} (REVIEW_MAX_JSON_CONTAINERS)`);
    }
  }
}
