import { imageTarget, lookupKeyring } from '../credentials/keyring.ts';
import type { KeyringMatch, PullSecretView, WorkMeter } from '../credentials/types.ts';

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

/** An answer with the work it cost: a remembered answer charges the meter that much again. */
interface Remembered {
  readonly found: readonly NamespaceKeyMatch[];
  readonly cost: number;
}

const NONE: readonly NamespaceKeyMatch[] = Object.freeze([]);

// Keyed by the namespace's frozen pull-secret array: a changed namespace gets a new array, so an
// answer is never stale, and a dropped snapshot frees its memos. Each memo is a Map emptied when
// full (no bookkeeping on a hit), holding image names up to NAMESPACE_MATCH_MEMO_MAX_CHARS: there
// is no way to read it but through namespaceKeyMatches(), which charges every answer to a meter.
const memos = new WeakMap<readonly PullSecretView[], Map<string, Remembered>>();

/** The answer, charged to `meter`; an answer cut short by its budget answers nothing (as lookupKeyring does). */
function compute(pullSecrets: readonly PullSecretView[], imageName: string, meter: WorkMeter): readonly NamespaceKeyMatch[] {
  const found: NamespaceKeyMatch[] = [];
  // Compiled once for every secret: a long name is not parsed again per secret.
  const target = imageTarget(imageName);
  for (const view of pullSecrets) {
    if (!view.usable) continue;
    const matches = lookupKeyring([view], target, meter);
    if (matches.length > 0) found.push(Object.freeze({ view, matches: Object.freeze(matches) }));
  }
  return meter.spent > meter.limit ? NONE : Object.freeze(found);
}

/**
 * The namespace's usable pull secrets (sorted by name) that have keys for the image, charged to
 * `meter` what the keyring lookups cost (glob steps included) whether computed now or remembered:
 * an answer is remembered with its cost and charges it again, so a warm decision is cut by the
 * budget exactly where a cold one is. An answer whose charge overspends the budget answers
 * nothing, computed or remembered; a computed one cut short is never remembered.
 */
export function namespaceKeyMatches(pullSecrets: readonly PullSecretView[], imageName: string, meter: WorkMeter): readonly NamespaceKeyMatch[] {
  if (pullSecrets.length === 0) return NONE;
  const rememberable = imageName.length <= NAMESPACE_MATCH_MEMO_MAX_CHARS;
  let memo = memos.get(pullSecrets);
  const known = rememberable ? memo?.get(imageName) : undefined;
  if (known !== undefined) {
    meter.spent += known.cost;
    return meter.spent > meter.limit ? NONE : known.found;
  }
  const before = meter.spent;
  const found = compute(pullSecrets, imageName, meter);
  if (rememberable && meter.spent <= meter.limit) {
    if (memo === undefined) {
      memo = new Map();
      memos.set(pullSecrets, memo);
    } else if (memo.size >= NAMESPACE_MATCH_MEMO_ENTRIES) {
      memo.clear();
    }
    memo.set(imageName, { found, cost: meter.spent - before });
  }
  return found;
}
