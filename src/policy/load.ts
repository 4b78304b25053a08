import { parseDocument } from 'yaml';
import { deepFreeze } from './default-policy.ts';
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

/**
 * Alias expansions allowed in one policy (the yaml package's own default, counted its way: uses of
 * an anchor times the aliases inside it). A policy names each registry once or twice; the bound
 * only stops a ConfigMap of a few KiB from expanding into gigabytes ("billion laughs").
 */
export const POLICY_MAX_ALIAS_COUNT = 100;

/** Parses `policy.yaml` text (YAML or JSON). Empty text means the built-in defaults. Never throws. */
export function loadPolicyText(text: string): PolicyLoadResult {
  try {
    return loadPolicyDocument(text);
  } catch (error) {
    // Whatever the YAML library or the schema throws is still a problem of this text: report it
    // as a policy error (with the CLI's file or the cluster's ConfigMap), never as a crash.
    return { ok: false, errors: [{ path: '(yaml)', message: `the policy could not be read: ${error instanceof Error ? error.message : String(error)}` }] };
  }
}

function loadPolicyDocument(text: string): PolicyLoadResult {
  const document = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (document.errors.length > 0) {
    return {
      ok: false,
      errors: document.errors.map((error) => ({ path: '(yaml)', message: error.message.split('\n')[0] ?? error.message })),
    };
  }
  let value: unknown;
  try {
    value = document.toJS({ maxAliasCount: POLICY_MAX_ALIAS_COUNT });
  } catch (error) {
    if (error instanceof ReferenceError && /alias/i.test(error.message)) {
      const message =
        `too many YAML alias expansions (more than ${POLICY_MAX_ALIAS_COUNT}, counting each use of an anchor times the aliases inside it); ` +
        'write the repeated values out, or use fewer aliases';
      return { ok: false, errors: [{ path: '(yaml)', message }] };
    }
    throw error;
  }
  if (value !== null && value !== undefined && (typeof value !== 'object' || Array.isArray(value))) {
    return { ok: false, errors: [{ path: '(root)', message: 'the policy must be a YAML mapping' }] };
  }
  return parsePolicyObject(value);
}

/** Renders errors one per line, for logs, CLI output and Kubernetes Events. */
export function describePolicyErrors(errors: readonly PolicyError[]): string {
  return errors.map((error) => `${error.path}: ${error.message}`).join('; ');
}
