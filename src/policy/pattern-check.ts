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
  const dockerHub = indexDockerIoFix(key);
  if (dockerHub !== undefined) {
    return `image references rewrite index.docker.io to docker.io, so no image has this host; write "${dockerHub}"`;
  }
  // Go's url.Parse has already refused non-numeric ports.
  const slash = key.indexOf('/');
  const path = slash < 0 ? '' : key.slice(slash + 1);
  if (/[:@]/.test(path)) return 'patterns match image names, which carry no tag or digest: drop the ":tag" or "@digest"';
  if (/[A-Z]/.test(path)) return 'repository paths of images are lower-case, so an upper-case path never matches';
  return undefined;
}

/**
 * `index.docker.io[/path]` as the docker.io pattern that means what was meant, or undefined for a
 * key of another host. Image references never keep the index.docker.io host
 * (distribution/reference rewrites it), so a policy pattern on it is dead.
 */
function indexDockerIoFix(key: string): string | undefined {
  if (key !== 'index.docker.io' && !key.startsWith('index.docker.io/')) return undefined;
  return 'docker.io' + key.slice('index.docker.io'.length);
}

/**
 * Why an auths key of a pull secret can never match any image, or undefined when it can. Unlike a
 * policy pattern, a bare `index.docker.io` key works (the kubelet's Docker Hub fallback reads
 * exactly it), but `index.docker.io/acme` matches nothing: no image has that host and the fallback
 * wants the bare key. Other dead forms are those of unmatchablePatternReason.
 */
export function unmatchableAuthsKeyReason(raw: string): string | undefined {
  const key = parseKeyringKey(raw);
  if (key !== undefined && key !== 'index.docker.io' && key.startsWith('index.docker.io/')) {
    return `image references rewrite index.docker.io to docker.io, and the Docker Hub fallback reads only the bare https://index.docker.io/v1/ key; write "${indexDockerIoFix(key) ?? 'docker.io'}"`;
  }
  if (key === 'index.docker.io') return undefined;
  return unmatchablePatternReason(raw);
}
