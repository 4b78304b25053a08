/**
 * The chart's own values are documented once, by `# --` comments in values.yaml (the helm-docs
 * convention). This module reads them for the README's values table and for the `description`s in
 * values.schema.json (what editors show on hover).
 */
import { isMap, isScalar, parseDocument, type YAMLMap } from 'yaml';

export interface ValueDoc {
  /** Dotted path, e.g. `webhooks.failurePolicy`. */
  readonly path: string;
  readonly description: string;
  /** The default from values.yaml, as plain data. */
  readonly defaultValue: unknown;
}

/** The `# --` paragraph of a comment block (the file header before it, if any, is not part of it). */
function descriptionOf(comment: string | null | undefined): string | undefined {
  if (comment === null || comment === undefined) return undefined;
  const paragraph = comment.split(/\n\s*\n/).at(-1) ?? '';
  const lines = paragraph.split('\n').map((line) => line.trim());
  if (!lines[0]?.startsWith('--')) return undefined;
  lines[0] = lines[0].slice(2);
  return lines.join(' ').replace(/\s+/g, ' ').trim();
}

export interface ValuesDocs {
  readonly documented: ValueDoc[];
  /** Leaves with no `# --` comment on themselves or on any parent key. */
  readonly undocumented: string[];
}

export function readValuesDocs(valuesYaml: string): ValuesDocs {
  const document = parseDocument(valuesYaml);
  if (document.errors.length > 0) throw new Error(`values.yaml: ${document.errors[0]?.message}`);
  const documented: ValueDoc[] = [];
  const undocumented: string[] = [];
  const walk = (map: YAMLMap, prefix: string, covered: boolean): void => {
    map.items.forEach((pair, index) => {
      if (!isScalar(pair.key)) throw new Error(`values.yaml: a key under ${prefix || 'the root'} is not a plain scalar`);
      const path = `${prefix}${String(pair.key.value)}`;
      // The comment above a map's first key is stored on the map itself.
      const comment = pair.key.commentBefore ?? (index === 0 ? map.commentBefore : undefined);
      const description = descriptionOf(comment);
      if (description !== undefined) {
        documented.push({ path, description, defaultValue: (pair.value as { toJSON?: () => unknown } | null)?.toJSON?.() ?? null });
      }
      const isCovered = covered || description !== undefined;
      if (isMap(pair.value) && pair.value.items.length > 0) walk(pair.value, `${path}.`, isCovered);
      else if (!isCovered) undocumented.push(path);
    });
  };
  if (!isMap(document.contents)) throw new Error('values.yaml: the top level must be a map');
  walk(document.contents, '', false);
  return { documented, undocumented };
}
