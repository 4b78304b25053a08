import { CORE_SCHEMA, loadAll, mergeTag } from 'js-yaml';
import { isRecord } from '../workloads/extract.ts';
import { type JsonListSpans, scanJsonList, scanJsonListExactly, validateListMembers } from './json-list.ts';
import { readBlockYaml, RememberedScalars } from './yaml-block.ts';

/** One Kubernetes object read from a source, with where it came from (for messages). */
export interface SourcedObject {
  readonly object: Record<string, unknown>;
  readonly source: string;
  readonly line: number;
  /**
   * The text the object alone was parsed from, when there is one: an item of a JSON List, or a YAML
   * document. parseManifestText of it gives the object again, so a reader that keeps it can drop
   * the object and still look at it later. A slice of the file's text: it keeps that text alive.
   */
  readonly itemText?: string;
  /** True when itemText is YAML (reparseItem reads it as YAML, whatever its first character). */
  readonly itemYaml?: boolean;
}

/** Input that is not a Kubernetes object: named with why, counted, and the audit goes on. */
export interface SkippedInput {
  /** The file (or `<stdin>`, or a directory). */
  readonly source: string;
  /** 1-based line of the problem, or 0 when it concerns the whole file. */
  readonly line: number;
  readonly reason: string;
}

export interface ParsedText<T = SourcedObject> {
  /** The objects read, each as `keep` made it (the object itself by default). */
  readonly objects: T[];
  /** At most one entry per text: one warning line per file, however many documents are bad. */
  readonly skipped: SkippedInput[];
}

export class ManifestError extends Error {
  readonly source: string;
  readonly line: number;
  constructor(source: string, line: number, message: string) {
    super(line > 0 ? `${source}:${line}: ${message}` : `${source}: ${message}`);
    this.name = 'ManifestError';
    this.source = source;
    this.line = line;
  }
}

/**
 * YAML 1.2 core schema (what kubectl's parser agrees with for every field a decision reads) plus
 * merge keys (`<<: *defaults`), which kubectl honours and real manifests use with anchors.
 */
const SCHEMA = CORE_SCHEMA.withTags(mergeTag);
/**
 * Aliases per document. js-yaml shares the aliased object instead of copying it, so an alias costs
 * no memory; the cap only refuses documents built to make every later walk repeat itself.
 */
export const MAX_ALIASES_PER_DOCUMENT = 10_000;
/** A NUL in the first bytes means a binary file (the test git and grep use). */
const BINARY_SNIFF_CHARS = 8000;

/** Kinds that wrap other objects (`kubectl get -o yaml` output, `List`, `PodList`, ...). */
function isListKind(object: Record<string, unknown>): boolean {
  return typeof object['kind'] === 'string' && object['kind'].endsWith('List') && Array.isArray(object['items']);
}

/** Collects the documents that are not Kubernetes objects of one text into a single skip entry. */
class NotObjects {
  private first: SkippedInput | undefined;
  private count = 0;
  private readonly source: string;
  constructor(source: string) {
    this.source = source;
  }
  add(line: number, reason: string): void {
    this.count += 1;
    this.first ??= { source: this.source, line, reason };
  }
  entry(): SkippedInput | undefined {
    if (this.first === undefined) return undefined;
    const more = this.count - 1;
    return more === 0 ? this.first : { ...this.first, reason: `${this.first.reason} (and ${more} more document${more === 1 ? '' : 's'})` };
  }
}

function describeNonObject(value: unknown): string {
  if (Array.isArray(value)) {
    const looksLikePatch = value.length > 0 && value.every((entry) => isRecord(entry) && typeof entry['op'] === 'string' && typeof entry['path'] === 'string');
    return looksLikePatch ? 'a JSON patch (a list of op/path operations), not a Kubernetes object' : 'a list, not a Kubernetes object';
  }
  if (isRecord(value)) return 'a mapping without kind, not a Kubernetes object';
  return `a ${typeof value === 'string' ? 'string' : 'scalar'}, not a Kubernetes object`;
}

/** What a reader keeps of each object (undefined: nothing); the raw object can then be dropped. */
export type Keep<T> = (entry: SourcedObject) => T | undefined;

function addDocument<T>(value: unknown, source: string, line: number, out: T[], bad: NotObjects, keep: Keep<T>, itemText?: string, itemYaml = false): void {
  if (value === null || value === undefined) return; // an empty document
  if (!isRecord(value) || typeof value['kind'] !== 'string' || value['kind'] === '') {
    bad.add(line, describeNonObject(value));
    return;
  }
  if (isListKind(value)) {
    const items = value['items'] as unknown[];
    for (const item of items) addDocument(item, source, line, out, bad, keep);
    return;
  }
  const kept = keep(itemText === undefined ? { object: value, source, line } : itemYaml ? { object: value, source, line, itemText, itemYaml } : { object: value, source, line, itemText });
  if (kept !== undefined) out.push(kept);
}

/**
 * 1-based lines of offsets visited in increasing order. Each newline is found once (the search
 * stops at the first newline past the offset), so counting over a whole file is linear, including
 * a minified file without any newline.
 */
class LineCounter {
  private readonly text: string;
  private line = 1;
  /** The first newline not counted yet, or -1 when there is none further. */
  private next: number;
  constructor(text: string) {
    this.text = text;
    this.next = text.indexOf('\n');
  }
  at(offset: number): number {
    while (this.next !== -1 && this.next < offset) {
      this.line += 1;
      this.next = this.text.indexOf('\n', this.next + 1);
    }
    return this.line;
  }
}

/** Offsets where a document starts: 0, and every line that begins with the `---` marker. */
function documentStarts(text: string): number[] {
  const starts = [0];
  let index = text.indexOf('\n---');
  while (index !== -1) {
    const after = text.charCodeAt(index + 4);
    // `---` followed by a space, a tab, a line break or the end: a document marker (YAML 1.2 §9.1.4).
    if (Number.isNaN(after) || after === 0x20 || after === 0x09 || after === 0x0a || after === 0x0d) starts.push(index + 1);
    index = text.indexOf('\n---', index + 4);
  }
  return starts;
}

/** A chunk holding only directives (`%YAML 1.2`), comments and blank lines belongs to the next document. */
function onlyPreamble(chunk: string): boolean {
  for (const raw of chunk.split('\n')) {
    const line = raw.trim();
    if (line !== '' && !line.startsWith('#') && !line.startsWith('%')) return false;
  }
  return true;
}

/** The line of a document's first content (after its `---`, blank lines and comments), for messages. */
function contentLine(chunk: string, chunkLine: number): number {
  let line = chunkLine;
  let start = 0;
  while (start < chunk.length) {
    const end = chunk.indexOf('\n', start);
    const text = chunk.slice(start, end === -1 ? chunk.length : end).trim();
    if (text !== '' && !text.startsWith('#') && !text.startsWith('%') && text !== '---') return line;
    if (end === -1) break;
    start = end + 1;
    line += 1;
  }
  return chunkLine;
}

function firstLine(message: string): string {
  const cut = message.indexOf('\n');
  return cut === -1 ? message : message.slice(0, cut);
}

/** Why YAML did not parse, with a hint when the text is a Go template (a Helm chart's file). */
function yamlReason(text: string, message: string): string {
  const reason = `invalid YAML: ${firstLine(message).replace(/ \(\d+:\d+\)$/, '')}`;
  return text.includes('{{') ? `${reason}; it looks like a Go/Helm template ({{ ... }}): audit the chart directory so helm renders it` : reason;
}

function parseYaml<T>(text: string, source: string, keep: Keep<T>): ParsedText<T> {
  const objects: T[] = [];
  const bad = new NotObjects(source);
  const starts = documentStarts(text);
  const lines = new LineCounter(text);
  // Keys and values this text repeats; dropped with the text once it is read (yaml-block.ts).
  const remembered = new RememberedScalars(SCHEMA);
  let pending = '';
  let pendingLine = 1;
  for (let index = 0; index < starts.length; index += 1) {
    const start = starts[index] as number;
    const end = starts[index + 1] ?? text.length;
    let chunk = text.slice(start, end);
    let chunkLine = lines.at(start);
    if (pending !== '') {
      chunk = pending + chunk;
      chunkLine = pendingLine;
      pending = '';
    }
    if (index + 1 < starts.length && chunk.includes('%') && onlyPreamble(chunk)) {
      pending = chunk;
      pendingLine = chunkLine;
      continue;
    }
    let documents: unknown[];
    try {
      // Plain block YAML (nearly every manifest) is read line by line; the rest by js-yaml.
      documents = readBlockYaml(chunk, SCHEMA, remembered) ?? loadAll(chunk, { schema: SCHEMA, json: true, maxAliases: MAX_ALIASES_PER_DOCUMENT });
    } catch (error) {
      const mark = (error as { mark?: { line?: number } }).mark;
      const line = chunkLine + (typeof mark?.line === 'number' ? mark.line : 0);
      // One syntax error makes the whole file untrustworthy (a template, a truncated file): skip it all.
      return { objects: [], skipped: [{ source, line, reason: yamlReason(text, (error as Error).message) }] };
    }
    const line = documents.length > 0 ? contentLine(chunk, chunkLine) : chunkLine;
    // A chunk of one document is that document's text: parsed again, it gives the object again.
    for (const document of documents) addDocument(document, source, line, objects, bad, keep, documents.length === 1 ? chunk : undefined, true);
  }
  const entry = bad.entry();
  return { objects, skipped: entry === undefined ? [] : [entry] };
}

/**
 * A JSON List read item by item (see json-list.ts): each item is parsed alone, handed to `keep` at
 * the line it starts on, and dropped. Undefined when the text is not a List; the offset where it
 * stopped being valid JSON when it is not valid (a hint for the error's line). Either way the
 * caller then parses the whole text, which names the error. Objects already kept are then
 * discarded, as when a later YAML document has a syntax error.
 */
function parseJsonList<T>(text: string, source: string, keep: Keep<T>): ParsedText<T> | number | undefined {
  const scanned = scanJsonList(text);
  let spans = listSpans(text, scanned);
  // Item ends guessed wrong can hide top-level members from the scan (json-list.ts): "not a List"
  // is then only taken from an exact scan.
  if (typeof spans !== 'object' && scanned !== undefined && !('invalidAt' in scanned) && scanned.guessed) spans = listSpans(text, scanJsonListExactly(text));
  if (typeof spans !== 'object') return spans;
  const objects: T[] = [];
  const bad = new NotObjects(source);
  const lines = new LineCounter(text);
  for (let index = 0; index < spans.starts.length; index += 1) {
    const start = spans.starts[index] as number;
    const itemText = text.slice(start, spans.ends[index]);
    let item: unknown;
    try {
      item = JSON.parse(itemText);
    } catch {
      if (!spans.guessed) return start;
      // A guessed end that was wrong (json-list.ts), so the scan with guesses may have been wrong
      // about the rest too: the exact scan decides again whether this is a List, and what its
      // members are. The spans before this one parsed, so they were exact, and an exact scan finds
      // the same ones: go on from here with its spans.
      const exact = listSpans(text, scanJsonListExactly(text));
      if (typeof exact !== 'object') return start;
      spans = exact;
      index -= 1;
      continue;
    }
    addDocument(item, source, lines.at(start), objects, bad, keep, itemText);
  }
  const entry = bad.entry();
  return { objects, skipped: entry === undefined ? [] : [entry] };
}

/**
 * The item spans of a JSON List whose other members JSON.parse accepts and whose kind ends in
 * `List`; undefined when it is not a List; where the scan stopped when the text is not valid JSON.
 */
function listSpans(text: string, scanned: ReturnType<typeof scanJsonList>): JsonListSpans | number | undefined {
  if (scanned === undefined) return undefined;
  if ('invalidAt' in scanned) return scanned.invalidAt;
  const kind = validateListMembers(text, scanned);
  return typeof kind === 'string' && kind.endsWith('List') ? scanned : undefined;
}

/**
 * The line V8 names in a JSON.parse error ("... (line 3 column 1)"), or the line of its position,
 * or, when it names neither ("Unexpected token"), the line of `hint` (where the List scan or an
 * item's parse failed).
 */
function jsonErrorLine(text: string, message: string, hint: number | undefined): number {
  const named = /\(line (\d+) column \d+\)/.exec(message);
  if (named !== null) return Number(named[1]);
  const position = /at position (\d+)/.exec(message);
  if (position !== null) return new LineCounter(text).at(Number(position[1]));
  return hint === undefined ? 1 : new LineCounter(text).at(hint);
}

/**
 * Parses one file's text into Kubernetes objects. JSON goes through `JSON.parse` (many times faster
 * than a YAML parser); everything else is multi-document YAML. Nothing here throws on bad input:
 * a binary, a syntax error (the whole text), and documents that are not Kubernetes objects (a
 * mapping without `kind`, a list such as a JSON patch, a scalar) come back as one skip entry with
 * the line and the reason, and the good documents of the text are kept. `keep` turns each object
 * into what the caller holds on to as soon as it is parsed, so a large file's objects need not
 * all be alive at once.
 */
export function parseManifestText(input: string, source: string): ParsedText;
export function parseManifestText<T>(input: string, source: string, keep: Keep<T>): ParsedText<T>;
export function parseManifestText<T>(input: string, source: string, keep: Keep<T> = (entry) => entry as T): ParsedText<T> {
  const text = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
  if (text.slice(0, BINARY_SNIFF_CHARS).includes('\u0000')) {
    return { objects: [], skipped: [{ source, line: 0, reason: 'a binary file, not YAML or JSON' }] };
  }
  const first = /\S/.exec(text)?.[0];
  if (first === '{' || first === '[') {
    let hint: number | undefined;
    if (first === '{') {
      const listed = parseJsonList(text, source, keep);
      if (typeof listed === 'object') return listed;
      hint = listed;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      // Not JSON: in a .yaml file or on stdin, perhaps YAML flow style (`{a: 1}`) or several
      // documents, so YAML decides. A .json file must be JSON, as for kubectl.
      if (!/\.json$/i.test(source)) return parseYaml(text, source, keep);
      const message = (error as Error).message;
      return { objects: [], skipped: [{ source, line: jsonErrorLine(text, message, hint), reason: `invalid JSON: ${message.replace(/ in JSON at position \d+.*$/, '')}` }] };
    }
    const objects: T[] = [];
    const bad = new NotObjects(source);
    addDocument(value, source, 1, objects, bad, keep);
    const entry = bad.entry();
    return { objects, skipped: entry === undefined ? [] : [entry] };
  }
  return parseYaml(text, source, keep);
}

/**
 * The object an item's text (SourcedObject.itemText) holds, read again as it was read the first
 * time (JSON, or YAML however it starts); undefined if it does not hold exactly one object.
 */
export function reparseItem(itemText: string, yaml: boolean): Record<string, unknown> | undefined {
  const keepObject = (entry: SourcedObject): Record<string, unknown> => entry.object;
  let objects: Record<string, unknown>[];
  if (yaml) objects = parseYaml(itemText, '', keepObject).objects;
  else {
    let value: unknown;
    try {
      value = JSON.parse(itemText);
    } catch {
      return undefined;
    }
    objects = [];
    addDocument(value, '', 1, objects, new NotObjects(''), keepObject);
  }
  return objects.length === 1 ? objects[0] : undefined;
}

/** Like parseManifestText, but the first skipped document is an error: for inputs that must be whole (`--state` of serve and review). */
export function parseManifestTextStrict(text: string, source: string): SourcedObject[] {
  const { objects, skipped } = parseManifestText(text, source);
  const first = skipped[0];
  if (first !== undefined) throw new ManifestError(first.source, first.line, first.reason);
  return objects;
}
