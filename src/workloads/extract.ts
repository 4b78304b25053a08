/**
 * Finds the pod spec(s) inside a Kubernetes object, with the field path of each, for Pod and every
 * pod-template kind. Input is untrusted JSON: shapes are checked, nothing throws.
 */

export const WORKLOAD_KINDS = [
  'Pod',
  'Deployment',
  'ReplicaSet',
  'StatefulSet',
  'DaemonSet',
  'Job',
  'CronJob',
  'ReplicationController',
  'PodTemplate',
] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

/** Where each kind keeps its pod spec. */
const SPEC_PATHS: Readonly<Record<WorkloadKind, readonly string[]>> = {
  Pod: ['spec'],
  Deployment: ['spec', 'template', 'spec'],
  ReplicaSet: ['spec', 'template', 'spec'],
  StatefulSet: ['spec', 'template', 'spec'],
  DaemonSet: ['spec', 'template', 'spec'],
  Job: ['spec', 'template', 'spec'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
  ReplicationController: ['spec', 'template', 'spec'],
  PodTemplate: ['template', 'spec'],
};

/** The dotted pod-spec field of each kind, for messages: `spec.template.spec`. */
export const WORKLOAD_SPEC_FIELDS: Readonly<Record<WorkloadKind, string>> = Object.fromEntries(
  Object.entries(SPEC_PATHS).map(([kind, path]) => [kind, path.join('.')]),
) as Record<WorkloadKind, string>;

export type ContainerGroup = 'initContainers' | 'containers' | 'ephemeralContainers' | 'volumes';
/** Kubelet start order: init containers first. Image volumes (`volumes`) come after them. */
export const CONTAINER_GROUPS: readonly ContainerGroup[] = ['initContainers', 'containers', 'ephemeralContainers'];

export interface ContainerRef {
  readonly name: string;
  readonly group: ContainerGroup;
  readonly index: number;
  /** `spec.template.spec.containers[0]` */
  readonly path: string;
  /** The image string, or undefined when absent or not a string. */
  readonly image: string | undefined;
  readonly imagePullPolicy: string | undefined;
  /** Field path of the pull policy: `...containers[0].imagePullPolicy`, `...volumes[2].image.pullPolicy`. */
  readonly pullPolicyPath: string;
}

export interface PodSpecRef {
  /** A built-in workload kind, or a custom resource kind from the policy's workloads.podTemplates. */
  readonly kind: string;
  readonly isTemplate: boolean;
  /** Dotted path of the pod spec: `spec` for a Pod, `spec.template.spec` for a Deployment. */
  readonly specPath: string;
  /** JSON Pointer of the pod spec, for patches: `/spec/template/spec`. */
  readonly specPointer: string;
  readonly serviceAccountName: string;
  /** Names listed in `imagePullSecrets`, in order (entries without a name keep their slot as ''). */
  readonly imagePullSecrets: readonly string[];
  /** True when `imagePullSecrets` is present as an array (even empty): decides add-vs-append. */
  readonly hasImagePullSecretsField: boolean;
  /** Containers of every group in start order, then image volumes (`group: 'volumes'`). */
  readonly containers: readonly ContainerRef[];
}

export interface WorkloadIdentity {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace: string | undefined;
  readonly name: string;
  readonly annotations: Readonly<Record<string, string>>;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export function isWorkloadKind(kind: unknown): kind is WorkloadKind {
  return typeof kind === 'string' && (WORKLOAD_KINDS as readonly string[]).includes(kind);
}

export function identify(object: unknown): WorkloadIdentity | undefined {
  const brief = identifyBriefly(object);
  if (brief === undefined) return undefined;
  const record = object as Record<string, unknown>;
  return {
    apiVersion: asString(record['apiVersion']) ?? '',
    kind: brief.kind,
    namespace: brief.namespace,
    name: brief.name,
    annotations: annotationsOf(object),
  };
}

/** identify() without the apiVersion and the annotations (a copy of them): what admission reads of every review. */
export function identifyBriefly(object: unknown): Pick<WorkloadIdentity, 'kind' | 'namespace' | 'name'> | undefined {
  if (!isRecord(object)) return undefined;
  const kind = asString(object['kind']);
  if (kind === undefined) return undefined;
  const metadata = isRecord(object['metadata']) ? object['metadata'] : undefined;
  if (metadata === undefined) return { kind, namespace: undefined, name: '' };
  return {
    kind,
    namespace: asString(metadata['namespace']),
    name: asString(metadata['name']) ?? asString(metadata['generateName']) ?? '',
  };
}

/** identify(object)?.annotations: the string-valued annotations, copied ({} when there are none or no identity). */
export function annotationsOf(object: unknown): Record<string, string> {
  const annotations: Record<string, string> = {};
  if (!isRecord(object)) return annotations;
  const metadata = object['metadata'];
  if (isRecord(metadata) && isRecord(metadata['annotations'])) {
    for (const [key, value] of Object.entries(metadata['annotations'])) if (typeof value === 'string') annotations[key] = value;
  }
  return annotations;
}

/** The raw pod spec object of a workload and its dotted path, or undefined when the kind has none or the shape is wrong. */
export function podSpecOf(object: unknown): { readonly kind: WorkloadKind; readonly spec: Record<string, unknown>; readonly path: string } | undefined {
  if (!isRecord(object)) return undefined;
  const kind = object['kind'];
  if (!isWorkloadKind(kind)) return undefined;
  let cursor: unknown = object;
  for (const segment of SPEC_PATHS[kind]) {
    if (!isRecord(cursor)) return undefined;
    cursor = cursor[segment];
  }
  if (!isRecord(cursor)) return undefined;
  return { kind, spec: cursor, path: WORKLOAD_SPEC_FIELDS[kind] };
}

/** A pod spec's dotted path and JSON Pointer, built once per segments array (each kind has one). */
interface SpecPaths {
  /** `segments.join('.')` */
  readonly path: string;
  /** `'/' + segments.join('/')` */
  readonly pointer: string;
}
const specPaths = new WeakMap<readonly string[], SpecPaths>();
function specPathsOf(segments: readonly string[]): SpecPaths {
  let paths = specPaths.get(segments);
  if (paths === undefined) {
    paths = { path: segments.join('.'), pointer: '/' + segments.join('/') };
    specPaths.set(segments, paths);
  }
  return paths;
}

interface ContainerPaths {
  readonly path: string;
  readonly pullPolicyPath: string;
}

/** Containers whose field paths are built once and shared (a pod has a handful; longer lists build the rest per call). */
const SHARED_PATH_INDEXES = 32;
/** Field paths by spec path and group, built once: every review of a kind names the same paths. Bounded: few spec paths exist (the built-in kinds' and the policy's podTemplates'). */
const sharedPaths = new Map<string, Partial<Record<ContainerGroup, ContainerPaths[]>>>();
const SHARED_PATH_SPECS = 256;

function buildPaths(specPath: string, group: ContainerGroup, index: number): ContainerPaths {
  const path = `${specPath}.${group}[${index}]`;
  return { path, pullPolicyPath: `${path}.imagePullPolicy` };
}

/** The field paths of a container: `spec.containers[0]` and `spec.containers[0].imagePullPolicy`. */
function containerPaths(specPath: string, group: ContainerGroup, index: number): ContainerPaths {
  if (index >= SHARED_PATH_INDEXES) return buildPaths(specPath, group, index);
  let groups = sharedPaths.get(specPath);
  if (groups === undefined) {
    if (sharedPaths.size >= SHARED_PATH_SPECS) sharedPaths.clear();
    groups = {};
    sharedPaths.set(specPath, groups);
  }
  const table = (groups[group] ??= []);
  return (table[index] ??= buildPaths(specPath, group, index));
}

/** Container lists up to this long are allocated at their size (here and in decide()). */
export const PRESIZED_CONTAINERS = 64;

/** The pod spec of a workload object, or undefined when the kind has none or the shape is wrong. */
export function extractPodSpec(object: unknown): PodSpecRef | undefined {
  const found = podSpecOf(object);
  return found === undefined ? undefined : describePodSpec(found.kind, found.spec, SPEC_PATHS[found.kind]);
}

export function describePodSpec(kind: string, spec: Record<string, unknown>, segments: readonly string[]): PodSpecRef {
  const { path: specPath, pointer: specPointer } = specPathsOf(segments);
  // Made at its size for a pod's few containers (a list grown by push takes 17 slots for three).
  let count = 0;
  for (const group of CONTAINER_GROUPS) {
    const list = spec[group];
    if (Array.isArray(list)) count += list.length;
  }
  const containers: ContainerRef[] = count <= PRESIZED_CONTAINERS ? new Array(count) : [];
  let at = 0;
  for (const group of CONTAINER_GROUPS) {
    const list = spec[group];
    if (!Array.isArray(list)) continue;
    for (let index = 0; index < list.length; index++) {
      const entry: unknown = list[index];
      const container = isRecord(entry) ? entry : {};
      const paths = containerPaths(specPath, group, index);
      containers[at++] = {
        name: asString(container['name']) ?? `#${index}`,
        group,
        index,
        path: paths.path,
        image: asString(container['image']),
        imagePullPolicy: asString(container['imagePullPolicy']),
        pullPolicyPath: paths.pullPolicyPath,
      };
    }
  }
  // Image volumes (`volumes[].image`, on by default since Kubernetes 1.33's beta): the kubelet pulls
  // them with the pod's pull secrets and pull policy, so they are checked like containers; their
  // findings point at `volumes[i].image`.
  const volumes = spec['volumes'];
  if (Array.isArray(volumes)) {
    for (let index = 0; index < volumes.length; index++) {
      const entry: unknown = volumes[index];
      if (!isRecord(entry) || !isRecord(entry['image'])) continue;
      const source = entry['image'];
      containers.push({
        name: asString(entry['name']) ?? `#${index}`,
        group: 'volumes',
        index,
        path: `${specPath}.volumes[${index}]`,
        image: asString(source['reference']),
        imagePullPolicy: asString(source['pullPolicy']),
        pullPolicyPath: `${specPath}.volumes[${index}].image.pullPolicy`,
      });
    }
  }
  const rawSecrets = spec['imagePullSecrets'];
  const imagePullSecrets = Array.isArray(rawSecrets)
    ? rawSecrets.map((entry: unknown) => (isRecord(entry) ? asString(entry['name']) ?? '' : ''))
    : [];
  return {
    kind,
    isTemplate: kind !== 'Pod',
    specPath,
    specPointer,
    serviceAccountName: asString(spec['serviceAccountName']) || asString(spec['serviceAccount']) || 'default',
    imagePullSecrets,
    hasImagePullSecretsField: Array.isArray(rawSecrets),
    containers,
  };
}
