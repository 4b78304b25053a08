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
  return Buffer.from(JSON.stringify(operations)).toString('base64');
}
