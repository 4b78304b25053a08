import { parseDocument } from 'yaml';
import { policySchema, type Policy } from './schema.ts';

export interface PolicyError {
  /** Dotted path into the policy (`registries[0].access`), or `(yaml)` for syntax errors. */
  readonly path: string;
  readonly message: string;
}

export type PolicyLoadResult =
  | { readonly ok: true; readonly policy: Policy }
  | { readonly ok: false; readonly errors: readonly PolicyError[] };

/** Formats a zod issue path the way a user reads YAML: `registries[0].hosts[2]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(root)' : out;
}

/** Validates an already-parsed policy object; every error is reported with its path. */
export function parsePolicyObject(value: unknown): PolicyLoadResult {
  const result = policySchema.safeParse(value ?? {});
  if (result.success) return { ok: true, policy: deepFreeze(result.data) };
  const errors = result.error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message }));
  return { ok: false, errors };
}

/** Parses `policy.yaml` text (YAML or JSON). Empty text means the built-in defaults. */
export function loadPolicyText(text: string): PolicyLoadResult {
  const document = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (document.errors.length > 0) {
    return {
      ok: false,
      errors: document.errors.map((error) => ({ path: '(yaml)', message: error.message.split('\n')[0] ?? error.message })),
    };
  }
  const value: unknown = document.toJS();
  if (value !== null && value !== undefined && (typeof value !== 'object' || Array.isArray(value))) {
    return { ok: false, errors: [{ path: '(root)', message: 'the policy must be a YAML mapping' }] };
  }
  return parsePolicyObject(value);
}

/** Renders errors one per line, for logs, CLI output and Kubernetes Events. */
export function describePolicyErrors(errors: readonly PolicyError[]): string {
  return errors.map((error) => `${error.path}: ${error.message}`).join('; ');
}

export const DEFAULT_POLICY: Policy = (() => {
  const result = parsePolicyObject({});
  if (!result.ok) throw new Error('built-in default policy is invalid');
  return result.policy;
})();

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
