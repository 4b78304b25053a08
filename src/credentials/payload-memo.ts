import { createHmac, randomBytes } from 'node:crypto';
import type { CredentialKey, PullSecretProblem } from './types.ts';

/**
 * Decoded pull-secret payloads, remembered by a keyed digest of the payload. Real clusters hold
 * the same pull secret in many namespaces (copied by reflector, external-secrets or a CI job),
 * and the live informers relist every secret: each copy after the first costs one HMAC instead
 * of a Go-exact base64 and JSON decode.
 *
 * Nothing kept is a credential or derived from one in a usable way: an entry holds the keys
 * (redacted, as every view keeps them) and the problem, and is found by HMAC-SHA256 under a key
 * drawn at random when the process starts and never exported, so a digest seen in a heap dump
 * cannot be tested against guessed passwords. The key stays a Buffer: its bytes live outside the
 * JavaScript heap, so a heap snapshot, which holds every string and the digests, never holds the
 * key (a string key, tried once for speed, put both in the same snapshot; a test now looks).
 * The raw payload is never stored.
 *
 * Bounded in entries (emptied when full, like StringMemo: a flood of distinct secrets costs what
 * it costs without the memo); payloads longer than MAX_PAYLOAD_CHARS are decoded every time.
 */

/** What a payload decodes to, for any secret carrying it. */
export interface DecodedPayload {
  readonly keys: readonly CredentialKey[];
  readonly problem: PullSecretProblem | undefined;
}

/** Distinct payloads remembered: far more than the pull secrets of any cluster share. */
export const PAYLOAD_MEMO_ENTRIES = 4096;
/** Larger payloads (no real dockerconfig is near this) are not worth keeping an entry for. */
export const MAX_PAYLOAD_CHARS = 64 * 1024;

const digestKey = randomBytes(32);
const entries = new Map<string, DecodedPayload>();

/**
 * The memo key of a payload: its form (where it came from and how it is encoded, which change
 * how the same text decodes) and its text. Undefined when the payload is too long to keep.
 */
export function payloadDigest(form: string, payload: string): string | undefined {
  if (payload.length > MAX_PAYLOAD_CHARS) return undefined;
  return createHmac('sha256', digestKey).update(form).update('\u0000').update(payload).digest('base64');
}

export function rememberedPayload(digest: string): DecodedPayload | undefined {
  return entries.get(digest);
}

export function rememberPayload(digest: string, decoded: DecodedPayload): void {
  if (entries.size >= PAYLOAD_MEMO_ENTRIES) entries.clear();
  entries.set(digest, decoded);
}

/** Entries held now (tests). */
export function payloadMemoSize(): number {
  return entries.size;
}
