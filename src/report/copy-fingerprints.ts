import { parseManifestText } from '../manifests/parse.ts';
import { copyKey } from './audit.ts';
import { objectFingerprint } from './object-fingerprint.ts';
import type { PreparedWorkload } from './prepare-workload.ts';

/**
 * Fingerprints for the workloads that turn out to have copies, while the input is read.
 *
 * A fingerprint is only ever compared between copies of one object (decideWorkloads), and nearly
 * every object is read once: fingerprinting all of them is a walk over every workload for nothing.
 * Workloads are prepared with `fingerprint: 'later'` and handed here with their object. The first
 * copy of an object keeps the text it alone was parsed from (a JSON List's item, a YAML document)
 * instead of a fingerprint; a second copy fingerprints itself (its object is at hand) and the
 * first one from that text, parsed again. A first copy without such a text (one of several
 * objects of a YAML List document, a JSON file of one object) is fingerprinted at once, as before. The texts are slices of the files' texts: they hold those texts until reading
 * ends and the tracker is cleared.
 */
export class CopyFingerprints {
  private readonly firsts = new Map<string, { readonly workload: PreparedWorkload; itemText: string | undefined }>();
  private readonly defaultNamespace: string;

  constructor(defaultNamespace: string) {
    this.defaultNamespace = defaultNamespace;
  }

  add(workload: PreparedWorkload, object: Record<string, unknown>, itemText: string | undefined): void {
    const key = copyKey(workload, this.defaultNamespace);
    if (key === undefined) return; // never a copy of anything: never compared
    const first = this.firsts.get(key);
    if (first === undefined) {
      if (itemText === undefined) workload.fingerprint = objectFingerprint(object);
      this.firsts.set(key, { workload, itemText });
      return;
    }
    workload.fingerprint = objectFingerprint(object);
    if (first.itemText !== undefined) {
      // The text held one object, this one: parsed again, it is that object (or, should it not
      // be, no fingerprint, which no copy equals).
      const again = parseManifestText(first.itemText, first.workload.source).objects;
      first.workload.fingerprint = again.length === 1 ? objectFingerprint(again[0]?.object) : undefined;
      first.itemText = undefined;
    }
  }

  /** Forgets every first copy (reading is over: no copy can turn up any more). */
  clear(): void {
    this.firsts.clear();
  }
}
