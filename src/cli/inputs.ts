import { readFile } from 'node:fs/promises';
import { DEFAULT_POLICY } from '../policy/default-policy.ts';
import { PolicyResolver } from '../policy/resolve.ts';
import type { Policy } from '../policy/schema.ts';
import { readInputs } from '../manifests/read.ts';
import { Renderers } from '../manifests/render.ts';
import { ManifestError, type SourcedObject } from '../manifests/parse.ts';
import { snapshotFromObjects } from '../snapshot/from-objects.ts';
import type { MemorySnapshot } from '../snapshot/memory.ts';
import { UsageError } from './errors.ts';

/** Reads `--policy FILE` (or the built-in default); an invalid policy is a usage error listing every problem. */
export async function loadPolicyFile(path: string | undefined): Promise<Policy> {
  if (path === undefined) return DEFAULT_POLICY;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read policy ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  // Loaded only for a policy file: the schema and zod take ~100 ms to load, on every run otherwise.
  const { describePolicyErrors, loadPolicyText } = await import('../policy/load.ts');
  const result = loadPolicyText(text);
  if (!result.ok) throw new UsageError(`invalid policy ${path}: ${describePolicyErrors(result.errors)}`);
  return result.policy;
}

export async function loadPolicyResolver(path: string | undefined): Promise<PolicyResolver> {
  return new PolicyResolver(await loadPolicyFile(path));
}

/**
 * Reads state files whole: a file that is not Kubernetes objects, or a chart or overlay, is a usage
 * error with file and line (the state of a webhook must not be silently partial).
 */
export async function readObjects(paths: readonly string[], stdin?: NodeJS.ReadableStream): Promise<SourcedObject[]> {
  const objects: SourcedObject[] = [];
  try {
    // No rendering tools for state: a chart or overlay given as state is refused.
    for await (const event of readInputs(paths, { stdin, renderers: new Renderers(''), env: {}, helmValues: [], namespace: undefined })) {
      if (event.kind === 'objects') objects.push(...event.objects);
      else if (event.kind === 'skipped') throw new ManifestError(event.entry.source, event.entry.line, event.entry.reason);
      else throw new ManifestError(event.entry.source, 0, `${event.entry.reason}; render it and pass the output`);
    }
  } catch (error) {
    if (error instanceof ManifestError) throw new UsageError(error.message);
    throw error;
  }
  return objects;
}

/** `--state FILE...`: Secrets, ServiceAccounts and Namespaces as the cluster state. */
export async function loadStateFiles(paths: readonly string[]): Promise<{ snapshot: MemorySnapshot; objects: SourcedObject[] }> {
  if (paths.includes('-')) throw new UsageError('--state - is not supported: stdin carries the manifests or the review; give a file or directory');
  const objects = paths.length === 0 ? [] : await readObjects(paths);
  return { snapshot: snapshotFromObjects(objects.map((entry) => entry.object)), objects };
}
