import { DOCKER_CONFIG_JSON_TYPE, type CredentialKey, type KeyringMatch, type PullSecretView, type WorkMeter } from '../credentials/types.ts';
import { imageTarget, lookupKeyring, type ImageTarget } from '../credentials/keyring.ts';
import type { Finding, FindingCode, Severity } from '../findings/catalogue.ts';
import { isLatestOrUntagged, parseImageReference } from '../image/reference.ts';
import type { ImageReference } from '../image/types.ts';
import type { EffectivePolicy, PolicyResolver } from '../policy/resolve.ts';
import { nodeIdentityHint } from '../policy/cloud-registries.ts';
import { unmatchableAuthsKeyReason } from '../policy/pattern-check.ts';
import type { Access } from '../policy/schema.ts';
import type { ClusterSnapshot } from '../snapshot/types.ts';
import { PRESIZED_CONTAINERS, type ContainerRef, type PodSpecRef } from '../workloads/extract.ts';
import { DECIDE_WORK_BUDGET } from './limits.ts';
import { DENY_SUBJECT_MAX_CHARS, denySubject, fit, formatDuration, joinedWithin, listNames, shorten } from './messages.ts';
import { ListAdvisor, NEW_SECRET } from './list-advice.ts';
import { namespaceKeyMatches, type NamespaceKeyMatch } from './namespace-keys.ts';
import { podSecrets, unique, type PodSecrets, type ResolvedSecret } from './pod-secrets.ts';
import type {
  ContainerDecision,
  CredentialUsed,
  PodDecision,
  ReferenceSummary,
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
  /**
   * True for a pod UPDATE (a changed image, an ephemeral container): the pod's imagePullSecrets can
   * no longer change, so fixes say how to recreate the pod instead of "list it".
   */
  readonly podUpdate?: boolean | undefined;
  /** The work budget (DECIDE_WORK_BUDGET unless given): tests give a small one. */
  readonly workBudget?: number | undefined;
}

export const MIRROR_POD_ANNOTATION = 'kubernetes.io/config.mirror';
const DOCKER_HUB = 'docker.io';

/** The single decision every front door (webhook, review, audit, explain) calls. Pure and synchronous. */
export function decide(input: DecideInput): PodDecision {
  const { spec, namespace, snapshot } = input;
  const effective = snapshot.resolveNamespace(namespace, input.policy);
  if (effective.mode === 'off') return skippedDecision(spec, namespace, effective, `namespace ${namespace} is not checked (${effective.modeSource})`);
  if (input.annotations?.[MIRROR_POD_ANNOTATION] !== undefined) {
    return skippedDecision(spec, namespace, effective, 'mirror pod of a static pod: admitted and validated by the API server but not mutated (the ServiceAccount plugin leaves it alone and the kubelet runs it whatever we answer); not checked');
  }

  const podFindings: Finding[] = [];
  const secrets = podSecrets(spec, namespace, snapshot, input.secretsFinal);
  const { hasOwnList, saSecrets, names, usable } = secrets;
  // At pod admission the ServiceAccount plugin has already rejected a pod whose ServiceAccount does
  // not exist; templates and manifests have not met it yet. `default` is created in every namespace.
  if (!input.secretsFinal && saSecrets === undefined && spec.serviceAccountName !== 'default') {
    podFindings.push(serviceAccountNotFound(spec, namespace, snapshot.serviceAccountsComplete(namespace), hasOwnList));
  }
  // Likewise a name the ServiceAccount does not allow (kubernetes.io/enforce-mountable-secrets).
  if (!input.secretsFinal && hasOwnList && saSecrets?.enforceMountableSecrets === true) {
    const notMountable = pullSecretNotMountable(spec, saSecrets);
    if (notMountable !== undefined) podFindings.push(notMountable);
  }

  // A template is patched only when the policy asks, the operation allows it, and the patch cannot
  // hide secrets we do not know: adding a list to a template whose SA is unknown would stop the
  // ServiceAccount plugin from copying that SA's secrets into every pod.
  const patchesTemplate =
    spec.isTemplate && effective.injectTemplates && input.templatePatchAllowed !== false && (hasOwnList || saSecrets !== undefined);
  const context: ContainerContext = {
    input,
    effective,
    patchesTemplate,
    secrets,
    usable,
    chosen: [],
    chosenViews: [],
    citedSecrets: undefined,
    pulls: [],
    meter: { spent: 0, limit: input.workBudget ?? DECIDE_WORK_BUDGET },
    targetsByImage: undefined,
    matchesByImage: undefined,
    namespaceAnswers: undefined,
    advisor: undefined,
    adviceSlots: undefined,
    pendingSlot: undefined,
    namesNewSecret: undefined,
    advice: undefined,
    recreateList: undefined,
    recreateSpan: undefined,
    pendingRecreate: undefined,
    recreateSlots: undefined,
    targetOf: (name: string): ImageTarget => targetOf(context, name),
  };
  const only = input.onlyContainers;
  const checked = only === undefined ? spec.containers : spec.containers.filter((container) => only.has(container.path));
  // Sized for every container of a pod at once (a pushed list grows to 17 slots for a pod's
  // three); a list of thousands grows as it is filled instead.
  const containers: ContainerDecision[] = checked.length <= PRESIZED_CONTAINERS ? new Array(checked.length) : [];
  let decidedCount = 0;
  for (const container of checked) {
    const decided = decideContainer(container, context, decidedCount);
    // An answer that rests on lookups cut short is dropped: the pod is denied unchecked from there.
    if (overBudget(context)) break;
    containers[decidedCount++] = container.imagePullPolicy === 'Never' && effective.neverPullCredentials === 'warn' ? capNeverPulled(decided) : decided;
  }
  containers.length = decidedCount;
  if (!overBudget(context) && context.chosenViews.length > 0) recheckAfterInjection(containers, context);
  // A decision cut by the budget was not checked to the end: it injects nothing (a patch for a pod
  // that validation denies), and the containers that counted on an injection say what covers them.
  const cut = overBudget(context);
  if (cut) {
    podFindings.push(budgetFinding(spec, containers.length, checked.length, context.meter.limit));
    if (context.chosen.length > 0) withdrawInjections(containers, checked, context);
  }
  // Advice that names the list to write is the same for every container: made once, now that the
  // secrets the decision injects (or would have) are known.
  if (context.adviceSlots !== undefined) fillListAdvice(containers, context);
  if (context.recreateSlots !== undefined) fillRecreateLists(containers, context);
  const advisesNewSecret = context.namesNewSecret === true;

  for (const entry of secrets.resolved) {
    if (context.citedSecrets?.has(entry.considered.name) === true) continue;
    if (entry.considered.status === 'not-found' || entry.considered.status === 'wrong-type') {
      podFindings.push(secretProblemFinding(entry, spec, 'warn', namespace, input.snapshot.seesAllSecretTypes));
    }
  }

  const decision: Verdict = containers.some((c) => c.decision === 'deny') || podFindings.some((finding) => finding.severity === 'deny')
    ? 'deny'
    : containers.some((c) => c.decision === 'inject')
      ? 'inject'
      : 'allow';
  const inject = !cut && (decision === 'inject' || context.chosen.length > 0) ? [...context.chosen] : NO_NAMES;
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
    advisesNewSecret,
    secretsSource: secrets.secretsSource,
    secrets: secrets.considered,
    containers,
    findings: podFindings,
    skipped: undefined,
  };
}

/** A decision that checked nothing, and why. */
function skippedDecision(spec: PodSpecRef, namespace: string, effective: EffectivePolicy, skipped: string): PodDecision {
  return {
    kind: spec.kind,
    namespace,
    mode: effective.mode,
    modeSource: effective.modeSource,
    decision: 'allow',
    inject: [],
    patchNames: [],
    advisesNewSecret: false,
    secretsSource: 'none',
    secrets: [],
    containers: [],
    findings: [],
    skipped,
  };
}

/**
 * The first name of the spec's own list that its ServiceAccount, which enforces mountable secrets,
 * does not list: the ServiceAccount admission plugin rejects the pod at that entry (it stops at
 * the first, and checks entries without a name too), before any webhook sees it.
 */
function pullSecretNotMountable(spec: PodSpecRef, saSecrets: readonly string[]): Finding | undefined {
  const allowed = new Set(saSecrets);
  const index = spec.imagePullSecrets.findIndex((name) => !allowed.has(name));
  if (index === -1) return undefined;
  const name = spec.imagePullSecrets[index] as string;
  const account = spec.serviceAccountName;
  return {
    code: 'PullSecretNotMountable',
    severity: 'warn',
    path: `${spec.specPath}.imagePullSecrets[${index}]`,
    message: name === ''
      ? fit(`imagePullSecrets[${index}] has no name, and ServiceAccount `, account, ' has kubernetes.io/enforce-mountable-secrets: "true", so the API server rejects every pod: drop the entry')
      : fit('secret ', name, ` is not in the imagePullSecrets of ServiceAccount ${shorten(account, 63)}, which has kubernetes.io/enforce-mountable-secrets: "true", so the API server rejects every pod: add it to the ServiceAccount's imagePullSecrets, or drop it from the pod's`),
  };
}

/**
 * A ServiceAccount the snapshot does not hold. When the snapshot holds every ServiceAccount of the
 * namespace (the live cluster, or offline state that lists them), it does not exist and the
 * ServiceAccount plugin will reject every pod made from this spec: a warning with the fix.
 * Otherwise only its pull secrets are unknown: information.
 */
function serviceAccountNotFound(spec: PodSpecRef, namespace: string, complete: boolean, hasOwnList: boolean): Finding {
  const path = `${spec.specPath}.serviceAccountName`;
  if (complete) {
    return {
      code: 'ServiceAccountNotFound',
      severity: 'warn',
      path,
      message: fit('ServiceAccount ', spec.serviceAccountName, ` does not exist in ${namespace}; the API server rejects every pod: create it or fix the name`),
    };
  }
  const consequence = hasOwnList ? 'not found in the given state; pass --state with its namespace' : 'not found; its imagePullSecrets were not considered';
  return { code: 'ServiceAccountNotFound', severity: 'info', path, message: fit('ServiceAccount ', spec.serviceAccountName, ` ${consequence}`, 'info') };
}

interface ContainerContext {
  readonly input: DecideInput;
  readonly effective: EffectivePolicy;
  /** True when injection patches this template now; otherwise pods get the secret at creation. */
  readonly patchesTemplate: boolean;
  /** The pod's pull secrets resolved in its namespace (shared by every decision with the same list there). */
  readonly secrets: PodSecrets;
  /** secrets.usable: the keyring the pod has before any injection. */
  readonly usable: readonly PullSecretView[];
  /** Secrets picked for injection so far, in order: later containers reuse them first. */
  readonly chosen: string[];
  readonly chosenViews: PullSecretView[];
  /** Images found pullable, to re-check once the injected secrets join the keyring. */
  readonly pulls: PullRecord[];
  /** The work budget every keyring lookup of this decision draws from. */
  readonly meter: WorkMeter;
  /** Per image name, within this decision: containers repeat images, and a lookup's answer depends only on the name. */
  /** Created on first use, like the other sets here: most decisions need few of them. */
  targetsByImage: ByImage<ImageTarget> | undefined;
  /** targetOf(this, name), made once per decision (the policy asks it for first-seen images). */
  readonly targetOf: (name: string) => ImageTarget;
  matchesByImage: ByImage<readonly KeyringMatch[]> | undefined;
  /** The namespace-wide lookup of each image asked for (charged to the budget once). */
  namespaceAnswers: ByImage<readonly NamespaceKeyMatch[]> | undefined;
  /** Secrets already blamed by a container finding (not repeated at pod level). */
  citedSecrets: Set<string> | undefined;
  /** Advice on the list to write (listAdvisor()): made on first use. */
  advisor: ListAdvisor | undefined;
  /** Container findings whose fix is filled in once the decision is made (fillListAdvice). */
  adviceSlots: AdviceSlot[] | undefined;
  /** Set by uncoveredCause when its finding leaves room for the fix: where, and for which registry. */
  pendingSlot: { readonly offset: number; readonly registry: string } | undefined;
  /** Whether the decision's list names NEW-SECRET (namesNewSecret()), decided once. */
  namesNewSecret: boolean | undefined;
  /** The decision's list advice (decisionAdvice()), made once. */
  advice: string | undefined;
  /** The pod's own list for runningPodAdvice, made once. */
  recreateList: RecreateList | undefined;
  /** Where the list runningPodAdvice just wrote sits in its text, and the name it adds, until a finding takes it. */
  recreateSpan: RecreateSpan | undefined;
  /** Set by uncoveredCause when its finding holds runningPodAdvice's list: where, in its message. */
  pendingRecreate: RecreateSpan | undefined;
  /** Findings that name the list to recreate a pod with, filled in once every container is decided. */
  recreateSlots: RecreateSlot[] | undefined;
}

/**
 * Where a text names the list to recreate the pod with, and the name that container adds to it:
 * `segment` spans the list and the names for the ServiceAccount route after it, `list` the list
 * alone, `name` nothing (the text names no list, but its secret belongs in the others').
 */
interface RecreateSpan {
  readonly start: number;
  readonly end: number;
  readonly name: string;
  readonly kind: 'segment' | 'list' | 'name';
}

/** A container finding's RecreateSpan (fillRecreateLists). */
interface RecreateSlot extends RecreateSpan {
  readonly at: number;
  readonly index: number;
}

/** Where a container finding's message takes its fix, which names the decision's list. */
interface AdviceSlot {
  /** Index in the decision's container list. */
  readonly at: number;
  /** Index in that container's findings. */
  readonly index: number;
  /** Offset in the finding's message. */
  readonly offset: number;
  /** The registry the secret to create is for. */
  readonly registry: string;
}

function listAdvisor(context: ContainerContext): ListAdvisor {
  return (context.advisor ??= new ListAdvisor({
    spec: context.input.spec,
    saSecrets: context.secrets.saSecrets,
    viaServiceAccount: fromServiceAccount(context.secrets),
    secretsFinal: context.input.secretsFinal,
  }));
}

/**
 * True when the decision's list names NEW-SECRET, a secret to create: a container still decided
 * needs one, and "list it in imagePullSecrets" would not do (the list must keep the ServiceAccount's
 * secrets, also in a pod whose list extends the ServiceAccount's copy; or the ServiceAccount
 * enforces mountable secrets; or the spec lists none and other containers are told a list for the
 * secrets the namespace has). Decided once, after the containers.
 */
function namesNewSecret(context: ContainerContext, decided: number): boolean {
  if (context.namesNewSecret === undefined) {
    const advisor = listAdvisor(context);
    context.namesNewSecret = context.adviceSlots?.some((slot) => slot.at < decided) === true &&
      (advisor.needsListAdvice() || advisor.extendsServiceAccountList() || (!advisor.addsToOwnList() && context.chosen.length > 0));
  }
  return context.namesNewSecret;
}

/**
 * The list to write for the whole decision: the secrets it injects (or would have, when cut), then
 * NEW-SECRET when the decision names it. Made once, after the containers are decided; every
 * finding that names a list names this one.
 */
function decisionAdvice(context: ContainerContext, decided: number): string {
  context.advice ??= listAdvisor(context).advice(namesNewSecret(context, decided) ? [...context.chosen, NEW_SECRET] : context.chosen);
  return context.advice;
}

/**
 * Puts each uncovered container's fix into the finding that left room for it (containers dropped by
 * a budget cut excepted): the decision's list with NEW-SECRET, or "list it in imagePullSecrets"
 * when that keeps every secret the spec has and no other container is told a list.
 */
function fillListAdvice(containers: ContainerDecision[], context: ContainerContext): void {
  const named = namesNewSecret(context, containers.length);
  for (const slot of context.adviceSlots ?? []) {
    const container = containers[slot.at];
    const finding = container?.findings[slot.index];
    if (container === undefined || finding === undefined) continue;
    const fix = named
      ? `create a docker-registry secret ${NEW_SECRET} for ${slot.registry} and ${decisionAdvice(context, containers.length)}`
      : `create a docker-registry secret for ${slot.registry} and list it in imagePullSecrets`;
    const findings = [...container.findings];
    findings[slot.index] = { ...finding, message: finding.message.slice(0, slot.offset) + fix + finding.message.slice(slot.offset) };
    containers[slot.at] = { ...container, findings };
  }
}

/**
 * `neverPullCredentials: warn`: what would deny a pull only warns for an image the kubelet never
 * pulls (an injection still happens: it gives the pod the credentials the node may ask for).
 */
function capNeverPulled(decision: ContainerDecision): ContainerDecision {
  if (decision.decision !== 'deny') return decision;
  const findings = decision.findings.map((finding) => (finding.severity === 'deny' && finding.code !== 'InvalidImageReference' ? { ...finding, severity: 'warn' as const } : finding));
  const verdict = verdictOf(findings) === 'deny' ? 'deny' : decision.credential?.source === 'injected' ? 'inject' : 'allow';
  return { ...decision, decision: verdict, findings };
}

/** A container found pullable: what it needs from the final keyring. */
interface PullRecord {
  /** Index in the decision's container list. */
  readonly at: number;
  readonly imageName: string;
  readonly needs: Access;
}

/**
 * The injected secrets join one keyring with the pod's own: a key of theirs can match another
 * container's image directly and so hide the `index.docker.io` fallback that covered it, or bring
 * an expired token to a public image. Validation will judge the patched pod, so judge it here too:
 * a container the final keyring no longer serves is denied, naming the injected secrets.
 */
function recheckAfterInjection(containers: ContainerDecision[], context: ContainerContext): void {
  // Lookups cut short by the budget answer nothing, which would look like keys that stopped
  // serving: a recheck that overspends changes nothing (the decision injects nothing then).
  let unserved: PullRecord[] | undefined;
  for (const pull of context.pulls) {
    if (!servedBy(context.chosenViews, pull, context)) (unserved ??= []).push(pull);
    if (overBudget(context)) return;
  }
  if (unserved === undefined) return;
  for (const pull of unserved) {
    const container = containers[pull.at] as ContainerDecision;
    const finding: Finding = {
      code: 'NoMatchingCredential',
      severity: 'deny',
      path: `${container.path}.image`,
      message: `${container.name}: injecting ${listNames(context.chosen)} for other containers gives the kubelet a key for ${container.reference.registry ?? container.image} without working credentials, which hides the one that covers it now; fix that secret's entry or list a covering secret explicitly`,
    };
    containers[pull.at] = { ...container, decision: 'deny', findings: [...container.findings, finding] };
  }
}

/**
 * A decision cut by the work budget injects nothing: each container decided before the cut that
 * counted on an injected secret loses it, and is denied (as validation denies an unpatched pod
 * that needs one), naming the namespace secret that covers its image and the list that would
 * hold it: the names an uncut decision would have patched (a pod UPDATE never injects, so never
 * gets here).
 */
function withdrawInjections(containers: ContainerDecision[], checked: readonly ContainerRef[], context: ContainerContext): void {
  const { input, effective } = context;
  const spec = input.spec;
  // What was cut, said for the kind at hand: a template's pods are decided again, each on its own, when created.
  const cutShort = spec.isTemplate
    ? `the check of this ${spec.kind}'s pod template was cut short (DecisionBudgetExceeded), so no injection is counted on (its pods are checked again, each on its own, when created)`
    : 'the check of this pod was cut short (DecisionBudgetExceeded), so nothing is injected into it';
  const whose = spec.isTemplate ? `the ${spec.kind}'s pods get` : 'of the pod';
  const fix = decisionAdvice(context, containers.length);
  for (let at = 0; at < containers.length; at++) {
    const container = containers[at] as ContainerDecision;
    const credential = container.credential;
    if (credential?.source !== 'injected') continue;
    const findings = container.findings.filter((finding) => finding.code !== 'InjectedPullSecret');
    if (verdictOf(findings) !== 'deny') {
      const neverPulled = checked[at]?.imagePullPolicy === 'Never' && effective.neverPullCredentials === 'warn';
      const registry = denySubject(container.reference.registry ?? container.image);
      findings.push({
        code: 'NoMatchingCredential',
        severity: neverPulled ? 'warn' : 'deny',
        path: `${container.path}.image`,
        message: `${container.name}: no pull secret ${whose} covers ${registry}; secret ${denySubject(credential.secret)} in the namespace does, but ${cutShort}: ${fix}`,
      });
    }
    containers[at] = { ...container, credential: null, decision: verdictOf(findings), findings };
  }
}

/**
 * True when the spec's pull secrets are its ServiceAccount's: a template or manifest that lists
 * none, or a pod whose list the ServiceAccount plugin copied (it equals the ServiceAccount's). The
 * spec's author then wrote no list, and a list written now must keep the ServiceAccount's names.
 */
function fromServiceAccount(secrets: PodSecrets): boolean {
  return !secrets.hasOwnList || secrets.nameSource === 'serviceAccount';
}

/** Whether the kubelet, with the pod's usable secrets and `injected`, still pulls what a container found pullable needs. */
function servedBy(injected: readonly PullSecretView[], pull: PullRecord, context: ContainerContext): boolean {
  if (pull.needs === 'node') return true;
  const matches = context.secrets.keyringMatches(injected, pull.imageName, context.targetOf, context.meter);
  return matches.some((match) => isUsableCredential(match.key, context.input.now)) ||
    (pull.needs === 'public' && (matches.length === 0 || matches.some((match) => match.key.anonymous)));
}

/** Other covering secrets tried when the preferred one would break a container already found pullable. */
const INJECTION_ALTERNATIVES_TRIED = 8;

/**
 * The preferred candidate unless adding it to the keyring would stop serving a container already
 * found pullable (a key of its own hides that container's fallback, or brings it a token without
 * credentials); then the first of a few other covering secrets that breaks none. When every one
 * breaks something, the preferred one stays, and recheckAfterInjection denies with the reason.
 */
function harmlessChoice(pick: NamespaceKeyMatch, viable: readonly NamespaceKeyMatch[], context: ContainerContext): NamespaceKeyMatch {
  if (context.pulls.length === 0) return pick;
  const harmless = (entry: NamespaceKeyMatch): boolean => {
    const injected = [...context.chosenViews, entry.view];
    return context.pulls.every((pull) => servedBy(injected, pull, context));
  };
  if (harmless(pick)) return pick;
  let tried = 0;
  for (const entry of viable) {
    if (entry === pick) continue;
    if (tried++ >= INJECTION_ALTERNATIVES_TRIED || overBudget(context)) break;
    if (harmless(entry)) return entry;
  }
  return pick;
}

const NO_VIEWS: readonly PullSecretView[] = [];
/** No secrets to inject: most decisions share this one (frozen) list. */
const NO_NAMES: readonly string[] = Object.freeze([]);

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

/**
 * The Docker Hub warning's fix, in a few words (the image's name comes first and keeps the room).
 * A list written to name the secret must keep the ServiceAccount's secrets (the short form of the
 * list advice). A running pod's list cannot change at all (a pod UPDATE): a changed image is
 * pulled with the secret once the pod is recreated with it listed too (ListAdvisor.runningBrief),
 * as its denials say; an ephemeral container pulls with the running pod's secrets whatever is
 * done, so only its image can change (as runningPodAdvice says for a denial).
 */
function dockerHubFix(context: ContainerContext, container: ContainerRef, secret: string | undefined): string {
  if (context.input.podUpdate === true) {
    if (container.group === 'ephemeralContainers') return 'use an image the pod\'s secrets cover';
    return secret === undefined ? 'recreate the pod listing a Hub secret' : listAdvisor(context).runningBrief(secret);
  }
  return secret === undefined ? 'add a Docker Hub secret' : listAdvisor(context).brief(secret);
}

/** `spec.containers[0].image`: built only for a finding (most containers have none). */
function imagePathOf(container: ContainerRef): string {
  return `${container.path}.image`;
}

function decideContainer(container: ContainerRef, context: ContainerContext, at: number): ContainerDecision {
  const { effective, input } = context;
  const findings: Finding[] = [];
  const image = container.image ?? '';
  if (container.image === undefined || image.trim() === '') {
    findings.push({
      code: 'InvalidImageReference',
      severity: 'deny',
      path: imagePathOf(container),
      message: container.group === 'volumes'
        ? `${container.name}: image volume has no reference (image.reference is missing, empty or not a string); set it to a reference like registry.example.com/team/data:1.0`
        : `${container.name}: no image is set (the field is missing, empty or not a string); set image to a reference like registry.example.com/team/app:1.0`,
    });
    return result(container, image, INVALID_REFERENCE, null, null, null, 'deny', findings);
  }
  const parsed = parseImageReference(image);
  if (!parsed.ok) {
    findings.push({
      code: 'InvalidImageReference',
      severity: 'deny',
      path: imagePathOf(container),
      message: fit(`${container.name}: image "`, image, `" is invalid: ${parsed.error}`, 'deny'),
    });
    return result(container, image, INVALID_REFERENCE, null, null, null, 'deny', findings);
  }
  const reference = parsed.reference;
  const summary = summarize(reference);
  // A first-seen image is compiled for matching once: the policy's rules and the keyring share it.
  const access = effective.accessUnlessExempt(reference.name, context.targetOf);
  if (access === undefined) {
    findings.push({ code: 'ExemptImage', severity: 'info', path: imagePathOf(container), message: fit(`${container.name}: `, reference.name, ' is exempt by policy; not checked') });
    return result(container, image, summary, null, null, null, 'allow', findings);
  }

  if (container.imagePullPolicy === 'IfNotPresent' && isLatestOrUntagged(reference) && effective.latestWithIfNotPresent !== 'ignore') {
    findings.push({
      code: 'LatestWithIfNotPresent',
      severity: effective.latestWithIfNotPresent,
      path: container.pullPolicyPath,
      message: fit(`${container.name}: `, image, ' is latest/untagged with IfNotPresent: nodes may run different builds; pin a tag'),
    });
  }

  // imagePullPolicy Never: the kubelet never pulls, so a missing credential fails nothing unless
  // the policy asks (KubeletEnsureSecretPulledImages may refuse a cached private image).
  if (container.imagePullPolicy === 'Never') {
    findings.push({
      code: 'ImageNeverPulled',
      severity: 'info',
      path: container.pullPolicyPath,
      message: fit(`${container.name}: imagePullPolicy Never: `, reference.name, ' is never pulled; preload it on every node', 'info'),
    });
    if (effective.neverPullCredentials === 'ignore') {
      return result(container, image, summary, access.access, access.matchedPattern ?? null, null, verdictOf(findings), findings);
    }
  }

  const firstMalformed = context.secrets.malformed[0];
  if (firstMalformed !== undefined) {
    // One finding per container however many secrets are broken: a review cannot grow the answer
    // quadratically (containers x listed secrets).
    const cited = (context.citedSecrets ??= new Set());
    if (!cited.has(firstMalformed.considered.name)) for (const entry of context.secrets.malformed) cited.add(entry.considered.name);
    const others = context.secrets.malformedOthers;
    findings.push({
      code: 'PullSecretMalformed',
      severity: 'deny',
      path: firstMalformed.path,
      message: `${container.name}: secret ${firstMalformed.considered.name}${others} is malformed (${firstMalformed.considered.detail ?? 'undecodable'}); the kubelet fails every pull`,
    });
  }

  // A malformed secret makes the kubelet fail every pull of the pod: that is the whole story,
  // and injecting another secret would not help.
  if (context.secrets.malformed.length > 0) {
    return result(container, image, summary, access.access, access.matchedPattern ?? null, null, 'deny', findings);
  }

  const ownMatches = matchesOf(context, reference.name);
  const live = firstUsable(ownMatches, input.now);
  const privateBy = access.privateWhenKeyed ? privateEvidence(context, reference, ownMatches) : undefined;
  // A well-known public registry's image is private when the cluster holds credentials for it.
  const accessNow: Access = privateBy !== undefined ? 'secret' : access.access;
  const rule = access.matchedPattern ?? null;
  if (live !== undefined) {
    const credential: CredentialUsed = { secret: live.secret, key: live.key.raw, source: context.secrets.nameSource };
    addShortLivedFinding(findings, container, live, effective, input.now);
    context.pulls.push({ at, imageName: reference.name, needs: accessNow });
    return result(container, image, summary, accessNow, rule, credential, verdictOf(findings), findings);
  }

  // When a key of the pod matches, the kubelet hands the runtime those credentials and never
  // falls back to its own identity alone or to an anonymous pull: an expired token fails.
  const expired = anyExpired(ownMatches, input.now);
  if (accessNow === 'node') {
    if (expired && effective.expiredCredentials !== 'ignore') {
      findings.push({
        code: 'CredentialExpired',
        severity: 'warn',
        path: imagePathOf(container),
        message: fit(`${container.name}: token for `, reference.domain, ` in ${listNames(expiredSecrets(context, reference))} has expired; the node's own credentials are tried after it`),
      });
    }
    return result(container, image, summary, 'node', rule, null, verdictOf(findings), findings);
  }
  // Keys without credentials ({}, identitytoken only) make the runtime pull anonymously: fine here.
  const anonymousPull = ownMatches.length === 0 || anyAnonymous(ownMatches);
  if (accessNow === 'public' && anonymousPull) {
    if (reference.domain === DOCKER_HUB && effective.dockerHubAnonymous !== 'ignore') {
      // A warning is read by a person: name the namespace secret that would do, when there is one.
      const hubSecret = effective.dockerHubAnonymous === 'warn' ? chooseInjection(context, reference, access.preferredSecrets, ownMatches) : undefined;
      // A secret the ServiceAccount must list first (it enforces mountable secrets) is named too, with that step.
      const named = hubSecret?.kind === 'inject' || (hubSecret?.kind === 'blocked' && hubSecret.why === 'mountable') ? hubSecret.name : undefined;
      const fix = dockerHubFix(context, container, named);
      findings.push({
        code: 'AnonymousPullRateLimited',
        severity: effective.dockerHubAnonymous,
        path: imagePathOf(container),
        message: fit(`${container.name}: `, reference.name, ` pulls anonymously from Docker Hub (rate-limited); ${fix}`),
      });
    }
    context.pulls.push({ at, imageName: reference.name, needs: 'public' });
    return result(container, image, summary, 'public', rule, null, verdictOf(findings), findings);
  }

  // A credential is needed (access: secret, or a public image whose only matching keys expired),
  // and nothing the pod will have provides one.
  const choice = chooseInjection(context, reference, access.preferredSecrets, ownMatches);
  // A namespace secret covers the image. A running pod's list cannot change (a pod UPDATE): it is
  // named in a denial with how to recreate the pod, never injected; the causes explain it as they
  // explain an injection.
  const covered = choice?.kind === 'inject' && effective.injectionEnabled;
  const injecting = covered && input.podUpdate !== true;
  const cause = uncoveredCause(container, reference, context, expired, covered, accessNow, access.matchedPattern !== undefined);
  if (cause !== undefined) {
    // A denial says everything that led to it: why a public registry counted as private, and why
    // the namespace secret that would cover the image could not be injected.
    const notes: string[] = [];
    if (cause.severity === 'deny' && privateBy !== undefined) notes.push(privateNote(reference, privateBy));
    if (cause.severity === 'deny' && choice?.kind === 'blocked') notes.push(blockedNote(choice, reference, input.spec.serviceAccountName));
    findings.push(notes.length === 0 ? cause : { ...cause, message: `${cause.message}; ${notes.join('; ')}` });
    const pending = context.pendingSlot;
    if (pending !== undefined) {
      (context.adviceSlots ??= []).push({ at, index: findings.length - 1, offset: pending.offset, registry: pending.registry });
      context.pendingSlot = undefined;
    }
    const recreate = context.pendingRecreate;
    if (recreate !== undefined) {
      (context.recreateSlots ??= []).push({ at, index: findings.length - 1, ...recreate });
      context.pendingRecreate = undefined;
    }
  }

  if (covered && !injecting && choice?.kind === 'inject') {
    const registry = denySubject(reference.domain);
    const why = privateBy === undefined ? '' : `; ${privateNote(reference, privateBy)}`;
    const head = `${container.name}: no pull secret of this pod covers ${registry}; secret ${denySubject(choice.name)} in the namespace does, but `;
    findings.push({
      code: 'NoMatchingCredential',
      severity: 'deny',
      path: imagePathOf(container),
      message: `${head}${runningPodAdvice(context, container, choice.name)}${why}`,
    });
    const span = takeRecreateSpan(context, head.length);
    if (span !== undefined) (context.recreateSlots ??= []).push({ at, index: findings.length - 1, ...span });
    return result(container, image, summary, accessNow, rule, null, verdictOf(findings), findings);
  }
  if (injecting && choice?.kind === 'inject') {
    const candidate = choice.name;
    if (!context.chosen.includes(candidate)) {
      context.chosen.push(candidate);
      context.chosenViews.push(choice.view);
    }
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
    const credential: CredentialUsed = { secret: candidate, key: choice.key, source: 'injected' };
    const verdict = verdictOf(findings);
    context.pulls.push({ at, imageName: reference.name, needs: 'secret' });
    return result(container, image, summary, accessNow, rule, credential, verdict === 'deny' ? 'deny' : 'inject', findings);
  }
  return result(container, image, summary, accessNow, rule, null, verdictOf(findings), findings);
}

/** Evidence that an image of a shared public registry is private here: a key with credentials for it. */
interface PrivateEvidence {
  readonly secret: string;
  readonly key: string;
}

/**
 * The first credential-bearing key the kubelet would use for the image, among the pod's secrets
 * first, then every pull secret of the namespace (the ServiceAccount's included). Keys without
 * credentials say nothing: the kubelet pulls anonymously with them.
 */
function privateEvidence(context: ContainerContext, reference: ImageReference, ownMatches: readonly KeyringMatch[]): PrivateEvidence | undefined {
  const own = ownMatches.find((match) => !match.key.anonymous);
  if (own !== undefined) return { secret: own.secret, key: own.key.raw };
  const { snapshot, namespace } = context.input;
  for (const entry of namespaceMatches(context, snapshot.pullSecrets(namespace), reference.name)) {
    const match = entry.matches.find((candidate) => !candidate.key.anonymous);
    if (match !== undefined) return { secret: entry.view.name, key: match.key.raw };
  }
  return undefined;
}

function privateNote(reference: ImageReference, evidence: PrivateEvidence): string {
  return `${denySubject(reference.domain)} is a well-known public registry, but secret ${denySubject(evidence.secret)} in the namespace has a key for it (${denySubject(evidence.key)}), so the image is treated as private`;
}

/** What injection can do for an uncovered image. */
type InjectionChoice =
  | { readonly kind: 'inject'; readonly name: string; readonly view: PullSecretView; readonly key: string }
  /** A namespace secret covers the image alone but cannot be used; `why` says what stops it. */
  | { readonly kind: 'blocked'; readonly name: string; readonly why: 'keyring'; readonly holder: KeyringMatch }
  | { readonly kind: 'blocked'; readonly name: string; readonly why: 'mountable' };

function blockedNote(choice: Extract<InjectionChoice, { kind: 'blocked' }>, reference: ImageReference, serviceAccount: string): string {
  if (choice.why === 'mountable') {
    return `secret ${denySubject(choice.name)} in the namespace would cover it, but ServiceAccount ${denySubject(serviceAccount)} has kubernetes.io/enforce-mountable-secrets: "true" and does not list it, so the API server would reject the pod with it; add it to ServiceAccount ${denySubject(serviceAccount)}'s imagePullSecrets`;
  }
  const holder = choice.holder;
  return `secret ${denySubject(choice.name)} in the namespace would cover it, but the pod's secret ${denySubject(holder.secret)} has a key for ${denySubject(reference.domain)} (${denySubject(holder.key.raw)}) without working credentials, which the kubelet uses instead (the index.docker.io fallback applies only when no key matches); fix or remove that entry`;
}

/**
 * The namespace secret to inject for an uncovered image, judged on the keyring the pod will have
 * after the patch (its own secrets, the ones already chosen, and the candidate), exactly as
 * validation will judge the patched pod:
 * - a candidate whose key reaches the image only through the `index.docker.io` fallback does not
 *   help when a key of the pod matches the image directly (the fallback is then never read);
 * - when the ServiceAccount enforces mountable secrets, only the secrets it lists may be added.
 * Preference: secrets already chosen, the rule's and the policy's preferences, the
 * ServiceAccount's secrets the pod's list shadows (the owner meant the pod to have them), then by name.
 */
function chooseInjection(
  context: ContainerContext,
  reference: ImageReference,
  rulePreferred: readonly string[],
  ownMatches: readonly KeyringMatch[],
): InjectionChoice | undefined {
  const { input } = context;
  const now = input.now;
  const covering = namespaceMatches(context, input.snapshot.pullSecrets(input.namespace), reference.name).filter(
    (entry) => !context.secrets.nameSet.has(entry.view.name) && entry.matches.some((match) => isUsableCredential(match.key, now)),
  );
  if (covering.length === 0) return undefined;
  const keyring = context.chosenViews.length === 0 ? ownMatches : context.secrets.keyringMatches(context.chosenViews, reference.name, context.targetOf, context.meter);
  const directHolder = keyring.find((match) => !match.viaDockerHubFallback);
  const reaches = (entry: NamespaceKeyMatch): boolean => directHolder === undefined || !(entry.matches[0] as KeyringMatch).viaDockerHubFallback;
  const account = context.secrets.saSecrets;
  const mountable = (entry: NamespaceKeyMatch): boolean => account?.enforceMountableSecrets !== true || account.includes(entry.view.name);
  const viable = covering.filter((entry) => reaches(entry) && mountable(entry));
  const first = viable[0];
  if (first === undefined) {
    const reaching = covering.find(reaches);
    if (reaching !== undefined) return { kind: 'blocked', name: reaching.view.name, why: 'mountable' };
    return { kind: 'blocked', name: (covering[0] as NamespaceKeyMatch).view.name, why: 'keyring', holder: directHolder as KeyringMatch };
  }
  // Looked up by name, list by list: the lists can be as long as the namespace's secrets. One
  // viable secret (the usual case) needs no map.
  let viableByName: Map<string, NamespaceKeyMatch> | undefined;
  if (viable.length > 1) {
    viableByName = new Map();
    for (const entry of viable) if (!viableByName.has(entry.view.name)) viableByName.set(entry.view.name, entry);
  }
  const firstName = first.view.name;
  let pick = first;
  search: for (const list of [context.chosen, rulePreferred, context.effective.preferredSecrets, context.secrets.shadowedSaSecretNames()]) {
    context.meter.spent += list.length;
    for (const name of list) {
      const found = viableByName === undefined ? (name === firstName ? first : undefined) : viableByName.get(name);
      if (found !== undefined) {
        pick = found;
        break search;
      }
    }
  }
  pick = harmlessChoice(pick, viable, context);
  const key = pick.matches.find((match) => isUsableCredential(match.key, now))?.key.raw ?? '';
  return { kind: 'inject', name: pick.view.name, view: pick.view, key };
}

function expiredSecrets(context: ContainerContext, reference: ImageReference): string[] {
  const now = context.input.now;
  const target = targetOf(context, reference.name);
  return context.usable.filter((view) => lookupKeyring([view], target, context.meter).some((match) => isExpired(match.key, now))).map((view) => view.name);
}

/** The most specific explanation of why an image that needs a credential is not covered. */
function uncoveredCause(
  container: ContainerRef,
  reference: ImageReference,
  context: ContainerContext,
  expired: boolean,
  injecting: boolean,
  access: Access,
  /** False when defaultAccess decided (no policy rule names the registry): the fix may be a rule. */
  ruleNamesRegistry: boolean,
): Finding | undefined {
  const { input, effective } = context;
  const imagePath = `${container.path}.image`;
  // When injection fixes the pod, the cause is still worth a warning, except the plain "no key" case.
  const severity: Severity = injecting ? 'warn' : 'deny';
  // A registry host has no length limit in a reference: it is a subject like any other.
  const registry = denySubject(reference.domain);
  if (expired) {
    if (effective.expiredCredentials === 'ignore') return undefined;
    const level = injecting ? 'warn' : effective.expiredCredentials;
    // For a public image the kubelet still sends the stale token: no anonymous retry.
    const fix = access === 'public' ? 'the kubelet sends it and does not retry anonymously: refresh or remove it' : 'refresh the secret or use node credentials';
    return {
      code: 'CredentialExpired',
      severity: level,
      path: imagePath,
      message: fit(`${container.name}: token for `, registry, ` in ${listNames(expiredSecrets(context, reference))} has expired; ${fix}`, level),
    };
  }
  // A listed secret that is missing or of the wrong type is the likeliest cause: blame it first.
  const broken = context.secrets.firstBroken;
  if (broken !== undefined) {
    (context.citedSecrets ??= new Set()).add(broken.considered.name);
    const finding = secretProblemFinding(broken, input.spec, severity, input.namespace, input.snapshot.seesAllSecretTypes, input.podUpdate === true);
    return { ...finding, path: imagePath, message: `${container.name}: ${finding.message}` };
  }
  const target = targetOf(context, reference.name);
  const shadowed = context.secrets.shadowedSaSecrets().find((view) => hasLiveMatch(view, target, input.now, context.meter));
  if (shadowed !== undefined) {
    let message: string;
    if (input.podUpdate === true) {
      const head = `${container.name}: pod lists its own pull secrets, so SA secret ${shadowed.name} (covers ${registry}) was not copied; `;
      message = `${head}${runningPodAdvice(context, container, shadowed.name)}`;
      context.pendingRecreate = takeRecreateSpan(context, head.length);
    } else {
      message = fit(`${container.name}: pod lists its own pull secrets, so SA secret ${shadowed.name} (covers `, registry, ') is ignored; list it too', severity);
    }
    return { code: 'ServiceAccountSecretsIgnored', severity, path: `${input.spec.specPath}.imagePullSecrets`, message };
  }
  if (injecting) return undefined;
  const anonymousOnly = matchesOf(context, reference.name).filter((match) => match.key.anonymous);
  if (anonymousOnly.length > 0) {
    const holder = anonymousOnly[0] as KeyringMatch;
    return {
      code: 'NoMatchingCredential',
      severity: 'deny',
      path: imagePath,
      message: `${container.name}: secret ${holder.secret} has a key for ${registry} (${denySubject(holder.key.raw)}) but no username and password (empty, null or identitytoken only), so the kubelet pulls anonymously; put credentials in that entry`,
    };
  }
  // Listed secrets that exist but do not help are named with why: they are what a user checks first.
  const lookedAt = context.secrets.names.length === 0 ? 'pod has no imagePullSecrets' : `looked at ${listNames(context.secrets.names)}`;
  // A registry no rule names may simply be public: offer the policy route next to the secret.
  const orRule = ruleNamesRegistry
    ? ''
    : `, or, if ${registry} needs no pull secret, add a policy registries rule for it (access: public, or access: node when nodes pull with their own identity)`;
  const unmatched = context.usable.length === 0 ? '' : `; ${context.secrets.describeUsable(describeUnmatched)}`;
  const what = `no pull secret has a key for ${registry} (${lookedAt})${unmatched}`;
  // The fix names the decision's list, known once every container is decided: the message leaves
  // room for it here, filled in by fillListAdvice. A running pod's list cannot change: no list then.
  let fix = '';
  if (input.podUpdate === true) {
    const create = `create a docker-registry secret ${NEW_SECRET} for ${registry}; `;
    fix = `${create}${runningPodAdvice(context, container, undefined)}`;
    context.pendingRecreate = takeRecreateSpan(context, `${container.name}: ${what}; ${create}`.length);
  }
  const head = `${container.name}: ${what}; ${fix}`;
  if (input.podUpdate !== true) context.pendingSlot = { offset: head.length, registry };
  // Under the default access (no rule named the registry), ECR, Artifact Registry and ACR images
  // are usually pulled by the node itself on their cloud: say so, with the rule, instead of the
  // generic rule advice.
  const hint = access === 'secret' && !ruleNamesRegistry ? nodeIdentityHint(reference.name) : undefined;
  return {
    code: 'NoMatchingCredential',
    severity: 'deny',
    path: imagePath,
    message: `${head}${hint === undefined ? orRule : `; ${hint}`}`,
  };
}

/** Listed secrets that exist but do not cover the image, each with why: what a user checks first. */
function describeUnmatched(views: readonly PullSecretView[]): string {
  const shown = views.slice(0, 3).map((view) => {
    if (view.keys.length === 0) {
      return view.type === DOCKER_CONFIG_JSON_TYPE
        ? `secret ${view.name} holds no auths keys (an empty "auths", or the legacy flat {"host": {...}} layout, which belongs in a kubernetes.io/dockercfg secret under .dockercfg)`
        : `secret ${view.name} holds no keys`;
    }
    const dead = view.keys.find((key) => unmatchableAuthsKeyReason(key.raw) !== undefined);
    const live = view.keys.filter((key) => key !== dead).map((key) => key.key);
    const parts: string[] = [];
    if (live.length > 0) parts.push(`secret ${view.name} has keys for ${listNames(live)} only`);
    if (dead !== undefined) parts.push(`secret ${view.name}: key ${denySubject(dead.raw)} never matches (${denySubject(unmatchableAuthsKeyReason(dead.raw) ?? '')})`);
    return parts.join('; ');
  });
  if (views.length > 3) shown.push(`${views.length - 3} more`);
  return shown.join('; ');
}

/**
 * How a running pod (a pod UPDATE) gets `secret` (undefined: NEW-SECRET, to be created), said after
 * "but": its imagePullSecrets cannot change after creation.
 * - A regular container's image: recreate the pod with its whole list (existing entries kept, in
 *   order; said by reference when it does not fit), or, when its controller's template lists none,
 *   add the secret to the ServiceAccount, which the ServiceAccount plugin copies into the next pods
 *   (and the only way when the ServiceAccount enforces mountable secrets).
 * - An ephemeral container (`kubectl debug`, an UPDATE of pods/ephemeralcontainers): recreating the
 *   pod is not debugging it; it pulls with the pod's secrets, so an image they cover works, or
 *   `kubectl debug --copy-to`, whose new pod is created (and injected into) like any other.
 */
function runningPodAdvice(context: ContainerContext, container: ContainerRef, secret: string | undefined): string {
  const { spec } = context.input;
  const name = secret ?? NEW_SECRET;
  const cannotChange = 'a pod\'s imagePullSecrets cannot change after creation';
  if (container.group === 'ephemeralContainers') {
    // A copy is a new pod, which pullguard patches only in a mode that injects (enforce, warn).
    const copy = context.effective.injectionEnabled && context.effective.mode !== 'dry-run'
      ? `, or use kubectl debug --copy-to (a new pod, which pullguard gives ${secret === undefined ? 'a covering secret' : denySubject(secret)} when it is created)`
      : '';
    return `${cannotChange}, and an ephemeral container pulls with them: debug with an image they cover${copy}`;
  }
  const account = denySubject(spec.serviceAccountName);
  const saSecrets = context.secrets.saSecrets;
  // The text written here names this container's secret; fillRecreateLists puts the decision's one
  // list (every name any container is told, NEW-SECRET last) in its place once every container is
  // decided.
  if (saSecrets?.enforceMountableSecrets === true && secret === undefined) {
    // The ServiceAccount plugin copies the ServiceAccount's list only into a pod that lists none:
    // a pod with a list of its own gets the new secret only by listing it too.
    const ownList = context.secrets.hasOwnList && context.secrets.nameSource === 'pod';
    const head = `${cannotChange}: add ${name} to ServiceAccount ${account}'s imagePullSecrets (it has kubernetes.io/enforce-mountable-secrets: "true", so a pod may list only the secrets it lists), then recreate the pod`;
    if (!ownList) {
      context.recreateSpan = { start: -1, end: -1, name, kind: 'name' };
      return head;
    }
    const list = recreateListText(context, recreateAdded(context, [name]), name);
    context.recreateSpan = { start: head.length + 6, end: head.length + 6 + list.length, name, kind: 'list' };
    return `${head} with ${list}`;
  }
  const head = `${cannotChange}: recreate the pod with `;
  const segment = recreateSegment(context, recreateAdded(context, [name]), name);
  context.recreateSpan = { start: head.length, end: head.length + segment.length, name, kind: 'segment' };
  return `${head}${segment} to ServiceAccount ${account} so the next pods get it`;
}

/** The names a recreated pod adds to its list (those it does not list yet), made once per list. */
interface RecreateAdded {
  readonly extra: readonly string[];
  /** `extra` joined, or undefined when longer than a subject's room. */
  readonly joined: string | undefined;
  readonly hasNew: boolean;
}

function recreateAdded(context: ContainerContext, added: readonly string[]): RecreateAdded {
  const existing = (context.recreateList ??= recreateList(context.input.spec));
  const extra = added.filter((name) => !existing.listed.has(name));
  return { extra, joined: joinedWithin(extra), hasNew: extra.includes(NEW_SECRET) };
}

/** The list to recreate a pod with, then the names to add to its ServiceAccount instead (up to "to ServiceAccount"). */
function recreateSegment(context: ContainerContext, added: RecreateAdded, own: string): string {
  // A name the pod lists already (a secret it names NEW-SECRET) still goes to the ServiceAccount.
  const names = added.extra.length <= 1 ? denySubject(added.extra[0] ?? own) : added.joined ?? namesByReference(added, own);
  return `${recreateListText(context, added, own)}, or, if its controller's template lists none, add ${names}`;
}

/** The list to recreate a pod with: its own entries (each once), then `added`; by reference when too long, naming `own` (the container's) still. */
function recreateListText(context: ContainerContext, added: RecreateAdded, own: string): string {
  const existing = (context.recreateList ??= recreateList(context.input.spec));
  const text = added.joined;
  if (existing.text !== undefined && text !== undefined && existing.text.length + text.length + 2 <= DENY_SUBJECT_MAX_CHARS) {
    return `imagePullSecrets: [${existing.text === '' ? text : added.extra.length === 0 ? existing.text : `${existing.text}, ${text}`}] (the whole list, existing entries kept)`;
  }
  if (added.extra.length === 0) return `its ${existing.count} imagePullSecrets`;
  const start = existing.count > 0 ? `its ${existing.count} imagePullSecrets, then ` : 'imagePullSecrets listing ';
  return `${start}${added.extra.length === 1 ? denySubject(added.extra[0] as string) : text ?? namesByReference(added, own)}`;
}

/**
 * Names too many to write out, said so that each message still names its container's secret:
 * `own`, how many others the answer names, and NEW-SECRET (always last) when among them. Constant time.
 */
function namesByReference(added: RecreateAdded, own: string): string {
  const count = added.extra.length;
  if (count <= 1) return denySubject(added.extra[0] ?? own);
  const others = count - 1 - (added.hasNew && own !== NEW_SECRET ? 1 : 0);
  const parts: string[] = [];
  if (own !== NEW_SECRET) parts.push(denySubject(own));
  if (others > 0) parts.push(`the ${others} other secret${others === 1 ? '' : 's'} this answer names`);
  if (added.hasNew) parts.push(NEW_SECRET);
  return parts.join(', ');
}

/** runningPodAdvice's list span (see recreateSpan), moved by the text before it; cleared. */
function takeRecreateSpan(context: ContainerContext, offset: number): RecreateSpan | undefined {
  const span = context.recreateSpan;
  context.recreateSpan = undefined;
  return span === undefined ? undefined : { ...span, start: span.start + offset, end: span.end + offset };
}

/**
 * Puts the decision's one list to recreate a pod with into every finding that names one (a pod
 * UPDATE whose containers need different secrets: each was told a list with its own secret only,
 * and following one left the others without theirs): the pod's entries, every name any container
 * was told, NEW-SECRET last. Containers dropped by a budget cut are skipped.
 */
function fillRecreateLists(containers: ContainerDecision[], context: ContainerContext): void {
  const slots = (context.recreateSlots ?? []).filter((slot) => slot.at < containers.length);
  const names = unique(slots.map((slot) => slot.name).filter((name) => name !== NEW_SECRET));
  if (slots.some((slot) => slot.name === NEW_SECRET)) names.push(NEW_SECRET);
  if (names.length < 2) return;
  const added = recreateAdded(context, names);
  for (const slot of slots) {
    if (slot.kind === 'name') continue;
    const container = containers[slot.at];
    const finding = container?.findings[slot.index];
    if (container === undefined || finding === undefined) continue;
    const text = slot.kind === 'list' ? recreateListText(context, added, slot.name) : recreateSegment(context, added, slot.name);
    const findings = [...container.findings];
    findings[slot.index] = { ...finding, message: finding.message.slice(0, slot.start) + text + finding.message.slice(slot.end) };
    containers[slot.at] = { ...container, findings };
  }
}

/** The pod's own list as runningPodAdvice names it. */
interface RecreateList {
  /** Its names, each once, joined when they fit a subject's room. */
  readonly text: string | undefined;
  readonly count: number;
  readonly listed: ReadonlySet<string>;
}

/** The pod's names, each once, joined when they fit a subject's room, and how many: once per decision. */
function recreateList(spec: PodSpecRef): RecreateList {
  const names = unique(spec.imagePullSecrets.filter((name) => name !== ''));
  return { text: joinedWithin(names), count: names.length, listed: new Set(names) };
}

function secretProblemFinding(entry: ResolvedSecret, spec: PodSpecRef, severity: Severity, namespace: string, seesAllTypes: boolean, podUpdate = false): Finding {
  const name = entry.considered.name;
  const path = entry.path;
  if (entry.considered.status === 'wrong-type') {
    return { code: 'PullSecretWrongType', severity, path, message: fit('secret ', name, ` is ${entry.considered.detail ?? 'not a pull secret'}`, severity) };
  }
  const hint = seesAllTypes ? '' : ' (or not of a pull-secret type)';
  const code: FindingCode = 'PullSecretNotFound';
  // A running pod's list cannot change: only creating the secret (under the listed name) helps.
  const fix = podUpdate ? 'create it (the pod\'s imagePullSecrets cannot change after creation)' : 'create it or fix the name';
  return { code, severity, path, message: fit('secret ', name, ` not found in namespace ${namespace}${hint}; ${fix}`, severity) };
}

function hasLiveMatch(view: PullSecretView, target: ImageTarget, now: number, meter: WorkMeter): boolean {
  return lookupKeyring([view], target, meter).some((match) => isUsableCredential(match.key, now));
}

function overBudget(context: ContainerContext): boolean {
  return context.meter.spent > context.meter.limit;
}

/**
 * A map from image name, for one decision: a pod names a handful of images, so the first four are
 * kept in fields of the object itself and found by comparison (nothing else allocated per
 * decision); from the fifth a Map takes over, so a pod with a thousand images still costs one
 * lookup per image.
 */
class ByImage<V> {
  private name0: string | undefined = undefined;
  private value0: V | undefined = undefined;
  private name1: string | undefined = undefined;
  private value1: V | undefined = undefined;
  private name2: string | undefined = undefined;
  private value2: V | undefined = undefined;
  private name3: string | undefined = undefined;
  private value3: V | undefined = undefined;
  private count = 0;
  private map: Map<string, V> | undefined = undefined;

  get(name: string): V | undefined {
    if (this.map !== undefined) return this.map.get(name);
    const count = this.count;
    if (count > 0 && this.name0 === name) return this.value0;
    if (count > 1 && this.name1 === name) return this.value1;
    if (count > 2 && this.name2 === name) return this.value2;
    if (count > 3 && this.name3 === name) return this.value3;
    return undefined;
  }

  /** Adds a name not held yet (callers set only after get() missed). */
  set(name: string, value: V): void {
    switch (this.count++) {
      case 0:
        this.name0 = name;
        this.value0 = value;
        return;
      case 1:
        this.name1 = name;
        this.value1 = value;
        return;
      case 2:
        this.name2 = name;
        this.value2 = value;
        return;
      case 3:
        this.name3 = name;
        this.value3 = value;
        return;
      case 4:
        this.map = new Map([
          [this.name0 as string, this.value0 as V],
          [this.name1 as string, this.value1 as V],
          [this.name2 as string, this.value2 as V],
          [this.name3 as string, this.value3 as V],
        ]);
        break;
    }
    (this.map as Map<string, V>).set(name, value);
  }
}

/** The image compiled for matching once per decision: a long name is not parsed again per secret. */
function targetOf(context: ContainerContext, imageName: string): ImageTarget {
  const targets = (context.targetsByImage ??= new ByImage());
  let target = targets.get(imageName);
  if (target === undefined) {
    target = imageTarget(imageName);
    targets.set(imageName, target);
  }
  return target;
}

/** lookupKeyring over the usable secrets the pod will have, once per image name. */
function matchesOf(context: ContainerContext, imageName: string): readonly KeyringMatch[] {
  const known = (context.matchesByImage ??= new ByImage());
  let matches = known.get(imageName);
  if (matches === undefined) {
    matches = context.usable.length > 0 ? context.secrets.keyringMatches(NO_VIEWS, imageName, context.targetOf, context.meter) : [];
    known.set(imageName, matches);
  }
  return matches;
}

/**
 * namespaceKeyMatches (remembered per namespace state), charged to the budget one unit per
 * namespace secret and what the keyring lookups cost, whether computed now or remembered, the
 * first time the decision asks for an image; a repeat within the decision gets the same answer
 * for nothing more.
 */
function namespaceMatches(context: ContainerContext, pullSecrets: readonly PullSecretView[], imageName: string): readonly NamespaceKeyMatch[] {
  const answers = (context.namespaceAnswers ??= new ByImage());
  let answer = answers.get(imageName);
  if (answer === undefined) {
    context.meter.spent += pullSecrets.length;
    answer = namespaceKeyMatches(pullSecrets, imageName, context.meter);
    answers.set(imageName, answer);
  }
  return answer;
}

function budgetFinding(spec: PodSpecRef, decided: number, total: number, budget: number): Finding {
  return {
    code: 'DecisionBudgetExceeded',
    severity: 'deny',
    path: spec.specPath,
    message:
      `checking ${spec.isTemplate ? `the images of this ${spec.kind}'s pod template` : 'this pod\'s images'} against its pull secrets' keys needs more than ${budget.toLocaleString('en-US')} comparisons ` +
      `(stopped after ${decided} of ${total} containers); use fewer distinct images per pod or fewer auths keys per secret`,
  };
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

/** The first match with a usable credential (loops, not closures: this runs for every container). */
function firstUsable(matches: readonly KeyringMatch[], now: number): KeyringMatch | undefined {
  for (const match of matches) if (isUsableCredential(match.key, now)) return match;
  return undefined;
}

/** A match whose key holds credentials that have expired. */
function anyExpired(matches: readonly KeyringMatch[], now: number): boolean {
  for (const match of matches) if (!match.key.anonymous && isExpired(match.key, now)) return true;
  return false;
}

function anyAnonymous(matches: readonly KeyringMatch[]): boolean {
  for (const match of matches) if (match.key.anonymous) return true;
  return false;
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

function verdictOf(findings: readonly Finding[]): Verdict {
  return findings.some((finding) => finding.severity === 'deny') ? 'deny' : 'allow';
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
