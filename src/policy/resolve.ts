import type { NamespaceView } from '../snapshot/types.ts';
import { BUILTIN_PUBLIC_REGISTRIES } from './builtin-registries.ts';
import type { Access, EffectiveMode, Policy, RegistryRule } from './schema.ts';
import { MODES } from './modes.ts';
import { imageTarget, parseKeyringKey, type ImageTarget } from '../credentials/keyring.ts';
import { compiledPolicyPatternMatches, compilePolicyPattern, type CompiledPolicyPattern } from './pattern-match.ts';
import { StringMemo } from '../image/string-memo.ts';
import { BUILTIN_POD_TEMPLATES, PodTemplateKinds } from '../workloads/pod-templates.ts';

/** A registry rule with its host patterns normalised once, the way the kubelet normalises auths keys. */
interface CompiledRule {
  readonly patterns: readonly CompiledPolicyPattern[];
  /** The answer for each pattern, built once: accessFor returns these shared, frozen objects. */
  readonly answers: readonly RegistryAccess[];
}

/** What the namespace-independent part of the policy says about one image name. */
interface ImageRules {
  /** The first rule pattern that matches, or undefined when `defaultAccess` applies. */
  readonly access: RegistryAccess | undefined;
  readonly exempt: boolean;
}

/** Image names whose rule matches are remembered from their second sighting (the same images repeat across pods; one-off ones are not kept). */
export const IMAGE_RULES_MEMO_ENTRIES = 4096;
/** Longer names are matched every time and never kept; real image names are far shorter. */
export const IMAGE_RULES_MEMO_MAX_CHARS = 256;

export interface RegistryAccess {
  readonly access: Access;
  /** The pattern that decided, or undefined when `defaultAccess` applied. */
  readonly matchedPattern: string | undefined;
  readonly builtin: boolean;
  /**
   * True for the built-in rule of registries that host private repositories too (ghcr.io,
   * docker.io organisations, ...): the image is private when a namespace key covers it.
   */
  readonly privateWhenKeyed: boolean;
  readonly preferredSecrets: readonly string[];
}

/** The policy as it applies to one namespace, after exclusions, the mode label and overrides. */
export interface EffectivePolicy {
  readonly mode: EffectiveMode;
  /** Why the mode is what it is: `policy`, `excluded`, `label pullguard.io/mode=dry-run`, `override[2]`. */
  readonly modeSource: string;
  readonly defaultAccess: Access;
  readonly latestWithIfNotPresent: Policy['latestWithIfNotPresent'];
  readonly expiredCredentials: Policy['expiredCredentials'];
  readonly shortLivedCredentials: Policy['shortLivedCredentials'];
  readonly dockerHubAnonymous: Policy['dockerHubAnonymous'];
  readonly neverPullCredentials: Policy['neverPullCredentials'];
  readonly injectionEnabled: boolean;
  readonly injectTemplates: boolean;
  readonly preferredSecrets: readonly string[];
  accessFor(imageName: string): RegistryAccess;
  isExempt(imageName: string): boolean;
  /**
   * accessFor(imageName), or undefined when isExempt(imageName): one lookup for both. `targetOf`
   * gives imageTarget(name) from where the caller keeps it (asked only on a miss).
   */
  accessUnlessExempt(imageName: string, targetOf?: (name: string) => ImageTarget): RegistryAccess | undefined;
}

/** What the state behind a policy can see; the policy resolves namespaces it cannot see to `off`. */
export interface ResolverScope {
  /**
   * Namespaces whose pull secrets are watched (`serve --secret-namespaces`); undefined: every
   * namespace. Elsewhere the webhook cannot tell a missing secret from an unwatched one, so it
   * does not check at all rather than deny pods whose secrets exist.
   */
  readonly secretNamespaces?: ReadonlySet<string> | undefined;
}

/** modeSource of a namespace whose secrets are not watched. */
export const UNWATCHED_SECRETS_SOURCE = 'its secrets are not watched: --secret-namespaces';

/**
 * Compiles a policy once (rules normalised, per-namespace results cached) so that resolving a
 * namespace and an image costs a map lookup and a few label comparisons on the request path.
 */
export class PolicyResolver {
  readonly policy: Policy;
  private readonly rules: readonly CompiledRule[];
  private readonly exempt: readonly CompiledPolicyPattern[];
  private readonly excluded: ReadonlySet<string>;
  private readonly secretNamespaces: ReadonlySet<string> | undefined;
  /** Rule matches by image name: they do not depend on the namespace, so every namespace shares them. */
  private readonly imageRules: StringMemo<ImageRules>;
  private readonly cache = new WeakMap<NamespaceView, EffectivePolicy>();
  private readonly byName = new Map<string, EffectivePolicy>();

  /** Custom resources carrying a pod template: the policy's entries, then the built-in ones. */
  readonly podTemplates: PodTemplateKinds;

  constructor(policy: Policy, scope: ResolverScope = {}) {
    this.policy = policy;
    this.secretNamespaces = scope.secretNamespaces;
    this.podTemplates = new PodTemplateKinds([...policy.workloads.podTemplates, ...(policy.workloads.builtinPodTemplates ? BUILTIN_POD_TEMPLATES : [])]);
    const all: ReadonlyArray<RegistryRule & { privateWhenKeyed?: boolean }> = [
      ...policy.registries,
      ...(policy.builtinRegistries ? BUILTIN_PUBLIC_REGISTRIES : []),
    ];
    this.rules = all.map((rule, index) => {
      const patterns = rule.hosts.map((host) => parseKeyringKey(host)).filter((key): key is string => key !== undefined);
      // Rules after the policy's own come from the built-in list; explanations say so.
      const builtin = index >= policy.registries.length;
      const answers = patterns.map((pattern): RegistryAccess =>
        Object.freeze({
          access: rule.access,
          matchedPattern: pattern,
          builtin,
          privateWhenKeyed: rule.privateWhenKeyed === true,
          preferredSecrets: rule.preferredSecrets,
        }),
      );
      return { patterns: patterns.map(compilePolicyPattern), answers };
    });
    this.exempt = policy.exemptImages.map((host) => parseKeyringKey(host)).filter((key): key is string => key !== undefined).map(compilePolicyPattern);
    this.excluded = new Set(policy.namespaces.exclude);
    this.imageRules = new StringMemo((imageName) => this.matchImage(imageTarget(imageName)), {
      maxEntries: IMAGE_RULES_MEMO_ENTRIES,
      maxKeyChars: IMAGE_RULES_MEMO_MAX_CHARS,
      secondSighting: true,
    });
  }

  /** The rule matches of an image, remembered (imageRules); `target` compiles the name on a miss. */
  private rulesOf(imageName: string, targetOf: ((name: string) => ImageTarget) | undefined): ImageRules {
    const known = this.imageRules.peek(imageName);
    if (known !== undefined) return known;
    const rules = this.matchImage(targetOf === undefined ? imageTarget(imageName) : targetOf(imageName));
    this.imageRules.remember(imageName, rules);
    return rules;
  }

  /** The first matching rule pattern (rules in order, patterns in order) and whether the image (target.name) is exempt. */
  private matchImage(target: ImageTarget): ImageRules {
    let access: RegistryAccess | undefined;
    search: for (const rule of this.rules) {
      const patterns = rule.patterns;
      for (let at = 0; at < patterns.length; at++) {
        if (compiledPolicyPatternMatches(patterns[at] as CompiledPolicyPattern, target)) {
          access = rule.answers[at];
          break search;
        }
      }
    }
    let exempt = false;
    for (const pattern of this.exempt) {
      if (compiledPolicyPatternMatches(pattern, target)) {
        exempt = true;
        break;
      }
    }
    return Object.freeze({ access, exempt });
  }

  /** The effective policy of a namespace; `view` undefined means "exists, unlabelled". */
  forNamespace(name: string, view: NamespaceView | undefined): EffectivePolicy {
    if (view !== undefined) {
      const cached = this.cache.get(view);
      if (cached !== undefined) return cached;
      const effective = this.resolve(name, view.labels);
      this.cache.set(view, effective);
      return effective;
    }
    let effective = this.byName.get(name);
    if (effective === undefined) {
      effective = this.resolve(name, {});
      if (this.byName.size > 10_000) this.byName.clear(); // bounded: unknown namespaces are rare
      this.byName.set(name, effective);
    }
    return effective;
  }

  private resolve(name: string, labels: Readonly<Record<string, string>>): EffectivePolicy {
    const policy = this.policy;
    let mode: EffectiveMode = policy.mode;
    let modeSource = 'policy';
    let defaultAccess = policy.defaultAccess;
    let latestWithIfNotPresent = policy.latestWithIfNotPresent;
    let expiredCredentials = policy.expiredCredentials;
    let injectionEnabled = policy.injection.enabled;

    policy.namespaces.overrides.forEach((override, index) => {
      const byName = override.names?.includes(name) ?? false;
      const matchLabels = override.matchLabels;
      const byLabels = matchLabels !== undefined && Object.keys(matchLabels).length > 0 &&
        Object.entries(matchLabels).every(([key, value]) => labels[key] === value);
      if (!byName && !byLabels) return;
      // Later overrides refine earlier ones, field by field.
      if (override.mode !== undefined) {
        mode = override.mode;
        modeSource = `namespaces.overrides[${index}]`;
      }
      defaultAccess = override.defaultAccess ?? defaultAccess;
      latestWithIfNotPresent = override.latestWithIfNotPresent ?? latestWithIfNotPresent;
      expiredCredentials = override.expiredCredentials ?? expiredCredentials;
      injectionEnabled = override.injection?.enabled ?? injectionEnabled;
    });

    const labelled = labels[policy.namespaces.modeLabel];
    if (labelled !== undefined && (labelled === 'off' || (MODES as readonly string[]).includes(labelled))) {
      mode = labelled as EffectiveMode;
      modeSource = `label ${policy.namespaces.modeLabel}=${labelled}`;
    }
    if (this.excluded.has(name)) {
      mode = 'off';
      modeSource = 'namespaces.exclude';
    } else if (this.secretNamespaces !== undefined && !this.secretNamespaces.has(name)) {
      mode = 'off';
      modeSource = UNWATCHED_SECRETS_SOURCE;
    }

    const rulesOf = (imageName: string, targetOf?: (name: string) => ImageTarget): ImageRules => this.rulesOf(imageName, targetOf);
    const defaultResult: RegistryAccess = Object.freeze({
      access: defaultAccess,
      matchedPattern: undefined,
      builtin: false,
      privateWhenKeyed: false,
      preferredSecrets: [],
    });
    return Object.freeze({
      mode,
      modeSource,
      defaultAccess,
      latestWithIfNotPresent,
      expiredCredentials,
      shortLivedCredentials: policy.shortLivedCredentials,
      dockerHubAnonymous: policy.dockerHubAnonymous,
      neverPullCredentials: policy.neverPullCredentials,
      injectionEnabled,
      injectTemplates: policy.injection.templates,
      preferredSecrets: policy.injection.preferredSecrets,
      accessFor(imageName: string): RegistryAccess {
        return rulesOf(imageName).access ?? defaultResult;
      },
      isExempt(imageName: string): boolean {
        return rulesOf(imageName).exempt;
      },
      accessUnlessExempt(imageName: string, targetOf?: (name: string) => ImageTarget): RegistryAccess | undefined {
        const rules = rulesOf(imageName, targetOf);
        return rules.exempt ? undefined : (rules.access ?? defaultResult);
      },
    });
  }
}
