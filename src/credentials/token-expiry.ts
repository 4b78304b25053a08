import { decodeGoBase64 } from './go-base64.ts';
import type { CredentialFacts } from './keyring.ts';

/** Username of ECR tokens (`aws ecr get-login-password` logs in as `AWS`). */
export const ECR_USERNAME = 'AWS';
/** Username of Google access tokens (GCR / Artifact Registry); they last about an hour. */
export const GOOGLE_ACCESS_TOKEN_USERNAME = 'oauth2accesstoken';

const MS_PER_SECOND = 1000;
/** Largest epoch-milliseconds value a JS Date accepts (ECMA-262 TimeClip). */
const MAX_EPOCH_MS = 8.64e15;

const textDecoder = new TextDecoder();

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * An ECR token is base64 of a JSON envelope `{payload, datakey, version, type, expiration}` whose
 * `expiration` is an epoch in seconds (aws-controllers-k8s/code-generator#196). Returns the
 * expiry in epoch milliseconds, or undefined when the password is not such an envelope.
 */
function ecrTokenExpiresAt(password: string): number | undefined {
  const bytes = decodeGoBase64(password, password.endsWith('='));
  if (bytes === undefined) return undefined;
  let envelope: unknown;
  try {
    envelope = JSON.parse(textDecoder.decode(bytes));
  } catch {
    return undefined;
  } finally {
    bytes.fill(0);
  }
  if (!isRecord(envelope) || typeof envelope['payload'] !== 'string') return undefined;
  const expiration = envelope['expiration'];
  if (typeof expiration !== 'number' || !Number.isFinite(expiration) || expiration <= 0) return undefined;
  const expiresAt = expiration * MS_PER_SECOND;
  return expiresAt <= MAX_EPOCH_MS ? expiresAt : undefined;
}

/**
 * What can be said about a credential without keeping it: whether it is a short-lived token,
 * its provable expiry, and whether it is empty (the runtime then pulls anonymously). The caller
 * drops `username` and `password` right after.
 */
export function credentialFacts(username: string, password: string): CredentialFacts {
  const anonymous = username === '' && password === '';
  if (username === GOOGLE_ACCESS_TOKEN_USERNAME) return { expiresAt: undefined, shortLived: true, anonymous };
  if (username === ECR_USERNAME) {
    const expiresAt = ecrTokenExpiresAt(password);
    if (expiresAt !== undefined) return { expiresAt, shortLived: true, anonymous };
  }
  return { expiresAt: undefined, shortLived: false, anonymous };
}
