import { LineCounter, parseAllDocuments } from 'yaml';
import { isRecord } from '../workloads/extract.ts';

/** One Kubernetes object read from a source, with where it came from (for messages). */
export interface SourcedObject {
  readonly object: Record<string, unknown>;
  readonly source: string;
  readonly line: number;
}

export class ManifestError extends Error {
  readonly source: string;
  readonly line: number;
  constructor(source: string, line: number, message: string) {
    super(`${source}:${line}: ${message}`);
    this.name = 'ManifestError';
    this.source = source;
    this.line = line;
  }
}

/** Kinds that wrap other objects (`kubectl get -o yaml` output, `List`, `PodList`, ...). */
function isListKind(object: Record<string, unknown>): boolean {
  return typeof object['kind'] === 'string' && object['kind'].endsWith('List') && Array.isArray(object['items']);
}

function flatten(object: Record<string, unknown>, source: string, line: number, out: SourcedObject[]): void {
  if (isListKind(object)) {
    for (const item of object['items'] as unknown[]) if (isRecord(item)) flatten(item, source, line, out);
    return;
  }
  out.push({ object, source, line });
}

/**
 * Parses multi-document YAML (JSON is YAML) into objects. Empty documents are skipped; a syntax
 * error or a document that is not a mapping is a ManifestError naming the source and line.
 */
export function parseManifestText(text: string, source: string): SourcedObject[] {
  const lineCounter = new LineCounter();
  const documents = parseAllDocuments(text, { lineCounter, uniqueKeys: false, prettyErrors: false });
  const out: SourcedObject[] = [];
  const list = Array.isArray(documents) ? documents : [documents];
  for (const document of list) {
    const start = document.range?.[0] ?? 0;
    const line = lineCounter.linePos(start).line;
    const firstError = document.errors[0];
    if (firstError !== undefined) {
      const errorLine = firstError.linePos?.[0]?.line ?? lineCounter.linePos(firstError.pos[0]).line;
      throw new ManifestError(source, errorLine, `invalid YAML: ${firstError.message.split('\n')[0]}`);
    }
    const value: unknown = document.toJS({ maxAliasCount: 100 });
    if (value === null || value === undefined) continue;
    if (!isRecord(value)) throw new ManifestError(source, line, 'expected a Kubernetes object (a mapping with apiVersion and kind)');
    flatten(value, source, line, out);
  }
  return out;
}
