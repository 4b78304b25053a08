import { decide } from '../decide/decide.ts';
import { listAdvice, NEW_SECRET } from '../decide/list-advice.ts';
import { denySubject } from '../decide/messages.ts';
import type { PodDecision } from '../decide/types.ts';
import type { Finding, FindingCode } from '../findings/catalogue.ts';
import type { PolicyResolver } from '../policy/resolve.ts';
import type { ClusterSnapshot } from '../snapshot/types.ts';
import { annotationsOf, extractPodSpec, identifyBriefly, isRecord, isWorkloadKind, type ContainerRef, type PodSpecRef, type WorkloadIdentity } from '../workloads/extract.ts';
import { encodePatch, imagePullSecretsPatch } from './patch.ts';
import type { AdmissionRequest, AdmissionResponseBody } from './review.ts';
import { boundWarnings } from './warnings.ts';

export type Phase = 'mutate' | 'validate';

export interface AdmitContext {
  readonly snapshot: ClusterSnapshot;
  readonly policy: PolicyResolver;
  readonly now: number;
  /** The decision's work budget (DECIDE_WORK_BUDGET unless given): tests give a small one. */
  readonly workBudget?: number | undefined;
}

export type AdmissionAction = 'allow' | 'patch' | 'deny' | 'warn' | 'dry-run' | 'skip';

/**
 * This webhook's verdict, as the audit annotation `decision` says it: `inject`/`deny` when done,
 * `would-inject`/`would-deny` when the namespace's mode (warn, dry-run) only reports it.
 */
export type AdmissionVerdict = 'allow' | 'inject' | 'deny' | 'would-inject' | 'would-deny';

/**
 * What the webhook did, for the one log line per decision and the metrics. Never holds credentials.
 * Its fields agree with each other and with the response: `action` is what was done, `verdict` the
 * audit annotation's decision, `findings` the findings this answer stands on (a validated pod that
 * still needs a secret is denied for NoMatchingCredential, not reported as InjectedPullSecret),
 * `codes` their distinct codes and `reason` the short why.
 */
export interface AdmissionOutcome {
  readonly response: AdmissionResponseBody;
  readonly action: AdmissionAction;
  /** Undefined when nothing was decided (skip). */
  readonly verdict: AdmissionVerdict | undefined;
  readonly reason: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly operation: string;
  readonly findings: readonly Finding[];
  readonly codes: readonly FindingCode[];
  readonly decision: PodDecision | undefined;
}

/** Audit annotation keys (the API server prefixes them with the webhook name). */
export const AUDIT_DECISION_KEY = 'decision';
export const AUDIT_FINDINGS_KEY = 'findings';
const AUDIT_VALUE_MAX = 2000;
/** Kubelets authenticate as `system:node:<node name>` (the Node authorizer's convention). */
export const NODE_USER_PREFIX = 'system:node:';

/** The name a decided review is reported under: the request's, else the object's name or generateName. */
export function admissionName(request: AdmissionRequest, identity: Pick<WorkloadIdentity, 'name'> | undefined): string {
  return request.name || identity?.name || '';
}

/** The namespace a review is decided in: the request's, else the object's, else `default`. */
export function admissionNamespace(request: AdmissionRequest, identity: Pick<WorkloadIdentity, 'namespace'> | undefined): string {
  return request.namespace || identity?.namespace || 'default';
}

function skip(request: AdmissionRequest, reason: string, kind: string): AdmissionOutcome {
  return {
    response: { uid: request.uid, allowed: true },
    action: 'skip',
    verdict: undefined,
    reason,
    kind,
    namespace: request.namespace,
    name: request.name,
    operation: request.operation,
    findings: [],
    codes: [],
    decision: undefined,
  };
}

/**
 * Container paths whose image or pull policy is new or changed between the old and new object:
 * switching `nginx:latest` from Always to IfNotPresent changes what the node does as much as a
 * new image does.
 */
function changedContainers(spec: PodSpecRef, oldSpec: PodSpecRef | undefined): Set<string> {
  const changed = new Set<string>();
  const before = new Map<string, ContainerRef>();
  for (const container of oldSpec?.containers ?? []) before.set(`${container.group}/${container.name}`, container);
  for (const container of spec.containers) {
    const old = before.get(`${container.group}/${container.name}`);
    if (old === undefined || old.image !== container.image || old.imagePullPolicy !== container.imagePullPolicy) changed.add(container.path);
  }
  return changed;
}

type JudgedBase = Pick<AdmissionOutcome, 'kind' | 'namespace' | 'name' | 'operation' | 'decision' | 'findings' | 'codes'>;

const NO_FINDINGS: readonly Finding[] = Object.freeze([]);

/**
 * The decision's findings, pod-level first, then each container's in order, in a list made at
 * its size (a list grown by push takes 17 slots for a pod's one or two findings).
 */
function findingsOf(decision: PodDecision): Finding[] {
  let total = decision.findings.length;
  for (const container of decision.containers) total += container.findings.length;
  const all: Finding[] = total <= PRESIZED_FINDINGS ? new Array(total) : [];
  let at = 0;
  for (const finding of decision.findings) all[at++] = finding;
  for (const container of decision.containers) for (const finding of container.findings) all[at++] = finding;
  return all;
}
/** Finding lists up to this long are allocated at their size. */
const PRESIZED_FINDINGS = 64;

/** The fields of a validating answer that carries more than a plain allow (built only for those). */
function judgedFields(
  kind: string, namespace: string, name: string, operation: string, decision: PodDecision, findings: Finding[], codes: FindingCode[],
): JudgedBase {
  return { kind, namespace, name, operation, decision, findings, codes };
}

/**
 * The pod spec of a built-in workload kind, or of a custom resource the policy's podTemplates name.
 * checkReviewLimits (review-limits.ts) bounds the spec found by these same lookups: keep them in step.
 */
function specOf(object: unknown, custom: boolean, policy: PolicyResolver): PodSpecRef | undefined {
  return custom ? (isRecord(object) ? policy.podTemplates.extract(object) : undefined) : extractPodSpec(object);
}

function distinctSortedCodes(findings: readonly Finding[]): FindingCode[] {
  if (findings.length === 0) return [];
  const codes: FindingCode[] = [];
  for (const finding of findings) if (!codes.includes(finding.code)) codes.push(finding.code);
  return codes.sort();
}

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((value, index) => value === b[index]);
}

/**
 * Answers one AdmissionRequest for one phase. Pure apart from reading the snapshot: the server,
 * `pullguard review` and the tests all call this, so they cannot disagree.
 *
 * The object is read only through identify() (identifyBriefly(), and annotationsOf() for a kubelet's
 * request) and extractPodSpec(), and the request only through
 * the fields AdmissionMemo's key holds (see admission-memo.ts): keep it so, or widen that key.
 */
export function admit(request: AdmissionRequest, phase: Phase, context: AdmitContext): AdmissionOutcome {
  const identity = identifyBriefly(request.object);
  const kind = request.kind.kind || identity?.kind || '';
  if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return skip(request, `operation ${request.operation} is not checked`, kind);
  if (!isRecord(request.object)) return skip(request, 'no object in the request', kind);
  // Custom resources carrying a pod template count when the policy's workloads.podTemplates names them.
  const custom = !isWorkloadKind(kind) && identity?.kind === kind && context.policy.podTemplates.specField(request.object) !== undefined;
  if (!custom && (!isWorkloadKind(kind) || !isWorkloadKind(identity?.kind))) return skip(request, `kind ${kind || '(none)'} is not a workload`, kind);

  const isPod = kind === 'Pod';
  const sub = request.subResource;
  if (sub !== '' && !(isPod && sub === 'ephemeralcontainers')) return skip(request, `subresource ${sub} is not checked`, kind);
  const spec = specOf(request.object, custom, context.policy);
  if (spec === undefined) return skip(request, `${kind} has no pod spec`, kind);

  let onlyContainers: Set<string> | undefined;
  if (request.operation === 'UPDATE') {
    // Pull secrets of a pod cannot change after creation: on UPDATE only new or changed images are
    // checked, and nothing is mutated. Templates are re-checked whole when their secrets or SA change.
    const oldSpec = specOf(request.oldObject, custom, context.policy);
    const credentialsChanged =
      !isPod && oldSpec !== undefined &&
      (!sameStrings(oldSpec.imagePullSecrets, spec.imagePullSecrets) || oldSpec.serviceAccountName !== spec.serviceAccountName);
    if (!credentialsChanged) onlyContainers = changedContainers(spec, oldSpec);
    if (onlyContainers !== undefined && onlyContainers.size === 0) return skip(request, 'no image or pull policy changed', kind);
  }

  const namespace = admissionNamespace(request, identity);
  const decision = decide({
    spec,
    namespace,
    snapshot: context.snapshot,
    policy: context.policy,
    now: context.now,
    secretsFinal: isPod,
    onlyContainers,
    // Only a kubelet creates mirror pods; anyone else setting the annotation gets no exemption.
    annotations: request.username.startsWith(NODE_USER_PREFIX) && identity !== undefined ? annotationsOf(request.object) : undefined,
    templatePatchAllowed: request.operation === 'CREATE',
    podUpdate: isPod && request.operation === 'UPDATE',
    workBudget: context.workBudget,
  });
  if (decision.skipped !== undefined) return skip(request, decision.skipped, kind);

  const name = admissionName(request, identity);
  const mayPatch = request.operation === 'CREATE' && (isPod || context.snapshot.resolveNamespace(namespace, context.policy).injectTemplates);
  const dryRunMode = decision.mode === 'dry-run';

  // A decision cut by the work budget injects nothing, and /mutate answers it as /validate does
  // (a denial, or what the namespace's mode makes of one): the pod was not checked to the end.
  if (phase === 'mutate' && !cutByBudget(decision)) {
    const patch = mayPatch && decision.patchNames.length > 0 ? imagePullSecretsPatch(spec, decision.patchNames) : [];
    // The injection warning, plus the warnings that explain why it was needed (a missing or
    // ignored secret, an expired token): validation sees the patched pod and no longer can.
    // Mutation stands only on the injection and its causes; validation reports everything else.
    if (patch.length === 0) {
      return {
        kind, namespace, name, operation: request.operation, decision,
        response: { uid: request.uid, allowed: true }, action: 'allow', verdict: 'allow', reason: 'nothing to inject', findings: [], codes: [],
      };
    }
    const injectedPaths = new Set(decision.containers.filter((container) => container.decision === 'inject').map((container) => container.path));
    const injected = decision.containers
      .filter((container) => injectedPaths.has(container.path))
      .flatMap((container) => container.findings)
      .filter((finding) => finding.severity === 'warn' && finding.code !== 'LatestWithIfNotPresent' && finding.code !== 'ShortLivedCredential');
    const codes = distinctSortedCodes(injected);
    const base = { kind, namespace, name, operation: request.operation, decision };
    if (dryRunMode) {
      return {
        ...base,
        response: {
          uid: request.uid,
          allowed: true,
          warnings: boundWarnings(injected.map(dryRunInjectionWarning)),
          auditAnnotations: { [AUDIT_DECISION_KEY]: 'would-inject', [AUDIT_FINDINGS_KEY]: auditText(injected) },
        },
        action: 'dry-run',
        verdict: 'would-inject',
        reason: `would inject ${decision.inject.join(', ')}`,
        findings: injected,
        codes,
      };
    }
    return {
      ...base,
      response: {
        uid: request.uid,
        allowed: true,
        patchType: 'JSONPatch',
        patch: encodePatch(patch),
        warnings: boundWarnings(injected.map((finding) => finding.message)),
        auditAnnotations: { [AUDIT_DECISION_KEY]: 'inject', [AUDIT_FINDINGS_KEY]: auditText(injected) },
      },
      action: 'patch',
      verdict: 'inject',
      reason: `injected ${decision.patchNames.join(', ')}`,
      findings: injected,
      codes,
    };
  }

  // Validation: the verdict on the final object.
  const allFindings = findingsOf(decision);
  // Made on the first finding of each kind: most answers have neither.
  let denials: Finding[] | undefined;
  let warnings: Finding[] | undefined;
  for (const finding of allFindings) {
    if (finding.severity === 'deny') (denials ??= []).push(finding);
    else if (finding.severity === 'warn' && finding.code !== 'InjectedPullSecret') (warnings ??= []).push(finding);
  }
  // The findings this answer stands on: all of the decision's, except that a pod which reaches
  // validation still needing a secret gets the denials below instead of InjectedPullSecret.
  let judged: Finding[] = allFindings;
  const unpatchedPod = isPod && decision.inject.length > 0 && !dryRunMode;
  if (unpatchedPod) {
    // A pod CREATE reaching validation still uncovered was not mutated (mutating webhook absent or
    // skipped): it would fail to pull. Say how to fix it instead of pretending it will be injected.
    // (A pod UPDATE never injects: decide() denies it with how to recreate the pod.) The list to
    // write keeps the ServiceAccount's secrets when the pod's are the ServiceAccount's, and is the
    // one the decision's other advice names (with NEW-SECRET when a container needs one created).
    judged = allFindings.filter((finding) => finding.code !== 'InjectedPullSecret');
    const viaServiceAccount = spec.imagePullSecrets.length === 0 || decision.secretsSource === 'serviceAccount';
    const saSecrets = context.snapshot.serviceAccountPullSecrets(namespace, spec.serviceAccountName);
    const fix = listAdvice({ spec, saSecrets, viaServiceAccount, secretsFinal: true }, decision.advisesNewSecret ? [...decision.inject, NEW_SECRET] : decision.inject);
    for (const container of decision.containers) {
      if (container.decision !== 'inject' || container.credential === null) continue;
      const registry = denySubject(container.reference.registry ?? container.image);
      const denial: Finding = {
        code: 'NoMatchingCredential',
        severity: 'deny',
        path: `${container.path}.image`,
        message: `${container.name}: no listed pull secret covers ${registry}; secret ${denySubject(container.credential.secret)} in the namespace does: ${fix}`,
      };
      (denials ??= []).push(denial);
      judged.push(denial);
    }
  } else if (!isPod) {
    for (const finding of allFindings) if (finding.code === 'InjectedPullSecret') (warnings ??= []).push(finding);
  }
  const codes = distinctSortedCodes(judged);
  return judgedAnswer(request, kind, namespace, name, isPod, dryRunMode, decision, allFindings, judged, codes, denials ?? NO_FINDINGS, warnings ?? NO_FINDINGS);
}

function cutByBudget(decision: PodDecision): boolean {
  // decide() adds it before the per-secret findings, so the loop ends within the first few.
  for (const finding of decision.findings) if (finding.code === 'DecisionBudgetExceeded') return true;
  return false;
}

/** The validating answer from the findings it stands on (admit, after the decision). */
function judgedAnswer(
  request: AdmissionRequest,
  kind: string,
  namespace: string,
  name: string,
  isPod: boolean,
  dryRunMode: boolean,
  decision: PodDecision,
  allFindings: readonly Finding[],
  judged: Finding[],
  codes: FindingCode[],
  denials: readonly Finding[],
  warnings: readonly Finding[],
): AdmissionOutcome {

  if (denials.length > 0 && decision.mode === 'enforce') {
    return {
      ...judgedFields(kind, namespace, name, request.operation, decision, judged, codes),
      response: {
        uid: request.uid,
        allowed: false,
        status: { code: 403, reason: 'Forbidden', message: denialMessage(kind, name, denials) },
        ...(warnings.length > 0 ? { warnings: boundWarnings(warnings.map((finding) => finding.message)) } : {}),
        auditAnnotations: annotationsFor('deny', denials),
      },
      action: 'deny',
      verdict: 'deny',
      reason: denyCodesOf(denials),
    };
  }
  if (denials.length > 0) {
    const tag = dryRunMode ? '[dry-run]' : '[warn]';
    return {
      ...judgedFields(kind, namespace, name, request.operation, decision, judged, codes),
      response: {
        uid: request.uid,
        allowed: true,
        warnings: boundWarnings([...denials.map((finding) => `${tag} would deny: ${finding.message}`), ...warnings.map((finding) => finding.message)]),
        auditAnnotations: annotationsFor('would-deny', [...denials, ...warnings]),
      },
      action: dryRunMode ? 'dry-run' : 'warn',
      verdict: 'would-deny',
      reason: `would deny: ${denyCodesOf(denials)}`,
    };
  }
  // A dry-run pod that needed a secret reached validation unpatched: the audit log records what the
  // mutating webhook would have injected (its warning already told the user, so no second one).
  const wouldInject = isPod && dryRunMode && decision.inject.length > 0;
  const injectionFindings = wouldInject ? allFindings.filter((finding) => finding.code === 'InjectedPullSecret') : [];
  const allowVerdict = wouldInject ? 'would-inject' : 'allow';
  if (warnings.length > 0) {
    return {
      ...judgedFields(kind, namespace, name, request.operation, decision, judged, codes),
      response: {
        uid: request.uid,
        allowed: true,
        warnings: boundWarnings(warnings.map((finding) => finding.message)),
        auditAnnotations: annotationsFor(allowVerdict, [...injectionFindings, ...warnings]),
      },
      action: 'warn',
      verdict: allowVerdict,
      reason: `${wouldInject ? `would inject ${decision.inject.join(', ')}; ` : ''}warnings: ${[...new Set(warnings.map((finding) => finding.code))].sort().join(',')}`,
    };
  }
  if (wouldInject) {
    return {
      ...judgedFields(kind, namespace, name, request.operation, decision, judged, codes),
      response: { uid: request.uid, allowed: true, auditAnnotations: annotationsFor(allowVerdict, injectionFindings) },
      action: 'dry-run',
      verdict: allowVerdict,
      reason: `would inject ${decision.inject.join(', ')}`,
    };
  }
  // The common answer, built without spreading: it is most of what the webhook returns.
  return {
    kind, namespace, name, operation: request.operation, decision, findings: judged, codes,
    response: { uid: request.uid, allowed: true }, action: 'allow', verdict: 'allow', reason: 'covered',
  };
}

function denyCodesOf(denials: readonly Finding[]): string {
  return [...new Set(denials.map((finding) => finding.code))].sort().join(',');
}

function annotationsFor(verdict: string, findings: readonly Finding[]): Record<string, string> {
  return findings.length === 0 ? { [AUDIT_DECISION_KEY]: verdict } : { [AUDIT_DECISION_KEY]: verdict, [AUDIT_FINDINGS_KEY]: auditText(findings) };
}

/** "[dry-run] app: would inject imagePullSecrets regcred for R", and the causes under the same tag. */
function dryRunInjectionWarning(finding: Finding): string {
  if (finding.code !== 'InjectedPullSecret') return `[dry-run] ${finding.message}`;
  return `[dry-run] ${finding.message.replace(INJECTED_WORDING, WOULD_INJECT_WORDING)}`;
}
const INJECTED_WORDING = /^([^:]*): injected imagePullSecrets /;
const WOULD_INJECT_WORDING = '$1: would inject imagePullSecrets ';

/** Every violating container is listed, up to this many lines; the rest are counted. */
export const DENIAL_MAX_FINDINGS = 50;

function denialMessage(kind: string, name: string, denials: readonly Finding[]): string {
  const lines = denials.slice(0, DENIAL_MAX_FINDINGS).map((finding) => `${finding.path}: ${finding.message} [${finding.code}]`);
  if (denials.length > DENIAL_MAX_FINDINGS) lines.push(`and ${denials.length - DENIAL_MAX_FINDINGS} more (run pullguard audit for all)`);
  const subject = name === '' ? kind : `${kind} ${name}`;
  return `pullguard denied ${subject}: ${denials.length} image pull problem${denials.length === 1 ? '' : 's'}: ${lines.join('; ')}`;
}

function auditText(findings: readonly Finding[]): string {
  // Built only as far as it is kept: 300,000 findings must not become a 30 MB string first.
  let text = '';
  for (const finding of findings) {
    text += `${text === '' ? '' : '; '}${finding.code} ${finding.path}: ${finding.message}`;
    if (text.length > AUDIT_VALUE_MAX) return `${text.slice(0, AUDIT_VALUE_MAX - 1)}…`;
  }
  return text;
}
