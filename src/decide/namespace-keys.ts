import { imageTarget, lookupKeyring } from '../credentials/keyring.ts';
import type { KeyringMatch, PullSecretView, WorkMeter } from '../credentials/types.ts';
import { StringMemo } from '../image/string-memo.ts';

/**
 * Which of a namespace's pull secrets hold keys the kubelet would use for an image, each secret
 * looked up alone (its direct matches, else its `index.docker.io` fallback). Decisions ask this
 * for every image of a well-known public registry (is it private here?) and for every uncovered
 * image (which secret to inject), so the answer is remembered per namespace state and image name.
 */
export interface NamespaceKeyMatch {
  readonly view: PullSecretView;
  /** The secret's keyring matches for the image, in kubelet order; never empty. */
  readonly matches: readonly KeyringMatch[];
}

/** Image names remembered per namespace state; a namespace uses a few dozen images. */
export const NAMESPACE_MATCH_MEMO_ENTRIES = 256;
const NAMESPACE_MATCH_MEMO_MAX_CHARS = 256;

// Keyed by the namespace's frozen pull-secret array: a changed namespace gets a new array, so an
// answer is never stale, and a dropped snapshot frees its memos.
const memos = new WeakMap<readonly PullSecretView[], StringMemo<readonly NamespaceKeyMatch[]>>();

function compute(pullSecrets: readonly PullSecretView[], imageName: string, meter: WorkMeter | undefined): readonly NamespaceKeyMatch[] {
  const found: NamespaceKeyMatch[] = [];
  // Compiled once for every secret: a long name is not parsed again per secret.
  const target = imageTarget(imageName);
  for (const view of pullSecrets) {
    if (!view.usable) continue;
    const matches = lookupKeyring([view], target, meter);
    if (matches.length > 0) found.push(Object.freeze({ view, matches: Object.freeze(matches) }));
  }
  return Object.freeze(found);
}

/**
 * The namespace's usable pull secrets (sorted by name) that have keys for the image. A computed
 * answer charges its keyring work (glob steps included) to `meter`; an answer cut short by the
 * budget is incomplete, so it is returned (the caller sees the budget spent) but never remembered.
 */
export function namespaceKeyMatches(pullSecrets: readonly PullSecretView[], imageName: string, meter?: WorkMeter): readonly NamespaceKeyMatch[] {
  if (pullSecrets.length === 0) return [];
  let memo = memos.get(pullSecrets);
  if (memo === undefined) {
    memo = new StringMemo((name) => compute(pullSecrets, name, undefined), { maxEntries: NAMESPACE_MATCH_MEMO_ENTRIES, maxKeyChars: NAMESPACE_MATCH_MEMO_MAX_CHARS });
    memos.set(pullSecrets, memo);
  }
  if (meter === undefined) return memo.get(imageName);
  const known = memo.peek(imageName);
  if (known !== undefined) return known;
  const computed = compute(pullSecrets, imageName, meter);
  if (meter.spent <= meter.limit) memo.remember(imageName, computed);
  return computed;
}
