import { readFileSync } from 'node:fs';
import { lstat, readdir, readFile, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ManifestError, parseManifestText, type Keep, type SkippedInput, type SourcedObject } from './parse.ts';
import { displayCommand, Renderers, runRender, suggestedCommand, type RenderOptions, type RenderTool } from './render.ts';

const MANIFEST_EXTENSIONS = /\.(ya?ml|json)$/i;
const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];
const CHART_FILE = 'Chart.yaml';
/** Never entered while walking: dependencies, and dot-directories (.git, .github, ...). */
const IGNORED_DIRECTORY = 'node_modules';

/** A directory that needs a tool to become manifests, and was not audited (tool missing or failing). */
export interface NotAudited {
  /** The directory, with a trailing slash. */
  readonly source: string;
  readonly tool: RenderTool;
  readonly reason: string;
  /** What to run to audit it by hand. */
  readonly command: string;
}

export type InputEvent<T = SourcedObject> =
  | { readonly kind: 'objects'; readonly source: string; readonly objects: readonly T[] }
  | { readonly kind: 'skipped'; readonly entry: SkippedInput }
  | { readonly kind: 'notAudited'; readonly entry: NotAudited };

export interface ReadOptions<T = SourcedObject> extends RenderOptions {
  /** What to keep of each object as it is parsed (default: the object). */
  readonly keep?: Keep<T> | undefined;
  readonly stdin?: NodeJS.ReadableStream;
  /** Where kubectl, kustomize and helm are looked up. */
  readonly renderers: Renderers;
  /** Environment for the rendering tools. */
  readonly env: Readonly<Record<string, string | undefined>>;
}

async function readStdin(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function errnoText(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'ENOTDIR') return 'not a directory';
  return code ?? String(error);
}

function asDirectory(path: string): string {
  return path.endsWith('/') ? path : `${path}/`;
}

interface WalkState<T> {
  readonly options: ReadOptions<T>;
  readonly keep: Keep<T>;
  /** Real paths of the directories read so far: a directory reached twice (symlinks) is read once. */
  readonly visited: Set<string>;
}

/**
 * Reads files, directories and `-` (stdin) in argument order, one file at a time, so a large
 * repository is never held in memory as text. Nothing a file contains ends the run: bad files come
 * back as `skipped` events, directories that need a missing tool as `notAudited`. Only a path named
 * on the command line that cannot be read is an error (ManifestError), checked before any reading.
 */
export async function* readInputs<T = SourcedObject>(paths: readonly string[], options: ReadOptions<T>): AsyncGenerator<InputEvent<T>> {
  for (const path of paths) {
    if (path === '-') continue;
    try {
      await stat(path);
    } catch (error) {
      throw new ManifestError(path, 0, errnoText(error));
    }
  }
  const keep = options.keep ?? ((entry: SourcedObject) => entry as T);
  const state: WalkState<T> = { options, keep, visited: new Set() };
  for (const path of paths) {
    if (path === '-') {
      const parsed = parseManifestText(await readStdin(options.stdin ?? process.stdin), '<stdin>', keep);
      yield* parsedEvents('<stdin>', parsed.objects, parsed.skipped);
      continue;
    }
    const info = await stat(path);
    if (info.isDirectory()) {
      yield* walkDirectory(path, state, []);
      continue;
    }
    // A kustomization or Chart.yaml named on the command line means its directory.
    const name = basename(path);
    if (KUSTOMIZATION_FILES.includes(name) || name === CHART_FILE) {
      yield* walkDirectory(dirname(path), state, []);
      continue;
    }
    yield* readOneFile(path, keep);
  }
}

/**
 * True when readInputs(paths) reads one text: stdin, or one path that is a file (not a directory,
 * nor a kustomization or Chart.yaml, which stand for their directory).
 */
export async function readsOneText(paths: readonly string[]): Promise<boolean> {
  if (paths.length === 0) return true;
  const [path] = paths;
  if (paths.length > 1 || path === undefined) return false;
  if (path === '-') return true;
  const name = basename(path);
  if (KUSTOMIZATION_FILES.includes(name) || name === CHART_FILE) return false;
  try {
    return (await stat(path)).isFile();
  } catch {
    return false; // readInputs says what is wrong with it
  }
}

function* parsedEvents<T>(source: string, objects: readonly T[], skipped: readonly SkippedInput[]): Generator<InputEvent<T>> {
  for (const entry of skipped) yield { kind: 'skipped', entry };
  if (objects.length > 0) yield { kind: 'objects', source, objects };
}

async function* readOneFile<T>(path: string, keep: Keep<T>): AsyncGenerator<InputEvent<T>> {
  let text: string;
  try {
    // Synchronous on purpose: readFileSync decodes into one flat string, where the promise API
    // builds it from chunks and V8 later copies it flat: twice the text at the peak (64 MiB more
    // for a 64 MiB cluster dump). Files are read one at a time anyway.
    text = readFileSync(path, 'utf8');
  } catch (error) {
    yield { kind: 'skipped', entry: { source: path, line: 0, reason: `cannot read: ${errnoText(error)}` } };
    return;
  }
  const parsed = parseManifestText(text, path, keep);
  yield* parsedEvents(path, parsed.objects, parsed.skipped);
}

async function* walkDirectory<T>(path: string, state: WalkState<T>, ancestors: readonly string[]): AsyncGenerator<InputEvent<T>> {
  let real: string;
  try {
    real = await realpath(path);
  } catch (error) {
    yield { kind: 'skipped', entry: { source: asDirectory(path), line: 0, reason: `cannot read: ${errnoText(error)}` } };
    return;
  }
  if (ancestors.includes(real)) {
    yield { kind: 'skipped', entry: { source: asDirectory(path), line: 0, reason: 'a symlink loop (it leads back to a directory being read); not entered' } };
    return;
  }
  if (state.visited.has(real)) return; // reached again through a symlink: its objects are already in
  state.visited.add(real);
  let entries;
  try {
    entries = await readdir(path, { withFileTypes: true });
  } catch (error) {
    yield { kind: 'skipped', entry: { source: asDirectory(path), line: 0, reason: `cannot read: ${errnoText(error)}` } };
    return;
  }
  const names = new Set(entries.map((entry) => entry.name));
  const kustomization = KUSTOMIZATION_FILES.find((name) => names.has(name));
  if (kustomization !== undefined) {
    // A component (kind: Component) cannot be built alone; the overlays that use it render it.
    if (!(await isKustomizeComponent(join(path, kustomization)))) yield* render('kustomize', path, state);
    return;
  }
  if (names.has(CHART_FILE)) {
    yield* render('helm', path, state);
    return;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const chain = [...ancestors, real];
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const child = join(path, entry.name);
    let isDirectory = entry.isDirectory();
    let isFile = entry.isFile();
    if (entry.isSymbolicLink()) {
      try {
        const target = await stat(child);
        isDirectory = target.isDirectory();
        isFile = target.isFile();
      } catch (error) {
        if (MANIFEST_EXTENSIONS.test(entry.name) || (error as NodeJS.ErrnoException).code !== 'ENOENT') {
          const dangling = (error as NodeJS.ErrnoException).code === 'ENOENT';
          yield { kind: 'skipped', entry: { source: child, line: 0, reason: dangling ? 'a dangling symlink (its target does not exist)' : `cannot read: ${errnoText(error)}` } };
        }
        continue;
      }
    }
    if (isDirectory) {
      if (entry.name === IGNORED_DIRECTORY) continue;
      yield* walkDirectory(child, state, chain);
    } else if (isFile && MANIFEST_EXTENSIONS.test(entry.name)) {
      yield* readOneFile(child, state.keep);
    }
  }
}

async function isKustomizeComponent(file: string): Promise<boolean> {
  try {
    return /^kind:\s*["']?Component["']?\s*$/m.test(await readFile(file, 'utf8'));
  } catch {
    return false;
  }
}

async function* render<T>(tool: RenderTool, path: string, state: WalkState<T>): AsyncGenerator<InputEvent<T>> {
  const { options } = state;
  const source = `${asDirectory(path)} (${tool})`;
  const command = tool === 'kustomize' ? await options.renderers.kustomize(path) : await options.renderers.helm(path, options);
  const manual = suggestedCommand(tool, path, options);
  if (command === undefined) {
    const missing = tool === 'kustomize' ? 'neither kubectl nor kustomize is on PATH' : 'helm is not on PATH';
    const what = tool === 'kustomize' ? 'a Kustomize directory' : 'a Helm chart';
    yield { kind: 'notAudited', entry: { source: asDirectory(path), tool, reason: `${what}, and ${missing}`, command: manual } };
    return;
  }
  const result = await runRender(command, options.env);
  if (!result.ok) {
    yield { kind: 'notAudited', entry: { source: asDirectory(path), tool, reason: result.reason, command: manual } };
    return;
  }
  // Rendered output has no lines the user wrote; Helm names each document's template.
  const relabel = tool === 'helm' ? helmSources(result.text, source) : (entry: SourcedObject): SourcedObject => ({ ...entry, line: 0 });
  const parsed = parseManifestText(result.text, source, (entry) => state.keep(relabel(entry)));
  const objects = parsed.objects;
  const skipped = parsed.skipped.map((entry) => ({ ...entry, reason: `${entry.reason} (in the output of ${displayCommand(command)})` }));
  yield* parsedEvents(source, objects, skipped);
}

/**
 * `helm template` puts `# Source: chart/templates/x.yaml` before each document: each object is
 * named after its template. Objects arrive in text order, so one pass over the markers serves all.
 */
function helmSources(text: string, source: string): (entry: SourcedObject) => SourcedObject {
  const markers: Array<{ line: number; template: string }> = [];
  let line = 1;
  let start = 0;
  while (start < text.length) {
    const end = text.indexOf('\n', start);
    const stop = end === -1 ? text.length : end;
    if (text.startsWith('# Source: ', start)) markers.push({ line, template: text.slice(start + 10, stop).trim() });
    if (end === -1) break;
    start = end + 1;
    line += 1;
  }
  let next = 0;
  let template: string | undefined;
  return (entry) => {
    while (next < markers.length && (markers[next] as { line: number }).line <= entry.line) {
      template = (markers[next] as { template: string }).template;
      next += 1;
    }
    return { ...entry, source: template === undefined ? source : `${source} ${template}`, line: 0 };
  };
}

export { readStdin };
