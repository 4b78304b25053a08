import { reparseItem, type SourcedObject } from '../manifests/parse.ts';
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
 * first one from that text, read again as it was read the first time. A first copy without such a
 * text (one of several objects of a YAML List document, a JSON file of one object) is fingerprinted
 * at once, as before, and so is every copy when the texts are not to be kept (`keepTexts: false`).
 * The texts are slices of the files' texts: they hold those texts until reading ends and the
 * tracker is cleared, so the audit keeps them only when it reads one file (whose text is in memory
 * while it is read anyway), not for a directory of many.
 */
export class CopyFingerprints {
  private readonly firsts = new Map<string, { readonly workload: PreparedWorkload; text: ItemText | undefined }>();
  private readonly defaultNamespace: string;
  private readonly keepTexts: boolean;

  /**
   * `keepTexts: false` fingerprints every copy as it is read (nothing kept): for input of several
   * files, whose texts would otherwise all stay in memory until reading ends.
   */
  constructor(defaultNamespace: string, options: { readonly keepTexts: boolean }) {
    this.defaultNamespace = defaultNamespace;
    this.keepTexts = options.keepTexts;
  }

  add(workload: PreparedWorkload, entry: SourcedObject): void {
    const key = copyKey(workload, this.defaultNamespace);
    if (key === undefined) return; // never a copy of anything: never compared
    const first = this.firsts.get(key);
    if (first === undefined) {
      const text = this.keepTexts && entry.itemText !== undefined ? { text: entry.itemText, yaml: entry.itemYaml === true } : undefined;
      if (text === undefined) workload.fingerprint = objectFingerprint(entry.object);
      this.firsts.set(key, { workload, text });
      return;
    }
    workload.fingerprint = objectFingerprint(entry.object);
    if (first.text !== undefined) {
      // The text held this one object: read again as the first time, it is that object (or,
      // should it not be, there is no fingerprint, which no copy equals).
      const again = reparseItem(first.text.text, first.text.yaml);
      first.workload.fingerprint = again === undefined ? undefined : objectFingerprint(again);
      first.text = undefined;
    }
  }

  /** Forgets every first copy (reading is over: no copy can turn up any more). */
  clear(): void {
    this.firsts.clear();
  }
}

interface ItemText {
  readonly text: string;
  readonly yaml: boolean;
}
