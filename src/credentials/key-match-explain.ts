import { binaryToDisplay, utf8Binary } from './go-bytes.ts';
import { compileGlob, globMatches, isLiteralPattern } from './go-glob.ts';
import { parseGoUrl, splitHostPort } from './go-url.ts';
import { DOCKER_HUB_FALLBACK_KEY, isDockerHubImage } from './keyring.ts';

/**
 * Why one stored auths key does or does not match an image name, in the kubelet's own order of
 * checks (keyring.go URLsMatch): label count, port, path prefix, then each host label's glob.
 * For `explain` only; the decision uses keyring.ts, and a property test keeps both in agreement.
 */

export type KeyMatchVerdict =
  /** The key matches the image. */
  | 'match'
  /** The key does not parse as a URL (or a label is a malformed glob): it never matches. */
  | 'key-unusable'
  /** The hosts have a different number of dot-separated labels (`*` never crosses a dot). */
  | 'label-count'
  /** The ports differ as strings (no port is not `:443`). */
  | 'port'
  /** The key's path is not a string prefix of the image's path. */
  | 'path-prefix'
  /** A host label does not glob-match. */
  | 'label-glob';

export interface KeyMatchExplanation {
  readonly matches: boolean;
  readonly verdict: KeyMatchVerdict;
  /** One short sentence for a person, naming the part that differs. */
  readonly detail: string;
  /** True when the key is used only through the Docker Hub fallback (`index.docker.io`). */
  readonly viaDockerHubFallback: boolean;
}

function show(bytes: string): string {
  return JSON.stringify(binaryToDisplay(bytes));
}

/**
 * Explains `keyMatchesImage(key, imageName)`: `key` is a stored (normalised) keyring key,
 * `imageName` is `domain/path` without tag or digest.
 */
export function explainKeyMatch(key: string, imageName: string): KeyMatchExplanation {
  const keyUrl = parseGoUrl('https://' + utf8Binary(key));
  const imageUrl = parseGoUrl('https://' + utf8Binary(imageName));
  if (keyUrl === undefined) return miss('key-unusable', 'the key does not parse as a URL, so the kubelet never matches it');
  if (imageUrl === undefined) return miss('key-unusable', 'the image name does not parse as a URL');
  const keyHost = splitHostPort(keyUrl.host);
  const imageHost = splitHostPort(imageUrl.host);
  const keyLabels = keyHost.host.split('.');
  const imageLabels = imageHost.host.split('.');
  if (keyLabels.length !== imageLabels.length) {
    return miss(
      'label-count',
      `host ${show(keyHost.host)} has ${keyLabels.length} dot-separated labels, the image's ${show(imageHost.host)} ${imageLabels.length} (* never crosses a dot)`,
    );
  }
  const globs = keyLabels.map((label) => (isLiteralPattern(label) ? label : compileGlob(label)));
  const broken = globs.findIndex((glob) => typeof glob !== 'string' && !glob.valid);
  if (broken >= 0) return miss('key-unusable', `label ${show(keyLabels[broken] as string)} is not a valid pattern, so the kubelet never matches the key`);
  if (keyHost.port !== imageHost.port) {
    const port = (value: string): string => (value === '' ? 'no port' : `port ${value}`);
    return miss('port', `the key has ${port(keyHost.port)}, the image ${port(imageHost.port)} (no port is not :443)`);
  }
  if (!imageUrl.path.startsWith(keyUrl.path)) {
    return miss('path-prefix', `the key's path ${show(keyUrl.path)} is not a prefix of the image's path ${show(imageUrl.path)}`);
  }
  for (let i = 0; i < globs.length; i++) {
    const glob = globs[i] as string | ReturnType<typeof compileGlob>;
    const label = imageLabels[i] as string;
    const matches = typeof glob === 'string' ? glob === label : globMatches(glob, label);
    if (!matches) return miss('label-glob', `label ${show(keyLabels[i] as string)} does not match ${show(label)}`);
  }
  const path = keyUrl.path === '' ? '' : `, path prefix ${show(keyUrl.path)}`;
  return { matches: true, verdict: 'match', detail: `host, port${path} match`, viaDockerHubFallback: false };
}

/**
 * explainKeyMatch plus the Docker Hub fallback: when no key of the keyring matched (`anyMatched`
 * false) and the image is a Docker Hub image, a key stored as exactly `index.docker.io` is used.
 */
export function explainKeyForImage(key: string, imageName: string, anyMatched: boolean): KeyMatchExplanation {
  const direct = explainKeyMatch(key, imageName);
  if (direct.matches || anyMatched || key !== DOCKER_HUB_FALLBACK_KEY || !isDockerHubImage(imageName)) return direct;
  return {
    matches: true,
    verdict: 'match',
    detail: 'used through the Docker Hub fallback: no key matched and the key is exactly index.docker.io',
    viaDockerHubFallback: true,
  };
}

function miss(verdict: Exclude<KeyMatchVerdict, 'match'>, detail: string): KeyMatchExplanation {
  return { matches: false, verdict, detail, viaDockerHubFallback: false };
}
