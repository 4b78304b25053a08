/**
 * Reads Kubernetes Events of both APIs into one shape: `v1` Events (what `kubectl get events`
 * and `kubectl describe` show: `message`, `involvedObject`, `count`, `lastTimestamp`) and
 * `events.k8s.io/v1` Events (`note`, `regarding`, `deprecatedCount`, `series`). The kubelet writes
 * through the v1 API; the API server serves the same objects through both. Input is untrusted
 * JSON: shapes are checked, nothing throws.
 */

export interface EventObjectRef {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  /** `spec.containers{web}`, `spec.initContainers{init}`, or '' for the pod as a whole. */
  readonly fieldPath: string;
}

export interface PodEvent {
  readonly api: 'v1' | 'events.k8s.io/v1';
  readonly name: string;
  readonly type: string;
  readonly reason: string;
  readonly message: string;
  readonly regarding: EventObjectRef;
  /** How often it happened (`count`, `series.count`, `deprecatedCount`); at least 1. */
  readonly count: number;
  /** First and last occurrence, epoch ms, when the event says. */
  readonly firstSeen: number | undefined;
  readonly lastSeen: number | undefined;
  /** The component that reported it (`kubelet`), or ''. */
  readonly source: string;
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function time(value: unknown): number | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  const parsed = Date.parse(value);
  return Number.isFinite(parsed) ? parsed : undefined;
}

function positive(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 1 ? Math.floor(value) : undefined;
}

function objectRef(value: unknown): EventObjectRef {
  const ref = record(value);
  return { kind: text(ref['kind']), namespace: text(ref['namespace']), name: text(ref['name']), uid: text(ref['uid']), fieldPath: text(ref['fieldPath']) };
}

function latest(...times: Array<number | undefined>): number | undefined {
  let best: number | undefined;
  for (const value of times) if (value !== undefined && (best === undefined || value > best)) best = value;
  return best;
}

/** One Event object of either API, or undefined when it is not an Event. */
export function readEvent(object: unknown): PodEvent | undefined {
  const event = record(object);
  const apiVersion = text(event['apiVersion']);
  if (event['kind'] !== 'Event') return undefined;
  const metadata = record(event['metadata']);
  const series = record(event['series']);
  const created = time(metadata['creationTimestamp']);
  if (apiVersion.startsWith('events.k8s.io/')) {
    const first = time(event['deprecatedFirstTimestamp']) ?? time(event['eventTime']) ?? created;
    return {
      api: 'events.k8s.io/v1',
      name: text(metadata['name']),
      type: text(event['type']),
      reason: text(event['reason']),
      message: text(event['note']),
      regarding: objectRef(event['regarding']),
      count: positive(series['count']) ?? positive(event['deprecatedCount']) ?? 1,
      firstSeen: first,
      lastSeen: latest(time(series['lastObservedTime']), time(event['deprecatedLastTimestamp']), time(event['eventTime']), first),
      source: text(event['reportingController']) || text(record(event['deprecatedSource'])['component']),
    };
  }
  const first = time(event['firstTimestamp']) ?? time(event['eventTime']) ?? created;
  return {
    api: 'v1',
    name: text(metadata['name']),
    type: text(event['type']),
    reason: text(event['reason']),
    message: text(event['message']),
    regarding: objectRef(event['involvedObject']),
    count: positive(series['count']) ?? positive(event['count']) ?? 1,
    firstSeen: first,
    lastSeen: latest(time(series['lastObservedTime']), time(event['lastTimestamp']), time(event['eventTime']), first),
    source: text(record(event['source'])['component']) || text(event['reportingComponent']),
  };
}

/**
 * Every Event among objects as read from a file: single Events, `EventList`s and `List`s of
 * either API (what `kubectl get events -o yaml` prints), in any mix.
 */
export function readEvents(objects: Iterable<unknown>): PodEvent[] {
  const events: PodEvent[] = [];
  for (const object of objects) {
    const kind = record(object)['kind'];
    if (kind === 'List' || kind === 'EventList') {
      const items = record(object)['items'];
      if (Array.isArray(items)) for (const item of items) pushEvent(events, item);
    } else pushEvent(events, object);
  }
  return events;
}

function pushEvent(events: PodEvent[], object: unknown): void {
  const event = readEvent(object);
  if (event !== undefined) events.push(event);
}

export type ContainerFieldGroup = 'containers' | 'initContainers' | 'ephemeralContainers';

/** `spec.containers{web}` -> { group: 'containers', name: 'web' }; undefined for other paths. */
export function containerOfFieldPath(fieldPath: string): { group: ContainerFieldGroup; name: string } | undefined {
  const open = fieldPath.indexOf('{');
  if (open < 0 || !fieldPath.endsWith('}')) return undefined;
  const group = fieldPath.slice(0, open);
  const name = fieldPath.slice(open + 1, -1);
  if (group === 'spec.containers') return { group: 'containers', name };
  if (group === 'spec.initContainers') return { group: 'initContainers', name };
  if (group === 'spec.ephemeralContainers') return { group: 'ephemeralContainers', name };
  return undefined;
}
