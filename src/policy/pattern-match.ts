import { compileKeyPattern, keyMatchesImage, keyPatternMatches, type ImageTarget, type KeyPattern } from '../credentials/keyring.ts';

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
  return keyMatchesImage(pattern, imageName) && wholeComponents(patternPathOf(pattern), imageName);
}

/** A policy pattern compiled once (PolicyResolver): matched against many images without re-parsing it. */
export interface CompiledPolicyPattern {
  readonly pattern: string;
  readonly key: KeyPattern;
  /** The pattern's path (`/acme`) when it must end at a component boundary of the image's; else undefined. */
  readonly componentPath: string | undefined;
}

export function compilePolicyPattern(pattern: string): CompiledPolicyPattern {
  return { pattern, key: compileKeyPattern(pattern), componentPath: patternPathOf(pattern) };
}

/** policyPatternMatches(compiled.pattern, target.name), with the image compiled once by the caller (imageTarget). */
export function compiledPolicyPatternMatches(compiled: CompiledPolicyPattern, target: ImageTarget): boolean {
  return keyPatternMatches(compiled.key, target) && wholeComponents(compiled.componentPath, target.name);
}

function patternPathOf(pattern: string): string | undefined {
  const patternSlash = pattern.indexOf('/');
  if (patternSlash < 0 || pattern.endsWith('/')) return undefined;
  return pattern.slice(patternSlash);
}

/** Given that the key matched (so the image's path starts with patternPath): does the match end at a component boundary? */
function wholeComponents(patternPath: string | undefined, imageName: string): boolean {
  if (patternPath === undefined) return true;
  const imageSlash = imageName.indexOf('/');
  const imagePath = imageSlash < 0 ? '' : imageName.slice(imageSlash);
  return imagePath.length === patternPath.length || imagePath.charAt(patternPath.length) === '/';
}
