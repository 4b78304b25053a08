import type { PodSpecRef } from '../workloads/extract.ts';

export type JsonPatchOperation = { op: 'add'; path: string; value: unknown };

/**
 * The minimal patch that adds `names` to the spec's imagePullSecrets: the whole array when the field
 * is absent, one append per name when it exists (never replacing a list another controller owns).
 * Names already listed are skipped, so applying the webhook twice yields an empty second patch.
 */
export function imagePullSecretsPatch(spec: PodSpecRef, names: readonly string[]): JsonPatchOperation[] {
  const missing = names.filter((name, index) => name !== '' && !spec.imagePullSecrets.includes(name) && names.indexOf(name) === index);
  if (missing.length === 0) return [];
  const path = `${spec.specPointer}/imagePullSecrets`;
  if (!spec.hasImagePullSecretsField) return [{ op: 'add', path, value: missing.map((name) => ({ name })) }];
  return missing.map((name) => ({ op: 'add' as const, path: `${path}/-`, value: { name } }));
}

export function encodePatch(operations: readonly JsonPatchOperation[]): string {
  const json = JSON.stringify(operations);
  // btoa encodes characters as Latin-1 bytes: the same as UTF-8 for ASCII, which every patch of
  // Kubernetes names is, and several times cheaper than a Buffer; anything else goes as UTF-8.
  return isAscii(json) ? btoa(json) : Buffer.from(json).toString('base64');
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}
