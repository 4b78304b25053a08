import { explainKeyForImage } from '../credentials/key-match-explain.ts';
import { decide } from '../decide/decide.ts';
import type { ContainerDecision, PodDecision, SecretConsidered } from '../decide/types.ts';
import { isLatestOrUntagged, parseImageReference } from '../image/reference.ts';
import { PolicyResolver } from '../policy/resolve.ts';
import type { Policy } from '../policy/schema.ts';
import { classifyPullEvent, classifyWaitingState, FAILURE_CAUSES, type PullEventCause } from '../pull-events/classify.ts';
import { containerOfFieldPath, type PodEvent } from '../pull-events/normalize.ts';
import type { ClusterSnapshot } from '../snapshot/types.ts';
import { extractPodSpec, identify, isRecord, type ContainerRef, type PodSpecRef } from '../workloads/extract.ts';
import { diagnose } from './diagnose.ts';
import type { ClassifiedEvent, ContainerExplanation, Explanation, KeyVerdict, KubeletView, SecretExplanation } from './types.ts';

/**
 * `explain`: pullguard's decision for one pod or pod template, taken apart for a person, beside
 * what the kubelet said (container states and events), with one diagnosis per container. Pure:
 * the caller reads the objects (files or the API server) and passes the clock.
 */

export interface ExplainInput {
  /** A Pod (with its status when read from a cluster) or a workload with a pod template. */
  readonly object: Record<string, unknown>;
  /** Namespace used when the object names none. */
  readonly namespace: string;
  readonly snapshot: ClusterSnapshot;
  readonly policy: Policy;
  readonly now: number;
  /** Events of the namespace or of the pod; only the pod's own pull events are used. */
  readonly events: readonly PodEvent[];
  /** Where the object was read from (`file:line`, `cluster`). */
  readonly source: string;
}

/** Undefined when the object carries no pod spec. */
export function explainObject(input: ExplainInput): Explanation | undefined {
  const spec = extractPodSpec(input.object);
  const identity = identify(input.object);
  if (spec === undefined || identity === undefined) return undefined;
  const namespace = identity.namespace || input.namespace;
  const metadata = isRecord(input.object['metadata']) ? input.object['metadata'] : {};
  // A pod read back from a cluster (it has a uid) was admitted: the ServiceAccount plugin has already
  // copied the SA's list when the pod had none. A pod manifest on disk has not been through that yet.
  const created = spec.kind === 'Pod' && typeof metadata['uid'] === 'string' && metadata['uid'] !== '';
  const resolver = new PolicyResolver(input.policy);
  const base = { spec, namespace, snapshot: input.snapshot, now: input.now, secretsFinal: created };
  let decision = decide({ ...base, policy: resolver, annotations: identity.annotations });
  let notChecked: string | null = null;
  if (decision.skipped !== undefined) {
    // Explain what the kubelet will do even where the webhook does not look.
    notChecked = decision.skipped;
    decision = decide({ ...base, policy: new PolicyResolver(checkEverywhere(input.policy)) });
  }
  const podEvents = spec.kind === 'Pod' ? eventsOfPod(input.events, identity.name, namespace, typeof metadata['uid'] === 'string' ? metadata['uid'] : '') : [];
  const status = spec.kind === 'Pod' && isRecord(input.object['status']) ? input.object['status'] : {};
  const secrets = explainSecrets(decision.secrets, input.snapshot, namespace, input.now);
  const containers = decision.containers.map((container) =>
    explainContainer(container, findRef(spec, container), decision, {
      namespace,
      snapshot: input.snapshot,
      now: input.now,
      events: podEvents,
      status,
      secrets,
      spec,
      created,
      owner: ownerOf(metadata),
    }),
  );
  return {
    object: { kind: spec.kind, namespace, name: identity.name, source: input.source },
    template: spec.isTemplate,
    mode: notChecked !== null ? 'off' : decision.mode,
    notChecked,
    decision: decision.decision,
    serviceAccount: spec.serviceAccountName,
    secretsSource: decision.secretsSource,
    secrets,
    containers,
    findings: decision.findings,
    podEvents: podEvents.filter((entry) => entry.container === undefined).map((entry) => entry.event),
    owner: ownerOf(metadata),
  };
}

/** The policy with every namespace checked: no exclusions, no `off` label or override. */
function checkEverywhere(policy: Policy): Policy {
  return {
    ...policy,
    mode: policy.mode,
    namespaces: {
      ...policy.namespaces,
      exclude: [],
      modeLabel: 'pullguard.io/explain-ignores-this-label',
      overrides: policy.namespaces.overrides.map((override) => (override.mode === 'off' ? { ...override, mode: undefined } : override)),
    },
  };
}

function ownerOf(metadata: Record<string, unknown>): string | null {
  const owners = metadata['ownerReferences'];
  if (!Array.isArray(owners)) return null;
  const controller = owners.find((owner: unknown) => isRecord(owner) && owner['controller'] === true) ?? owners[0];
  if (!isRecord(controller) || typeof controller['kind'] !== 'string' || typeof controller['name'] !== 'string') return null;
  return `${controller['kind']}/${controller['name']}`;
}

function findRef(spec: PodSpecRef, container: ContainerDecision): ContainerRef | undefined {
  return spec.containers.find((ref) => ref.path === container.path);
}

interface PodEventEntry {
  readonly event: ClassifiedEvent;
  /** `containers/web` from the field path, or undefined for pod-level events. */
  readonly container: string | undefined;
  readonly image: string | undefined;
  readonly sortKey: number;
}

function eventsOfPod(events: readonly PodEvent[], name: string, namespace: string, uid: string): PodEventEntry[] {
  const entries: PodEventEntry[] = [];
  for (const event of events) {
    const regarding = event.regarding;
    if (regarding.kind !== 'Pod' || regarding.name !== name) continue;
    if (regarding.namespace !== '' && regarding.namespace !== namespace) continue;
    // Events of an earlier pod with the same name (a StatefulSet replica) are not this pod's.
    if (uid !== '' && regarding.uid !== '' && regarding.uid !== uid) continue;
    const classified = classifyPullEvent(event.reason, event.message);
    if (classified === undefined) continue;
    const field = containerOfFieldPath(regarding.fieldPath);
    entries.push({
      event: {
        reason: event.reason,
        type: event.type,
        message: event.message,
        cause: classified.cause,
        count: event.count,
        lastSeen: event.lastSeen === undefined ? null : new Date(event.lastSeen).toISOString(),
        ageMs: null,
        source: event.source,
      },
      container: field === undefined ? undefined : `${field.group}/${field.name}`,
      image: classified.image,
      sortKey: event.lastSeen ?? 0,
    });
  }
  // Newest first; events without a time last.
  return entries.sort((a, b) => b.sortKey - a.sortKey);
}

function explainSecrets(considered: readonly SecretConsidered[], snapshot: ClusterSnapshot, namespace: string, now: number): SecretExplanation[] {
  return considered.map((secret) => {
    const view = snapshot.secret(namespace, secret.name);
    return {
      name: secret.name,
      source: secret.source,
      status: secret.status,
      detail: secret.detail ?? null,
      type: view?.type ?? null,
      keys: (view?.keys ?? []).map((key) => ({
        key: key.raw,
        normalized: key.key,
        expiresAt: key.expiresAt === undefined ? null : new Date(key.expiresAt).toISOString(),
        expired: key.expiresAt !== undefined && key.expiresAt <= now,
        shortLived: key.shortLived || key.expiresAt !== undefined,
        anonymous: key.anonymous,
      })),
    };
  });
}

export interface ContainerContext {
  readonly namespace: string;
  readonly snapshot: ClusterSnapshot;
  readonly now: number;
  readonly events: readonly PodEventEntry[];
  readonly status: Record<string, unknown>;
  readonly secrets: readonly SecretExplanation[];
  readonly spec: PodSpecRef;
  /** The pod exists in a cluster: its imagePullSecrets can no longer change. */
  readonly created: boolean;
  readonly owner: string | null;
}

function explainContainer(container: ContainerDecision, ref: ContainerRef | undefined, decision: PodDecision, context: ContainerContext): ContainerExplanation {
  const group = ref?.group ?? container.path.slice(container.path.lastIndexOf('.') + 1).replace(/\[\d+\]$/, '');
  const parsed = parseImageReference(container.image);
  const written = ref?.imagePullPolicy;
  const pullPolicy = written ?? (parsed.ok && isLatestOrUntagged(parsed.reference) ? 'Always' : 'IfNotPresent');
  const keys = container.reference.valid && parsed.ok ? keyVerdicts(context.secrets, parsed.reference.name) : [];
  const kubelet = kubeletView(container, group, context);
  const base = {
    name: container.name,
    group,
    path: container.path,
    image: container.image,
    reference: container.reference,
    pullPolicy,
    pullPolicyDefaulted: written === undefined,
    access: container.access,
    accessRule: container.accessRule,
    credential: container.credential,
    decision: container.decision,
    findings: container.findings,
    keys,
    kubelet,
  };
  return { ...base, diagnosis: diagnose(base, decision, context) };
}

function keyVerdicts(secrets: readonly SecretExplanation[], imageName: string): KeyVerdict[] {
  const usable = secrets.filter((secret) => secret.status === 'usable');
  const direct = usable.flatMap((secret) => secret.keys.map((key) => ({ secret, key, explained: explainKeyForImage(key.normalized, imageName, true) })));
  const anyMatched = direct.some((entry) => entry.explained.matches);
  return direct.map(({ secret, key, explained }) => {
    const final = anyMatched ? explained : explainKeyForImage(key.normalized, imageName, false);
    return {
      secret: secret.name,
      key: key.key,
      normalized: key.normalized,
      matches: final.matches,
      verdict: final.verdict,
      detail: final.detail,
      viaDockerHubFallback: final.viaDockerHubFallback,
      unusableBecause: !final.matches ? null : key.expired ? 'expired' : key.anonymous ? 'anonymous' : null,
    };
  });
}

const STATUS_LISTS: Readonly<Record<string, string>> = {
  containers: 'containerStatuses',
  initContainers: 'initContainerStatuses',
  ephemeralContainers: 'ephemeralContainerStatuses',
};

function kubeletView(container: ContainerDecision, group: string, context: ContainerContext): KubeletView {
  const list = context.status[STATUS_LISTS[group] ?? ''];
  const status = Array.isArray(list) ? list.find((entry: unknown) => isRecord(entry) && entry['name'] === container.name) : undefined;
  let state: string | null = null;
  let reason: string | null = null;
  let message: string | null = null;
  let stateCause: PullEventCause | null = null;
  let imageID: string | null = null;
  if (isRecord(status)) {
    imageID = typeof status['imageID'] === 'string' && status['imageID'] !== '' ? status['imageID'] : null;
    const states = isRecord(status['state']) ? status['state'] : {};
    for (const name of ['waiting', 'running', 'terminated']) {
      const detail = states[name];
      if (!isRecord(detail)) continue;
      state = name;
      reason = typeof detail['reason'] === 'string' ? detail['reason'] : null;
      message = typeof detail['message'] === 'string' ? detail['message'] : null;
      if (name === 'waiting' && reason !== null) stateCause = classifyWaitingState(reason, message ?? '')?.cause ?? null;
      break;
    }
  }
  const key = `${group}/${container.name}`;
  const mine = context.events.filter((entry) => entry.container === key || (entry.container === undefined && entry.image !== undefined && entry.image === container.image));
  const events = mine
    .sort((a, b) => b.sortKey - a.sortKey)
    .map((entry) => ({ ...entry.event, ageMs: entry.sortKey === 0 ? null : Math.max(0, context.now - entry.sortKey) }));
  return { state, reason, message, stateCause, imageID, events, cause: lastWord(stateCause, mine.map((entry) => entry.event.cause)) };
}

/** The kubelet's last word: the newest real failure (behind any back-off), else back-off, else progress. */
function lastWord(stateCause: PullEventCause | null, newestFirst: readonly PullEventCause[]): PullEventCause | null {
  if (stateCause !== null && FAILURE_CAUSES.has(stateCause)) return stateCause;
  const failure = newestFirst.find((cause) => FAILURE_CAUSES.has(cause));
  if (failure !== undefined) {
    // A failure older than a successful pull is history.
    const pulledAt = newestFirst.indexOf('pulled');
    if (pulledAt < 0 || newestFirst.indexOf(failure) < pulledAt || stateCause !== null) return failure;
  }
  if (stateCause === 'backoff' || newestFirst[0] === 'backoff') return 'backoff';
  return stateCause ?? newestFirst[0] ?? null;
}
