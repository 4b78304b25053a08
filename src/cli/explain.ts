import { parseArgs } from 'node:util';
import { explainObject } from '../explain/explain.ts';
import { renderExplanations } from '../explain/render.ts';
import type { Explanation, ExplainOutput } from '../explain/types.ts';
import { DEFAULT_POLICY } from '../policy/default-policy.ts';
import { describePolicyErrors, loadPolicyText } from '../policy/load.ts';
import type { Policy } from '../policy/schema.ts';
import { readEvents } from '../pull-events/normalize.ts';
import { DEFAULT_NAMESPACE, snapshotFromObjects } from '../snapshot/from-objects.ts';
import { extractPodSpec } from '../workloads/extract.ts';
import { EXIT_DENIED, EXIT_OK, UsageError } from './errors.ts';
import { loadPolicyFile, readObjects } from './inputs.ts';
import type { PolicyConfigMapChoice } from './explain-live.ts';
import type { CommandIo } from './io.ts';
import { PROBE_FLAG_OPTIONS, parseProbeFlags } from './probe-flags.ts';
import { parseNow } from './review.ts';

export const EXPLAIN_HELP = `Usage: pullguard explain pod NAME [-n NS] [options]
       pullguard explain KIND/NAME [-n NS] [options]     (deployment/web, statefulset/db, job/x, ...)
       pullguard explain -f FILE [--state FILE|DIR]... [--events FILE]... [options]

Explains, container by container, whether the node can pull each image with the credentials the pod
really has: the image as written and normalised, who pulls it (policy rule and access), every pull
secret looked at with its verdict, every auths key and why it does or does not match, what the
kubelet said (container state and events, each classified), and one diagnosis with the fix.

Against a cluster it reads only the object's namespace: the pod (for a workload: its template and
its newest pod), the ServiceAccount, the pull secrets, the namespace and the pod's events.

  -f, --filename FILE       explain the Pods and workloads in FILE offline (YAML or JSON; '-' for stdin)
  --state FILE|DIR          cluster state for -f (Secrets, ServiceAccounts, Namespaces); repeatable
  --events FILE             events for -f, as \`kubectl get events -o yaml\` prints them (v1 or
                            events.k8s.io/v1); repeatable. Events inside the -f file count too.
  -n, --namespace NS        namespace (default: the context's, or the object's for -f)
  --kubeconfig FILE         kubeconfig (default: KUBECONFIG, ~/.kube/config, then in-cluster)
  --context NAME            kubeconfig context
  --policy FILE             policy.yaml (default: the cluster's ConfigMap, else the built-in policy)
  --policy-namespace NS     namespace of the policy ConfigMap (default pullguard; without either
                            flag, a ConfigMap not found there is searched by the chart's labels)
  --policy-configmap NAME   policy ConfigMap name (default pullguard-policy)
  --probe                   also ask each image's registry (v2 API) with the credential pullguard would
                            use (anonymously for public and uncovered images): GET /v2/, the login
                            challenge, HEAD of the manifest (a HEAD is not a Docker Hub pull)
  --ca-file FILE            with --probe: also trust this CA (PEM) for registry TLS
  --probe-timeout MS        with --probe: time-out of each registry request (default 10000)
  --probe-allow-realm HOST  with --probe: a token server on another host the credential may be sent
                            to (besides the registry itself and auth.docker.io for Docker Hub); repeatable
  -o, --output text|json    output format (default text; colour when stdout is a terminal)
  --now RFC3339             evaluate token expiry and event ages at this time (default: now)
  --no-color                never colour the text
  -h, --help                show this help
  -v, --version             print the version

Exit status: 0 every container can be pulled as far as pullguard and the kubelet can tell,
1 a diagnosis names a problem, 2 usage error or unreadable input.
`;

/** Where `serve` reads its policy by default (outside a pod), and so where explain looks first. */
const DEFAULT_POLICY_NAMESPACE = 'pullguard';
const DEFAULT_POLICY_CONFIGMAP = 'pullguard-policy';

export interface ExplainDependencies {
  /** Live reads, injectable so tests run without a cluster. */
  readonly live?: (options: LiveOptions) => Promise<LiveResult>;
}

export interface LiveOptions {
  readonly kind: string;
  readonly name: string;
  readonly namespace: string | undefined;
  readonly kubeconfig: string | undefined;
  readonly context: string | undefined;
  /** Where the policy ConfigMap is; searched by its labels when not there and no flag named it. */
  readonly policyConfigMap: PolicyConfigMapChoice;
  readonly readPolicy: boolean;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export interface LiveResult {
  readonly namespace: string;
  readonly objects: readonly Record<string, unknown>[];
  readonly state: readonly Record<string, unknown>[];
  readonly events: readonly Record<string, unknown>[];
  /** policy.yaml text from the ConfigMap, or undefined for the built-in policy. */
  readonly policyText: string | undefined;
  readonly notes: readonly string[];
}

export async function runExplain(args: readonly string[], io: CommandIo, dependencies: ExplainDependencies = {}): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: {
      filename: { type: 'string', short: 'f', multiple: true, default: [] },
      state: { type: 'string', multiple: true, default: [] },
      events: { type: 'string', multiple: true, default: [] },
      namespace: { type: 'string', short: 'n' },
      kubeconfig: { type: 'string' },
      context: { type: 'string' },
      policy: { type: 'string' },
      'policy-namespace': { type: 'string' },
      'policy-configmap': { type: 'string' },
      output: { type: 'string', short: 'o', default: 'text' },
      now: { type: 'string' },
      probe: { type: 'boolean' },
      ...PROBE_FLAG_OPTIONS,
      'no-color': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
  });
  if (values.help === true) {
    io.stdout.write(EXPLAIN_HELP);
    return EXIT_OK;
  }
  if (values.output !== 'text' && values.output !== 'json') throw new UsageError(`-o must be text or json, got ${values.output}`);
  const now = parseNow(values.now);
  const probeFlags = parseProbeFlags(values.probe === true, '--probe', values);
  const probe = probeFlags !== undefined;
  let explanations: Explanation[];
  /** Raw secrets, kept only when --probe needs a credential from them. */
  let rawSecrets: readonly Record<string, unknown>[] = [];
  if (values.filename.length > 0) {
    if (positionals.length > 0) throw new UsageError('give either -f FILE or a pod/workload name, not both');
    const offline = await explainFiles(values.filename, values.state, values.events, values.namespace, values.policy, now, io);
    explanations = offline.explanations;
    if (probe) rawSecrets = offline.objects.filter((object) => object['kind'] === 'Secret');
  } else {
    if (values.state.length > 0 || values.events.length > 0) throw new UsageError('--state and --events are for -f FILE; against a cluster they are read live');
    const target = parseTarget(positionals);
    const live = dependencies.live ?? (await import('./explain-live.ts')).readLive;
    const result = await live({
      ...target,
      namespace: values.namespace,
      kubeconfig: values.kubeconfig,
      context: values.context,
      policyConfigMap: {
        namespace: values['policy-namespace'] ?? DEFAULT_POLICY_NAMESPACE,
        name: values['policy-configmap'] ?? DEFAULT_POLICY_CONFIGMAP,
        explicit: values['policy-namespace'] !== undefined || values['policy-configmap'] !== undefined,
      },
      readPolicy: values.policy === undefined,
      env: io.env,
    });
    for (const note of result.notes) io.stderr.write(`pullguard explain: ${note}\n`);
    const policy = values.policy !== undefined ? await loadPolicyFile(values.policy) : policyFromText(result.policyText, io);
    const snapshot = snapshotFromObjects(result.state);
    const events = readEvents(result.events);
    explanations = result.objects
      .map((object) => explainObject({ object, namespace: result.namespace, snapshot, policy, now, events, source: 'cluster' }))
      .filter((entry): entry is Explanation => entry !== undefined);
    if (probe) rawSecrets = result.state.filter((object) => object['kind'] === 'Secret');
  }
  if (probeFlags !== undefined) {
    const { probeExplanations } = await import('./explain-probe.ts');
    explanations = await probeExplanations(explanations, secretLookup(rawSecrets), probeFlags);
    rawSecrets = [];
  }
  const output: ExplainOutput = { explanations: explanations.map((explanation) => withAges(explanation, now)) };
  if (values.output === 'json') io.stdout.write(JSON.stringify(output, null, 2) + '\n');
  else {
    const color = values['no-color'] !== true && io.stdout.isTTY === true && io.env['NO_COLOR'] === undefined;
    io.stdout.write(renderExplanations(output, { color }));
  }
  const problem = output.explanations.some((explanation) => explanation.containers.some((container) => container.diagnosis.code !== 'ok'));
  return problem ? EXIT_DENIED : EXIT_OK;
}

/** `pod NAME`, `pod/NAME`, `deployment/web`, `deploy web`, or a bare NAME (a pod). */
export function parseTarget(positionals: readonly string[]): { kind: string; name: string } {
  const [first, second, ...rest] = positionals;
  if (first === undefined) throw new UsageError('name a pod (explain pod NAME), a workload (explain deployment/web), or give -f FILE');
  if (rest.length > 0) throw new UsageError(`unexpected arguments: ${rest.join(' ')}`);
  const slash = first.indexOf('/');
  if (slash >= 0) {
    if (second !== undefined) throw new UsageError(`unexpected argument: ${second}`);
    return { kind: first.slice(0, slash).toLowerCase(), name: first.slice(slash + 1) };
  }
  if (second === undefined) return { kind: 'pod', name: first };
  return { kind: first.toLowerCase(), name: second };
}

function policyFromText(text: string | undefined, io: CommandIo): Policy {
  if (text === undefined) return DEFAULT_POLICY;
  const result = loadPolicyText(text);
  if (result.ok) return result.policy;
  io.stderr.write(`pullguard explain: the cluster's policy is invalid (${describePolicyErrors(result.errors)}); using the built-in policy\n`);
  return DEFAULT_POLICY;
}

function secretLookup(secrets: readonly Record<string, unknown>[]): (namespace: string, name: string) => unknown {
  return (namespace, name) =>
    secrets.findLast((secret) => {
      const metadata = (secret['metadata'] ?? {}) as Record<string, unknown>;
      return metadata['name'] === name && ((metadata['namespace'] as string | undefined) || DEFAULT_NAMESPACE) === namespace;
    });
}

async function explainFiles(
  files: readonly string[],
  stateFiles: readonly string[],
  eventFiles: readonly string[],
  namespace: string | undefined,
  policyFile: string | undefined,
  now: number,
  io: CommandIo,
): Promise<{ explanations: Explanation[]; objects: Record<string, unknown>[] }> {
  if (stateFiles.includes('-') || eventFiles.includes('-')) throw new UsageError('--state and --events read files; only -f may be - (stdin)');
  const policy = await loadPolicyFile(policyFile);
  const manifests = await readObjects(files, io.stdin);
  const state = stateFiles.length === 0 ? [] : await readObjects(stateFiles);
  const eventObjects = eventFiles.length === 0 ? [] : await readObjects(eventFiles);
  const snapshot = snapshotFromObjects([...state, ...manifests].map((entry) => entry.object));
  const events = readEvents([...manifests, ...eventObjects].map((entry) => entry.object));
  const explanations: Explanation[] = [];
  for (const entry of manifests) {
    if (extractPodSpec(entry.object) === undefined) continue;
    const explanation = explainObject({
      object: entry.object,
      namespace: namespace ?? DEFAULT_NAMESPACE,
      snapshot,
      policy,
      now,
      events,
      source: `${entry.source}:${entry.line}`,
    });
    if (explanation !== undefined) explanations.push(explanation);
  }
  if (explanations.length === 0) throw new UsageError(`no Pod or workload with a pod template in ${files.join(', ')}`);
  return { explanations, objects: [...state, ...manifests].map((entry) => entry.object) };
}

/** Event ages are relative to --now: computed once here so the pure core's output is stable. */
function withAges(explanation: Explanation, now: number): Explanation {
  const age = <T extends { lastSeen: string | null; ageMs: number | null }>(event: T): T =>
    event.lastSeen === null ? event : { ...event, ageMs: Math.max(0, now - Date.parse(event.lastSeen)) };
  return {
    ...explanation,
    podEvents: explanation.podEvents.map(age),
    containers: explanation.containers.map((container) => ({ ...container, kubelet: { ...container.kubelet, events: container.kubelet.events.map(age) } })),
  };
}
