/**
 * A bounded memo for pure functions of short strings (image references, image names), on the
 * admission path where the same few hundred images repeat across every pod.
 *
 * Bounded in both directions an attacker controls: the number of entries (the map is emptied
 * when full: no per-entry bookkeeping on a hit, and a flood of distinct strings costs one
 * re-computation per string, as without the memo) and the length of a key (longer strings are
 * computed every time and never kept, so a 7 MiB review cannot pin megabytes of image strings).
 * Imports nothing: the pure core may use it.
 */
export class StringMemo<V> {
  readonly maxEntries: number;
  readonly maxKeyChars: number;
  private readonly compute: (key: string) => V;
  private readonly entries = new Map<string, V>();

  constructor(compute: (key: string) => V, options: { readonly maxEntries: number; readonly maxKeyChars: number }) {
    this.compute = compute;
    this.maxEntries = options.maxEntries;
    this.maxKeyChars = options.maxKeyChars;
  }

  /** compute(key), remembered when the key is short enough. */
  get(key: string): V {
    if (key.length > this.maxKeyChars) return this.compute(key);
    const known = this.entries.get(key);
    if (known !== undefined) return known;
    const value = this.compute(key);
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    this.entries.set(key, value);
    return value;
  }

  /** The remembered value of key, or undefined (nothing is computed). */
  peek(key: string): V | undefined {
    return key.length > this.maxKeyChars ? undefined : this.entries.get(key);
  }

  /** Remembers a value computed elsewhere (when the key is short enough), as get() would have. */
  remember(key: string, value: V): void {
    if (key.length > this.maxKeyChars) return;
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    this.entries.set(key, value);
  }

  /** Entries held now (for tests and diagnostics). */
  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
  }
}
