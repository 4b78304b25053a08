import { randomBytes } from 'node:crypto';

/**
 * Fingerprints of objects as written, for "the copies differ": equal when two copies hold the same
 * fields and values, whatever order their keys were written in (a kustomize build and a hand-
 * written file order keys differently), different when any value differs.
 *
 * Computed for every workload read, so it must cost little next to parsing: one walk over the
 * tree that hashes as it goes (no canonical copy, no string of the whole object). Members of an
 * object are hashed one by one and summed, so their order does not count; arrays and strings are
 * hashed in order. Two 32-bit lanes with different multipliers, seeded at random per process.
 * This is not a cryptographic hash, and nothing relies on it being one: the audit only takes two
 * copies for one when their fingerprints are equal AND everything a decision reads is equal
 * (sameDecisionInputs in audit.ts). A collision, found by luck or written on purpose, can at worst
 * leave a difference in a field no decision reads unflagged; it never leaves a copy undecided.
 */

/**
 * Nodes (objects, arrays) one fingerprint may visit, aliases counted each time they are reached.
 * A Kubernetes object is at most 1.5 MiB in etcd, far fewer nodes than this; the cap is there for
 * YAML aliases, which can make a small file name an exponentially large tree ("billion laughs").
 */
export const MAX_FINGERPRINT_NODES = 1_000_000;

const seeds = randomBytes(8);
const SEED_A = seeds.readInt32LE(0);
const SEED_B = seeds.readInt32LE(4);

// Type tags, mixed before each value so that `"1"`, `1`, `[1]` and `{"1": ...}` differ.
const TAG_STRING = 1;
const TAG_NUMBER = 2;
const TAG_TRUE = 3;
const TAG_FALSE = 4;
const TAG_NULL = 5;
const TAG_ARRAY = 6;
const TAG_OBJECT = 7;
const TAG_MEMBER = 8;
const TAG_OTHER = 9;

class TooLarge extends Error {}

/** The walk's state: the two lanes being mixed and the nodes it may still visit. */
let laneA = 0;
let laneB = 0;
let nodesLeft = 0;

function mix(code: number): void {
  laneA = Math.imul(laneA ^ code, 0x01000193);
  laneB = Math.imul(laneB ^ code, 0x5bd1e995);
  laneB ^= laneB >>> 13;
}

function mixString(text: string): void {
  mix(TAG_STRING);
  mix(text.length);
  // The lanes in locals: this loop is where the time goes. Two UTF-16 units per step (the length
  // is mixed above, so an odd last unit cannot be confused with a pair).
  let a = laneA;
  let b = laneB;
  const length = text.length;
  let index = 0;
  for (; index + 1 < length; index += 2) {
    const code = text.charCodeAt(index) | (text.charCodeAt(index + 1) << 16);
    a = Math.imul(a ^ code, 0x01000193);
    b = Math.imul(b ^ code, 0x5bd1e995);
    b ^= b >>> 13;
  }
  if (index < length) {
    const code = text.charCodeAt(index);
    a = Math.imul(a ^ code, 0x01000193);
    b = Math.imul(b ^ code, 0x5bd1e995);
    b ^= b >>> 13;
  }
  laneA = a;
  laneB = b;
}

/**
 * Keys repeat across objects (`name`, `image`, `metadata`): the lanes after a member's key depend
 * on the key alone (fresh seeds, the member tag, the key), so they are computed once per distinct
 * key and looked up after that. Parsed keys are internalized strings, so the lookup is cheap.
 * Bounded: emptied when full, like the other memos.
 */
const MAX_KEY_STATES = 4096;
const keyStates = new Map<string, number>();
const keyLanesA: number[] = [];
const keyLanesB: number[] = [];

function startMember(key: string): void {
  const index = keyStates.get(key);
  if (index !== undefined) {
    laneA = keyLanesA[index] as number;
    laneB = keyLanesB[index] as number;
    return;
  }
  laneA = SEED_A;
  laneB = SEED_B;
  mix(TAG_MEMBER);
  mixString(key);
  if (keyStates.size >= MAX_KEY_STATES) {
    keyStates.clear();
    keyLanesA.length = 0;
    keyLanesB.length = 0;
  }
  keyStates.set(key, keyLanesA.length);
  keyLanesA.push(laneA);
  keyLanesB.push(laneB);
}

/** murmur3's finaliser: every input bit affects every output bit, so sums of members stay spread. */
function avalanche(value: number): number {
  let h = value;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

function walk(value: unknown): void {
  if (typeof value === 'string') return mixString(value);
  if (typeof value === 'number') {
    mix(TAG_NUMBER);
    return mixString(String(value));
  }
  if (value === true) return mix(TAG_TRUE);
  if (value === false) return mix(TAG_FALSE);
  if (value === null) return mix(TAG_NULL);
  if (typeof value !== 'object') return mix(TAG_OTHER); // undefined: JSON-parsed data has none
  nodesLeft -= 1;
  if (nodesLeft < 0) throw new TooLarge();
  if (Array.isArray(value)) {
    mix(TAG_ARRAY);
    mix(value.length);
    for (const item of value as unknown[]) walk(item);
    return;
  }
  // Each member hashed from fresh lanes, then added: the sum is the same in any key order.
  const outerA = laneA;
  const outerB = laneB;
  let sumA = 0;
  let sumB = 0;
  let count = 0;
  const record = value as Record<string, unknown>;
  // for-in: own keys only here (parsed objects inherit no enumerable keys), without a keys array.
  for (const key in record) {
    startMember(key);
    walk(record[key]);
    sumA = (sumA + avalanche(laneA)) | 0;
    sumB = (sumB + avalanche(laneB ^ laneA)) | 0;
    count += 1;
  }
  laneA = outerA;
  laneB = outerB;
  mix(TAG_OBJECT);
  mix(count);
  mix(sumA);
  mix(sumB);
}

/**
 * The object's fingerprint (see above), or undefined when it has none: an alias cycle, or more
 * than MAX_FINGERPRINT_NODES nodes. Callers treat an object without a fingerprint as different
 * from every other copy.
 */
export function objectFingerprint(object: unknown): string | undefined {
  laneA = SEED_A;
  laneB = SEED_B;
  nodesLeft = MAX_FINGERPRINT_NODES;
  try {
    walk(object);
  } catch {
    return undefined; // TooLarge, or a RangeError from a cycle or a very deep tree
  }
  return `${(avalanche(laneA) >>> 0).toString(36)}.${(avalanche(laneB) >>> 0).toString(36)}`;
}
