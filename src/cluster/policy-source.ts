import type { Logger } from 'pino';
import { DEFAULT_POLICY } from '../policy/default-policy.ts';
import { describePolicyErrors, loadPolicyText, type PolicyError } from '../policy/load.ts';
import { PolicyResolver, type ResolverScope } from '../policy/resolve.ts';
import type { Policy } from '../policy/schema.ts';
import type { PolicyEventRecorder } from './events.ts';
import { POLICY_KEY, type ConfigMapRecord, type WatchEventType } from './projection.ts';

/**
 * Hot reload of the policy ConfigMap. Every change of `policy.yaml` is parsed with the zod
 * schema: a valid policy replaces the resolver in one assignment (requests read either the old
 * or the new one, never a mix); an invalid one leaves the last valid policy in force, is logged
 * with its paths, counted, and reported as an Event on the ConfigMap. A ConfigMap that does
 * not exist (deleted, or never created) means the built-in defaults, said loudly.
 */

export type PolicySource = 'configmap' | 'default';

export interface PolicyTrackerOptions {
  readonly namespace: string;
  readonly configMapName: string;
  readonly logger: Logger;
  readonly recorder?: PolicyEventRecorder | undefined;
  readonly onApplied?: (source: PolicySource) => void;
  readonly onInvalid?: () => void;
  readonly onChange?: () => void;
  /** What the state can see (namespaces whose secrets are watched); every resolver is built with it. */
  readonly scope?: ResolverScope | undefined;
}

/** Top-level policy fields whose values differ (JSON comparison; zod output has a stable key order). */
export function changedPolicyFields(before: Policy, after: Policy): string[] {
  const fields = new Set([...Object.keys(before), ...Object.keys(after)]);
  const changed: string[] = [];
  for (const field of fields) {
    const a = JSON.stringify((before as Record<string, unknown>)[field]);
    const b = JSON.stringify((after as Record<string, unknown>)[field]);
    if (a !== b) changed.push(field);
  }
  return changed.sort();
}

export class PolicyTracker {
  private readonly options: PolicyTrackerOptions;
  private readonly logger: Logger;
  private resolver: PolicyResolver;
  private isLoaded = false;
  private source: PolicySource | undefined;
  /** The last `policy.yaml` text seen (valid or not), or null when the ConfigMap was absent. */
  private lastSeen: string | null | undefined;
  private lastErrors: readonly PolicyError[] | undefined;

  constructor(options: PolicyTrackerOptions) {
    this.options = options;
    this.resolver = new PolicyResolver(DEFAULT_POLICY, options.scope ?? {});
    this.logger = options.logger.child({ configMap: `${options.namespace}/${options.configMapName}` });
  }

  current(): PolicyResolver {
    return this.resolver;
  }

  /** True once a policy is in force: a valid policy.yaml, or the defaults because the ConfigMap is absent. */
  loaded(): boolean {
    return this.isLoaded;
  }

  /** Errors of the policy.yaml seen last when it was invalid, else undefined. */
  invalidErrors(): readonly PolicyError[] | undefined {
    return this.lastErrors;
  }

  appliedSource(): PolicySource | undefined {
    return this.source;
  }

  /** The informer's complete list: zero or one ConfigMap. */
  listed(records: readonly ConfigMapRecord[]): void {
    const record = records.find((candidate) => candidate.metadata.name === this.options.configMapName);
    if (record === undefined) this.absent('not found');
    else this.present(record);
  }

  event(type: WatchEventType, record: ConfigMapRecord): void {
    if (record.metadata.name !== this.options.configMapName) return;
    if (type === 'DELETED') this.absent('deleted');
    else this.present(record);
  }

  private present(record: ConfigMapRecord): void {
    const text = record.policyText ?? '';
    // Metadata-only edits and relists deliver the same text again: nothing to do.
    if (this.lastSeen === text) return;
    this.lastSeen = text;
    if (record.policyText === undefined) this.logger.warn(`the policy ConfigMap has no key ${POLICY_KEY}: built-in defaults apply`);
    const result = loadPolicyText(text);
    if (!result.ok) {
      this.lastErrors = result.errors;
      this.options.onInvalid?.();
      this.logger.error(
        { errors: result.errors, resourceVersion: record.metadata.resourceVersion, inForce: this.isLoaded ? this.source : 'none (not ready)' },
        `${POLICY_KEY} is invalid; the last valid policy stays in force`,
      );
      void this.options.recorder?.invalidPolicy(
        {
          namespace: this.options.namespace,
          name: this.options.configMapName,
          uid: record.metadata.uid,
          resourceVersion: record.metadata.resourceVersion,
        },
        `${POLICY_KEY} is invalid; the last valid policy stays in force: ${describePolicyErrors(result.errors)}`,
      );
      this.options.onChange?.();
      return;
    }
    this.apply(result.policy, 'configmap', { resourceVersion: record.metadata.resourceVersion });
  }

  private absent(why: 'deleted' | 'not found'): void {
    if (this.lastSeen === null) return;
    this.lastSeen = null;
    this.logger.warn(
      `POLICY CONFIGMAP ${why.toUpperCase()}: ${this.options.namespace}/${this.options.configMapName} ${why === 'deleted' ? 'was deleted' : 'does not exist'}; the built-in default policy is now in force`,
    );
    this.apply(DEFAULT_POLICY, 'default', {});
  }

  private apply(policy: Policy, source: PolicySource, context: Record<string, unknown>): void {
    const changed = changedPolicyFields(this.resolver.policy, policy);
    const first = !this.isLoaded;
    this.resolver = new PolicyResolver(policy, this.options.scope ?? {});
    this.isLoaded = true;
    this.source = source;
    this.lastErrors = undefined;
    this.options.onApplied?.(source);
    this.logger.info({ ...context, source, changed }, first ? 'policy loaded' : changed.length === 0 ? 'policy reloaded; no field changed' : `policy reloaded; changed: ${changed.join(', ')}`);
    this.options.onChange?.();
  }
}
