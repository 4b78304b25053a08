import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ManifestError, parseManifestText, type SourcedObject } from './parse.ts';

const MANIFEST_EXTENSIONS = /\.(ya?ml|json)$/i;

async function readStdin(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

async function collectFiles(path: string, out: string[]): Promise<void> {
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    throw new ManifestError(path, 0, `cannot read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  if (info.isDirectory()) {
    const entries = await readdir(path, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const child = join(path, entry.name);
      if (entry.isDirectory()) await collectFiles(child, out);
      else if (MANIFEST_EXTENSIONS.test(entry.name)) out.push(child);
    }
    return;
  }
  out.push(path);
}

/** Reads files, directories (recursively, *.yaml|*.yml|*.json) and `-` (stdin) in argument order. */
export async function readManifests(paths: readonly string[], stdin: NodeJS.ReadableStream = process.stdin): Promise<SourcedObject[]> {
  const objects: SourcedObject[] = [];
  for (const path of paths) {
    if (path === '-') {
      objects.push(...parseManifestText(await readStdin(stdin), '<stdin>'));
      continue;
    }
    const files: string[] = [];
    await collectFiles(path, files);
    for (const file of files) {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (error) {
        throw new ManifestError(file, 0, `cannot read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
      }
      objects.push(...parseManifestText(text, file));
    }
  }
  return objects;
}

export { readStdin };
