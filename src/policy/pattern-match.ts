import { keyMatchesImage } from '../credentials/keyring.ts';

/**
 * How a policy pattern (`registries[].hosts`, `exemptImages`) matches an image name: the kubelet's
 * auths-key rules (per-label host globs, exact ports) except for the path, which must match whole
 * path components. `docker.io/acme` covers `docker.io/acme` and `docker.io/acme/app` but not
 * `docker.io/acmecorp/app`, which the kubelet's string-prefix rule for auths keys would let
 * through; a pattern ending in `/` keeps the plain prefix meaning. Auths keys themselves keep the
 * kubelet's exact rule (credentials/keyring.ts).
 *
 * `pattern` is a normalised key (parseKeyringKey), `imageName` is `domain/path`.
 */
export function policyPatternMatches(pattern: string, imageName: string): boolean {
  if (!keyMatchesImage(pattern, imageName)) return false;
  const patternSlash = pattern.indexOf('/');
  if (patternSlash < 0 || pattern.endsWith('/')) return true;
  const patternPath = pattern.slice(patternSlash);
  const imageSlash = imageName.indexOf('/');
  const imagePath = imageSlash < 0 ? '' : imageName.slice(imageSlash);
  // keyMatchesImage established that imagePath starts with patternPath.
  return imagePath.length === patternPath.length || imagePath.charAt(patternPath.length) === '/';
}
