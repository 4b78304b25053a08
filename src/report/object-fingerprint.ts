import { hash } from 'node:crypto';

/**
 * Fingerprints of objects as written, for "the copies differ": equal when two copies hold the same
 * fields and values, whatever order their keys were written in (a kustomize build and a hand-
 * written file order keys differently), different when any value differs.
 */

/**
 * Nodes (objects, arrays) one fingerprint may visit, aliases counted each time they are reached.
 * A Kubernetes object is at most 1.5 MiB in etcd, far fewer nodes than this; the cap is there for
 * YAML aliases, which can make a small file name an exponentially large tree ("billion laughs").
 */
export const MAX_FINGERPRINT_NODES = 1_000_000;

class TooLarge extends Error {}

interface Meter {
  left: number;
}

/** Stores `value` under `key` as an own, enumerable property (assigning `__proto__` would set the prototype). */
function put(copy: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(copy, key, { value, enumerable: true, writable: true, configurable: true });
  else copy[key] = value;
}

/**
 * The value with every object's keys in sorted order: the value itself when it already is (no
 * copy), else a copy of the parts that are not.
 */
function canonical(value: unknown, meter: Meter): unknown {
  if (typeof value !== 'object' || value === null) return value;
  meter.left -= 1;
  if (meter.left < 0) throw new TooLarge();
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let index = 0; index < value.length; index += 1) {
      const item: unknown = value[index];
      const canonicalItem = canonical(item, meter);
      if (canonicalItem !== item) (copy ??= value.slice())[index] = canonicalItem;
    }
    return copy ?? value;
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  let sorted = true;
  for (let index = 1; index < keys.length; index += 1) {
    if ((keys[index - 1] as string) > (keys[index] as string)) {
      sorted = false;
      break;
    }
  }
  if (!sorted) {
    keys.sort();
    const copy: Record<string, unknown> = {};
    for (const key of keys) put(copy, key, canonical(record[key], meter));
    return copy;
  }
  for (let index = 0; index < keys.length; index += 1) {
    const child = record[keys[index] as string];
    const canonicalChild = canonical(child, meter);
    if (canonicalChild === child) continue;
    // A child changed: copy, in the same (sorted) order.
    const copy: Record<string, unknown> = {};
    for (let before = 0; before < index; before += 1) put(copy, keys[before] as string, record[keys[before] as string]);
    put(copy, keys[index] as string, canonicalChild);
    for (let after = index + 1; after < keys.length; after += 1) put(copy, keys[after] as string, canonical(record[keys[after] as string], meter));
    return copy;
  }
  return value;
}

/**
 * sha256 of the object's canonical JSON (keys sorted at every level), or undefined when it has no
 * fingerprint: an alias cycle, or more than MAX_FINGERPRINT_NODES nodes. Callers treat an object
 * without a fingerprint as different from every other copy.
 */
export function objectFingerprint(object: unknown): string | undefined {
  try {
    return hash('sha256', JSON.stringify(canonical(object, { left: MAX_FINGERPRINT_NODES })), 'base64');
  } catch {
    return undefined; // TooLarge, or a RangeError from a cycle or a very deep tree
  }
}
