import type { CredentialKey, KeyringMatch, PullSecretView } from '../credentials/types.ts';
import { lookupKeyring } from '../credentials/keyring.ts';
import type { Finding, FindingCode, Severity } from '../findings/catalogue.ts';
import { isLatestOrUntagged, parseImageReference } from '../image/reference.ts';
import type { ImageReference } from '../image/types.ts';
import type { EffectivePolicy, PolicyResolver } from '../policy/resolve.ts';
import type { ClusterSnapshot } from '../snapshot/types.ts';
import type { ContainerRef, PodSpecRef } from '../workloads/extract.ts';
import { denySubject, fit, formatDuration, listNames } from './messages.ts';
import type {
  ContainerDecision,
  CredentialSource,
  CredentialUsed,
  PodDecision,
  ReferenceSummary,
  SecretConsidered,
  Verdict,
} from './types.ts';

export interface DecideInput {
  readonly spec: PodSpecRef;
  readonly namespace: string;
  readonly snapshot: ClusterSnapshot;
  readonly policy: PolicyResolver;
  /** Epoch milliseconds: the clock is an input so the core stays pure. */
  readonly now: number;
  /**
   * True at pod admission: the ServiceAccount admission plugin has already run, so the pod's list is
   * final. False for templates and manifests on disk: an empty list means "the SA's list".
   */
  readonly secretsFinal: boolean;
  /** Check only these container paths (pod UPDATE: changed images, new ephemeral containers). */
  readonly onlyContainers?: ReadonlySet<string> | undefined;
  /** Annotations of the object: mirror pods are left alone. */
  readonly annotations?: Readonly<Record<string, string>> | undefined;
  /**
   * False when a template cannot be patched now even if the policy injects into templates (an
   * UPDATE: only CREATE is mutated). Injection is then described as what pods will get.
   */
  readonly templatePatchAllowed?: boolean | undefined;
}

const MIRROR_POD_ANNOTATION = 'kubernetes.io/config.mirror';
const DOCKER_HUB = 'docker.io';

interface ResolvedSecret {
  readonly considered: SecretConsidered;
  readonly view: PullSecretView | undefined;
  /** Where the name comes from: `spec.imagePullSecrets[2]`, or the ServiceAccount field for its secrets. */
  readonly path: string;
}

/** The single decision every front door (webhook, review, audit, explain) calls. Pure and synchronous. */
export function decide(input: DecideInput): PodDecision {
  const { spec, namespace, snapshot } = input;
  const effective = input.policy.forNamespace(namespace, snapshot.namespace(namespace));
  const skippedBase = {
    kind: spec.kind,
    namespace,
    mode: effective.mode,
    modeSource: effective.modeSource,
    decision: 'allow' as Verdict,
    inject: [],
    patchNames: [],
    secretsSource: 'none' as const,
    secrets: [],
    containers: [],
    findings: [],
  };
  if (effective.mode === 'off') return { ...skippedBase, skipped: `namespace ${namespace} is not checked (${effective.modeSource})` };
  if (input.annotations?.[MIRROR_POD_ANNOTATION] !== undefined) {
    return { ...skippedBase, skipped: 'mirror pods are created by the kubelet and never admitted by the ServiceAccount plugin' };
  }

  const podFindings: Finding[] = [];
  // Duplicates add nothing for the kubelet; deduplicating also keeps the work linear in the spec.
  const listed = unique(spec.imagePullSecrets.filter((name) => name !== ''));
  // The ServiceAccount plugin copies the SA's list only when the pod's is empty, counting entries
  // without a name too: `imagePullSecrets: [{}]` stops the copy.
  const hasOwnList = spec.imagePullSecrets.length > 0;
  const saSecrets = snapshot.serviceAccountPullSecrets(namespace, spec.serviceAccountName);
  let names: readonly string[];
  let secretsSource: PodDecision['secretsSource'];
  let nameSource: CredentialSource;
  if (input.secretsFinal || hasOwnList) {
    names = listed;
    const copiedFromSa = input.secretsFinal && saSecrets !== undefined && saSecrets.length > 0 && sameList(listed, saSecrets);
    nameSource = copiedFromSa ? 'serviceAccount' : 'pod';
    secretsSource = listed.length === 0 ? 'none' : nameSource;
  } else {
    names = saSecrets ?? [];
    nameSource = 'serviceAccount';
    secretsSource = names.length === 0 ? 'none' : 'serviceAccount';
    if (saSecrets === undefined && spec.serviceAccountName !== 'default') {
      podFindings.push({
        code: 'ServiceAccountNotFound',
        severity: 'info',
        path: `${spec.specPath}.serviceAccountName`,
        message: fit('ServiceAccount ', spec.serviceAccountName, ' not found; its imagePullSecrets were not considered'),
      });
    }
  }

  const resolved = names.map((name) => {
    const listedAt = spec.imagePullSecrets.indexOf(name);
    const path = listedAt >= 0 ? `${spec.specPath}.imagePullSecrets[${listedAt}]` : `${spec.specPath}.serviceAccountName`;
    return resolveSecret(snapshot, namespace, name, nameSource, path);
  });
  const usable = resolved.filter((entry) => entry.considered.status === 'usable').map((entry) => entry.view as PullSecretView);
  const malformed = resolved.filter((entry) => entry.considered.status === 'malformed');
  // Secrets of the SA that the pod's own list shadows (copy-if-empty rule). Looked up only when a
  // container is not covered: most pods never need them.
  let shadowed: readonly PullSecretView[] | undefined;
  const shadowedSaSecrets = (): readonly PullSecretView[] =>
    (shadowed ??=
      hasOwnList && saSecrets !== undefined
        ? saSecrets.filter((name) => !listed.includes(name)).map((name) => snapshot.secret(namespace, name)).filter(isUsable)
        : []);

  // A template is patched only when the policy asks, the operation allows it, and the patch cannot
  // hide secrets we do not know: adding a list to a template whose SA is unknown would stop the
  // ServiceAccount plugin from copying that SA's secrets into every pod.
  const patchesTemplate =
    spec.isTemplate && effective.injectTemplates && input.templatePatchAllowed !== false && (hasOwnList || saSecrets !== undefined);
  const context: ContainerContext = {
    input,
    effective,
    patchesTemplate,
    names,
    nameSource,
    resolved,
    usable,
    malformed,
    shadowedSaSecrets,
    chosen: [],
    citedSecrets: new Set<string>(),
  };
  const containers: ContainerDecision[] = [];
  for (const container of spec.containers) {
    if (input.onlyContainers !== undefined && !input.onlyContainers.has(container.path)) continue;
    containers.push(decideContainer(container, context));
  }

  for (const entry of resolved) {
    if (context.citedSecrets.has(entry.considered.name)) continue;
    if (entry.considered.status === 'not-found' || entry.considered.status === 'wrong-type') {
      podFindings.push(secretProblemFinding(entry, spec, 'warn', namespace, input.snapshot.seesAllSecretTypes));
    }
  }

  const decision: Verdict = containers.some((c) => c.decision === 'deny')
    ? 'deny'
    : containers.some((c) => c.decision === 'inject')
      ? 'inject'
      : 'allow';
  const inject = decision === 'inject' || context.chosen.length > 0 ? [...context.chosen] : [];
  // A template without a list gets the SA's secrets with the injected ones, or its pods would lose them.
  const patchNames =
    spec.isTemplate && !patchesTemplate ? [] : inject.length > 0 && !hasOwnList && !input.secretsFinal ? unique([...names, ...inject]) : inject;
  return {
    kind: spec.kind,
    namespace,
    mode: effective.mode,
    modeSource: effective.modeSource,
    decision,
    inject,
    patchNames,
    secretsSource,
    secrets: resolved.map((entry) => entry.considered),
    containers,
    findings: podFindings,
    skipped: undefined,
  };
}

interface ContainerContext {
  readonly input: DecideInput;
  readonly effective: EffectivePolicy;
  /** True when injection patches this template now; otherwise pods get the secret at creation. */
  readonly patchesTemplate: boolean;
  readonly names: readonly string[];
  readonly nameSource: CredentialSource;
  readonly resolved: readonly ResolvedSecret[];
  readonly usable: readonly PullSecretView[];
  readonly malformed: readonly ResolvedSecret[];
  /** The SA's usable secrets that the pod's own list shadows, computed on first use. */
  readonly shadowedSaSecrets: () => readonly PullSecretView[];
  /** Secrets picked for injection so far, in order: later containers reuse them first. */
  readonly chosen: string[];
  /** Secrets already blamed by a container finding (not repeated at pod level). */
  readonly citedSecrets: Set<string>;
}

const INVALID_REFERENCE: ReferenceSummary = {
  valid: false,
  normalized: null,
  registry: null,
  repository: null,
  tag: null,
  digest: null,
};

function summarize(reference: ImageReference): ReferenceSummary {
  return {
    valid: true,
    normalized: reference.normalized,
    registry: reference.domain,
    repository: reference.path,
    tag: reference.tag ?? null,
    digest: reference.digest ?? null,
  };
}

function decideContainer(container: ContainerRef, context: ContainerContext): ContainerDecision {
  const { effective, input } = context;
  const imagePath = `${container.path}.image`;
  const findings: Finding[] = [];
  const image = container.image ?? '';
  if (container.image === undefined || image.trim() === '') {
    findings.push({
      code: 'InvalidImageReference',
      severity: 'deny',
      path: imagePath,
      message: `${container.name}: no image is set (the field is missing, empty or not a string); set image to a reference like registry.example.com/team/app:1.0`,
    });
    return result(container, image, INVALID_REFERENCE, null, null, null, 'deny', findings);
  }
  const parsed = parseImageReference(image);
  if (!parsed.ok) {
    findings.push({
      code: 'InvalidImageReference',
      severity: 'deny',
      path: imagePath,
      message: fit(`${container.name}: image "`, image, `" is invalid: ${parsed.error}`, 'deny'),
    });
    return result(container, image, INVALID_REFERENCE, null, null, null, 'deny', findings);
  }
  const reference = parsed.reference;
  const summary = summarize(reference);
  if (effective.isExempt(reference.name)) {
    findings.push({ code: 'ExemptImage', severity: 'info', path: imagePath, message: fit(`${container.name}: `, reference.name, ' is exempt by policy; not checked') });
    return result(container, image, summary, null, null, null, 'allow', findings);
  }

  const access = effective.accessFor(reference.name);
  if (container.imagePullPolicy === 'IfNotPresent' && isLatestOrUntagged(reference) && effective.latestWithIfNotPresent !== 'ignore') {
    findings.push({
      code: 'LatestWithIfNotPresent',
      severity: effective.latestWithIfNotPresent,
      path: `${container.path}.imagePullPolicy`,
      message: fit(`${container.name}: `, image, ' is latest/untagged with IfNotPresent: nodes may run different builds; pin a tag'),
    });
  }

  const firstMalformed = context.malformed[0];
  if (firstMalformed !== undefined) {
    // One finding per container however many secrets are broken: a review cannot grow the answer
    // quadratically (containers x listed secrets).
    for (const entry of context.malformed) context.citedSecrets.add(entry.considered.name);
    const others = context.malformed.length > 1 ? ` (and ${listNames(context.malformed.slice(1).map((entry) => entry.considered.name))})` : '';
    findings.push({
      code: 'PullSecretMalformed',
      severity: 'deny',
      path: firstMalformed.path,
      message: `${container.name}: secret ${firstMalformed.considered.name}${others} is malformed (${firstMalformed.considered.detail ?? 'undecodable'}); the kubelet fails every pull`,
    });
  }

  // A malformed secret makes the kubelet fail every pull of the pod: that is the whole story,
  // and injecting another secret would not help.
  if (context.malformed.length > 0) {
    return result(container, image, summary, access.access, access.matchedPattern ?? null, null, 'deny', findings);
  }

  const matches = context.usable.length > 0 ? lookupKeyring(context.usable, reference.name) : [];
  const live = matches.find((match) => isUsableCredential(match.key, input.now));
  if (live !== undefined) {
    const credential: CredentialUsed = { secret: live.secret, key: live.key.raw, source: context.nameSource };
    addShortLivedFinding(findings, container, live, effective, input.now);
    return result(container, image, summary, access.access, access.matchedPattern ?? null, credential, verdictOf(findings), findings);
  }

  if (access.access === 'node') {
    return result(container, image, summary, 'node', access.matchedPattern ?? null, null, verdictOf(findings), findings);
  }
  if (access.access === 'public') {
    if (reference.domain === DOCKER_HUB && effective.dockerHubAnonymous !== 'ignore') {
      // A warning is read by a person: name the namespace secret that would do, when there is one.
      const hubSecret = effective.dockerHubAnonymous === 'warn' ? findInjectionCandidate(context, reference, access.preferredSecrets) : undefined;
      const fix = hubSecret !== undefined ? `list secret ${hubSecret}, which covers it` : 'add a Docker Hub secret';
      findings.push({
        code: 'AnonymousPullRateLimited',
        severity: effective.dockerHubAnonymous,
        path: imagePath,
        message: fit(`${container.name}: `, reference.name, ` pulls anonymously from Docker Hub (rate-limited); ${fix}`),
      });
    }
    return result(container, image, summary, 'public', access.matchedPattern ?? null, null, verdictOf(findings), findings);
  }

  // access: secret, and nothing the pod will have covers the image.
  const expired = matches.some((match) => !match.key.anonymous && isExpired(match.key, input.now));
  const candidate = findInjectionCandidate(context, reference, access.preferredSecrets);
  const injecting = candidate !== undefined && effective.injectionEnabled;
  const cause = uncoveredCause(container, reference, context, expired, injecting);
  if (cause !== undefined) findings.push(cause);

  if (injecting) {
    if (!context.chosen.includes(candidate)) context.chosen.push(candidate);
    findings.push({
      code: 'InjectedPullSecret',
      severity: 'warn',
      path: `${input.spec.specPath}.imagePullSecrets`,
      message: fit(
        `${container.name}: ${input.spec.isTemplate && !context.patchesTemplate ? 'pods will get' : 'injected'} imagePullSecrets ${candidate} for `,
        reference.domain,
        '',
      ),
    });
    const credential: CredentialUsed = { secret: candidate, key: candidateKey(context, candidate, reference.name), source: 'injected' };
    const verdict = verdictOf(findings);
    return result(container, image, summary, 'secret', access.matchedPattern ?? null, credential, verdict === 'deny' ? 'deny' : 'inject', findings);
  }
  return result(container, image, summary, 'secret', access.matchedPattern ?? null, null, verdictOf(findings), findings);
}

/** The most specific explanation of why a `secret`-access image is not covered. */
function uncoveredCause(
  container: ContainerRef,
  reference: ImageReference,
  context: ContainerContext,
  expired: boolean,
  injecting: boolean,
): Finding | undefined {
  const { input, effective } = context;
  const imagePath = `${container.path}.image`;
  // When injection fixes the pod, the cause is still worth a warning, except the plain "no key" case.
  const severity: Severity = injecting ? 'warn' : 'deny';
  // A registry host has no length limit in a reference: it is a subject like any other.
  const registry = denySubject(reference.domain);
  if (expired) {
    if (effective.expiredCredentials === 'ignore') return undefined;
    const expiredSecrets = context.usable.filter((view) => lookupKeyring([view], reference.name).some((match) => isExpired(match.key, input.now))).map((view) => view.name);
    return {
      code: 'CredentialExpired',
      severity: injecting ? 'warn' : effective.expiredCredentials,
      path: imagePath,
      message: fit(`${container.name}: token for `, registry, ` in ${listNames(expiredSecrets)} has expired; refresh the secret or use node credentials`, injecting ? 'warn' : effective.expiredCredentials),
    };
  }
  // A listed secret that is missing or of the wrong type is the likeliest cause: blame it first.
  const broken =
    context.resolved.find((entry) => entry.considered.status === 'not-found') ??
    context.resolved.find((entry) => entry.considered.status === 'wrong-type');
  if (broken !== undefined) {
    context.citedSecrets.add(broken.considered.name);
    const finding = secretProblemFinding(broken, input.spec, severity, input.namespace, input.snapshot.seesAllSecretTypes);
    return { ...finding, path: imagePath, message: `${container.name}: ${finding.message}` };
  }
  const shadowed = context.shadowedSaSecrets().find((view) => hasLiveMatch(view, reference.name, input.now));
  if (shadowed !== undefined) {
    return {
      code: 'ServiceAccountSecretsIgnored',
      severity,
      path: `${input.spec.specPath}.imagePullSecrets`,
      message: fit(`${container.name}: pod lists its own pull secrets, so SA secret ${shadowed.name} (covers `, registry, ') is ignored; list it too', severity),
    };
  }
  if (injecting) return undefined;
  const anonymousOnly = lookupKeyring(context.usable, reference.name).filter((match) => match.key.anonymous);
  if (anonymousOnly.length > 0) {
    const holder = anonymousOnly[0] as KeyringMatch;
    return {
      code: 'NoMatchingCredential',
      severity: 'deny',
      path: imagePath,
      message: `${container.name}: secret ${holder.secret} has a key for ${registry} (${denySubject(holder.key.raw)}) but no username and password (empty, null or identitytoken only), so the kubelet pulls anonymously; put credentials in that entry`,
    };
  }
  const lookedAt = context.names.length === 0 ? 'pod has no imagePullSecrets' : `looked at ${listNames(context.names)}`;
  return {
    code: 'NoMatchingCredential',
    severity: 'deny',
    path: imagePath,
    message: `${container.name}: no pull secret has a key for ${registry} (${lookedAt}); create a docker-registry secret for ${registry} and list it in imagePullSecrets`,
  };
}

function secretProblemFinding(entry: ResolvedSecret, spec: PodSpecRef, severity: Severity, namespace: string, seesAllTypes: boolean): Finding {
  const name = entry.considered.name;
  const path = entry.path;
  if (entry.considered.status === 'wrong-type') {
    return { code: 'PullSecretWrongType', severity, path, message: fit('secret ', name, ` is ${entry.considered.detail ?? 'not a pull secret'}`, severity) };
  }
  const hint = seesAllTypes ? '' : ' (or not of a pull-secret type)';
  const code: FindingCode = 'PullSecretNotFound';
  return { code, severity, path, message: fit('secret ', name, ` not found in namespace ${namespace}${hint}; create it or fix the name`, severity) };
}

function findInjectionCandidate(context: ContainerContext, reference: ImageReference, rulePreferred: readonly string[]): string | undefined {
  const { input } = context;
  const candidates = input.snapshot
    .pullSecrets(input.namespace)
    .filter((view) => view.usable && !context.names.includes(view.name) && hasLiveMatch(view, reference.name, input.now));
  if (candidates.length === 0) return undefined;
  // Secrets already chosen, then the policy's preferences, then the SA's own secrets that the pod's
  // list shadows (the owner meant the pod to have them), then by name.
  const preferred = [...context.chosen, ...rulePreferred, ...context.effective.preferredSecrets, ...context.shadowedSaSecrets().map((view) => view.name)];
  for (const name of preferred) {
    if (candidates.some((view) => view.name === name)) return name;
  }
  return candidates[0]?.name; // pullSecrets() is sorted by name: deterministic
}

function candidateKey(context: ContainerContext, name: string, imageName: string): string {
  const view = context.input.snapshot.secret(context.input.namespace, name);
  if (view === undefined) return '';
  const match = lookupKeyring([view], imageName).find((m) => isUsableCredential(m.key, context.input.now));
  return match?.key.raw ?? '';
}

function hasLiveMatch(view: PullSecretView, imageName: string, now: number): boolean {
  return lookupKeyring([view], imageName).some((match) => isUsableCredential(match.key, now));
}

function addShortLivedFinding(findings: Finding[], container: ContainerRef, match: KeyringMatch, effective: EffectivePolicy, now: number): void {
  if (effective.shortLivedCredentials === 'ignore') return;
  const expiresAt = match.key.expiresAt;
  if (!match.key.shortLived && expiresAt === undefined) return;
  const when = expiresAt !== undefined ? `expires in ${formatDuration(expiresAt - now)}` : 'lasts about an hour';
  findings.push({
    code: 'ShortLivedCredential',
    severity: effective.shortLivedCredentials,
    path: `${container.path}.image`,
    message: fit(`${container.name}: secret `, match.secret, ` holds a short-lived token (${when}); refresh it automatically or use node credentials`),
  });
}

function isExpired(key: CredentialKey, now: number): boolean {
  return key.expiresAt !== undefined && key.expiresAt <= now;
}

/**
 * A key that matches and carries a credential that still works. Keys from `{}`, `null` or
 * identitytoken-only entries match in the kubelet but hand the runtime empty credentials: an
 * anonymous pull, which does not cover a private image.
 */
function isUsableCredential(key: CredentialKey, now: number): boolean {
  return !key.anonymous && !isExpired(key, now);
}

function resolveSecret(snapshot: ClusterSnapshot, namespace: string, name: string, source: CredentialSource, path: string): ResolvedSecret {
  const view = snapshot.secret(namespace, name);
  if (view === undefined) {
    return { path, view, considered: { name, source, status: 'not-found', detail: undefined, keys: [] } };
  }
  const keys = view.keys.map((key) => key.key);
  if (view.usable) return { path, view, considered: { name, source, status: 'usable', detail: undefined, keys } };
  const status = view.problem?.kind === 'malformed' ? 'malformed' : 'wrong-type';
  return { path, view, considered: { name, source, status, detail: view.problem?.detail, keys } };
}

function isUsable(view: PullSecretView | undefined): view is PullSecretView {
  return view !== undefined && view.usable;
}

function verdictOf(findings: readonly Finding[]): Verdict {
  return findings.some((finding) => finding.severity === 'deny') ? 'deny' : 'allow';
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((name, index) => name === b[index]);
}

function unique(names: readonly string[]): string[] {
  return [...new Set(names)];
}

function result(
  container: ContainerRef,
  image: string,
  reference: ReferenceSummary,
  access: ContainerDecision['access'],
  accessRule: string | null,
  credential: CredentialUsed | null,
  decision: Verdict,
  findings: Finding[],
): ContainerDecision {
  return { name: container.name, path: container.path, image, reference, access, accessRule, credential, decision, findings };
}
