/** The two secret types the kubelet reads pull credentials from, and the data key each requires. */
export const DOCKER_CONFIG_JSON_TYPE = 'kubernetes.io/dockerconfigjson';
export const DOCKER_CONFIG_JSON_KEY = '.dockerconfigjson';
export const DOCKER_CFG_TYPE = 'kubernetes.io/dockercfg';
export const DOCKER_CFG_KEY = '.dockercfg';

/** Why the kubelet would not (or could not) use a secret. */
export type PullSecretProblem =
  /** Type is not one of the two pull-secret types, or the type's data key is missing/empty. */
  | { readonly kind: 'wrong-type'; readonly detail: string }
  /** Payload undecodable: the kubelet fails the whole pull for the pod (no credentials at all). */
  | { readonly kind: 'malformed'; readonly detail: string };

/**
 * One auths key as the kubelet's keyring stores it, after scheme and /v1/ /v2/ stripping.
 * Holds no credential material.
 */
export interface CredentialKey {
  /** The key as written in the secret, with userinfo, query and fragment redacted (redactAuthsKey). */
  readonly raw: string;
  /** Normalised keyring key: host[:port][/path], e.g. `index.docker.io`, `quay.io/team`. */
  readonly key: string;
  /** Earliest expiry (epoch milliseconds) provable from the entry (ECR envelope), else undefined. */
  readonly expiresAt: number | undefined;
  /** True when the credential is known to be a short-lived token (e.g. `oauth2accesstoken`). */
  readonly shortLived: boolean;
  /**
   * True when the entry yields an empty username and password (`{}`, `null`, or only fields the
   * kubelet ignores such as `identitytoken`): the key still matches, but the runtime then pulls
   * anonymously, so it does not open a private repository.
   */
  readonly anonymous: boolean;
}

/** What decisions need to know about one secret. Never holds passwords or `auth` values. */
export interface PullSecretView {
  readonly name: string;
  /** The secret's type as stored (`Opaque`, `kubernetes.io/dockerconfigjson`, ...). */
  readonly type: string;
  /** True when the kubelet would read keys from it (right type, data key present, parseable). */
  readonly usable: boolean;
  readonly problem: PullSecretProblem | undefined;
  /** Keys in the order the secret lists them (duplicates: last wins, as Go's JSON decoding). */
  readonly keys: readonly CredentialKey[];
  /** Earliest expiry over all keys, epoch ms, or undefined when none is provable. */
  readonly expiresAt: number | undefined;
}

/** One credential the kubelet's keyring would hand the runtime for an image, in kubelet order. */
export interface KeyringMatch {
  readonly secret: string;
  readonly key: CredentialKey;
  /** True when the match came from the Docker Hub `index.docker.io` fallback. */
  readonly viaDockerHubFallback: boolean;
}

/**
 * The work allowance of one decision, shared by its keyring lookups: comparing a key costs one
 * unit (walking a secret without keys, one too) and its glob steps one unit each. Once `spent` exceeds `limit`, lookups compare nothing
 * and return no match; the caller must then treat the answer as unknown (see decide's budget).
 */
export interface WorkMeter {
  spent: number;
  readonly limit: number;
}
