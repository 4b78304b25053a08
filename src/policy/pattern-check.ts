import { parseKeyringKey } from '../credentials/keyring.ts';

/**
 * Why a registry pattern (kubelet auths-key syntax) can never match an image name, or undefined
 * when it can. Such a pattern is almost always a typo that silently leaves a rule dead, so the
 * policy is rejected instead: `quay.io/team/app:1.0` (names carry no tag), `host:https` (Go's
 * url.Parse refuses the port), `HTTPS://host` (the kubelet strips only a lower-case scheme).
 */
export function unmatchablePatternReason(pattern: string): string | undefined {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(pattern);
  if (scheme !== null && scheme[1] !== 'https' && scheme[1] !== 'http') {
    return `scheme ${scheme[1]}:// is not stripped by the kubelet (only lower-case https:// and http:// are); drop it`;
  }
  const key = parseKeyringKey(pattern);
  if (key === undefined) return 'the kubelet cannot parse it as a URL, so it would never match';
  // Go's url.Parse has already refused non-numeric ports.
  const slash = key.indexOf('/');
  const path = slash < 0 ? '' : key.slice(slash + 1);
  if (/[:@]/.test(path)) return 'patterns match image names, which carry no tag or digest: drop the ":tag" or "@digest"';
  if (/[A-Z]/.test(path)) return 'repository paths of images are lower-case, so an upper-case path never matches';
  return undefined;
}
