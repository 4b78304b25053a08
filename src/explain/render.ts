import { formatDuration } from '../decide/messages.ts';
import type { PullEventCause } from '../pull-events/classify.ts';
import type { ClassifiedEvent, ContainerExplanation, Explanation, ExplainOutput } from './types.ts';

export interface RenderOptions {
  readonly color: boolean;
}

const COLORS = { red: '\x1b[31m', yellow: '\x1b[33m', green: '\x1b[32m', cyan: '\x1b[36m', dim: '\x1b[2m', bold: '\x1b[1m', reset: '\x1b[0m' } as const;
type Color = keyof typeof COLORS;

/** Names, images and event texts come from objects anyone may create: control characters are shown as `\xNN`. */
function clean(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Longest event message shown; the JSON keeps them whole. */
const MAX_MESSAGE_CHARS = 400;

const CAUSE_COLORS: Readonly<Record<PullEventCause, Color>> = {
  unauthorized: 'red',
  'not-found': 'red',
  'rate-limited': 'yellow',
  tls: 'red',
  network: 'red',
  'never-pull': 'red',
  'invalid-name': 'red',
  'secret-missing': 'yellow',
  'secret-malformed': 'red',
  backoff: 'dim',
  pulled: 'green',
  pulling: 'dim',
  unknown: 'yellow',
};

/** The person's view: one block per object, one section per container, the diagnosis last and in bold. */
export function renderExplanations(output: ExplainOutput, options: RenderOptions): string {
  const paint = (color: Color, text: string): string => (options.color ? `${COLORS[color]}${text}${COLORS.reset}` : text);
  const blocks = output.explanations.map((explanation) => renderOne(explanation, paint));
  return blocks.join('\n') + (blocks.length === 0 ? 'nothing to explain\n' : '');
}

type Paint = (color: Color, text: string) => string;

function renderOne(explanation: Explanation, paint: Paint): string {
  const lines: string[] = [];
  const { object } = explanation;
  const verdictColor = { allow: 'green', inject: 'cyan', deny: 'red' } as const;
  lines.push(
    `${paint('bold', `${clean(object.kind)} ${clean(object.namespace)}/${clean(object.name)}`)}${explanation.template ? paint('dim', ' (pod template)') : ''}  ` +
      `pullguard: ${paint(verdictColor[explanation.decision], explanation.decision)}  ${paint('dim', `mode ${explanation.mode} · ${clean(object.source)}`)}`,
  );
  if (explanation.notChecked !== null) lines.push(paint('dim', `  the webhook does not check this: ${clean(explanation.notChecked)}; explained as if it did`));
  const secretsFrom =
    explanation.secretsSource === 'pod'
      ? "the pod's own imagePullSecrets"
      : explanation.secretsSource === 'serviceAccount'
        ? `ServiceAccount ${clean(explanation.serviceAccount)} (copied at creation: the pod listed none)`
        : 'none';
  lines.push(`  pull secrets  ${secretsFrom}${explanation.owner !== null ? paint('dim', `  · owner ${clean(explanation.owner)}`) : ''}`);
  for (const secret of explanation.secrets) {
    const status = secret.status === 'usable' ? paint('green', 'usable') : paint('red', secret.status);
    const detail = secret.detail !== null ? ` (${clean(secret.detail)})` : '';
    lines.push(`    ${clean(secret.name)}  ${paint('dim', `from ${secret.source}`)}  ${status}${detail}${secret.type !== null ? paint('dim', `  ${clean(secret.type)}`) : ''}`);
  }
  for (const finding of explanation.findings) lines.push(`  ${paint(finding.severity === 'deny' ? 'red' : 'yellow', finding.severity)} ${finding.code}: ${clean(finding.message)}`);
  for (const event of explanation.podEvents) lines.push(`  ${renderEvent(event, paint)}`);
  for (const container of explanation.containers) lines.push('', ...renderContainer(container, paint));
  return lines.join('\n') + '\n';
}

function renderContainer(container: ContainerExplanation, paint: Paint): string[] {
  const lines: string[] = [];
  const verdictColor = { allow: 'green', inject: 'cyan', deny: 'red' } as const;
  lines.push(`  ${paint('bold', `${groupLabel(container.group)} ${clean(container.name)}`)}  ${paint('dim', clean(container.path))}  pullguard: ${paint(verdictColor[container.decision], container.decision)}`);
  const ref = container.reference;
  lines.push(`    image       ${clean(container.image)}${ref.normalized !== null && ref.normalized !== container.image ? paint('dim', `  →  ${clean(ref.normalized)}`) : ''}`);
  if (ref.valid) {
    const version = ref.digest !== null ? `digest ${ref.digest}` : `tag ${ref.tag ?? 'latest (implied)'}`;
    lines.push(paint('dim', `                registry ${clean(ref.registry ?? '')} · repository ${clean(ref.repository ?? '')} · ${clean(version)} · pull policy ${container.pullPolicy}${container.pullPolicyDefaulted ? ' (defaulted)' : ''}`));
  }
  if (container.access !== null) {
    const rule = container.accessRule !== null ? `rule ${clean(container.accessRule)}` : 'defaultAccess';
    const credential =
      container.credential === null
        ? ''
        : container.credential.source === 'injected'
          ? `; not covered by the pod's secrets, but namespace secret ${clean(container.credential.secret)} (key ${clean(container.credential.key)}) would be`
          : `, credential ${clean(container.credential.secret)} key ${clean(container.credential.key)} (from ${container.credential.source})`;
    lines.push(`    who pulls   access ${container.access} (${rule})${credential}`);
  }
  if (container.keys.length > 0) {
    lines.push('    keys');
    for (const key of container.keys) {
      const mark = key.matches ? (key.unusableBecause !== null ? paint('yellow', `matches, but ${key.unusableBecause}`) : paint('green', 'matches')) : paint('dim', 'no');
      lines.push(`      ${clean(key.secret)} ${clean(key.key)}  ${mark}  ${paint('dim', clean(key.detail))}`);
    }
  }
  for (const finding of container.findings) {
    const color = finding.severity === 'deny' ? 'red' : finding.severity === 'warn' ? 'yellow' : 'dim';
    lines.push(`    ${paint(color, finding.severity.padEnd(4))} ${finding.code}: ${clean(finding.message)}`);
  }
  const kubelet = container.kubelet;
  if (kubelet.state !== null || kubelet.events.length > 0) {
    const state = kubelet.state === null ? 'no status' : `${kubelet.state}${kubelet.reason !== null ? ` ${clean(kubelet.reason)}` : ''}`;
    lines.push(`    kubelet     ${state}${kubelet.cause !== null ? `  cause ${paint(CAUSE_COLORS[kubelet.cause], kubelet.cause)}` : ''}`);
    if (kubelet.message !== null && kubelet.message !== '') lines.push(paint('dim', `                ${clean(shorten(kubelet.message))}`));
    for (const event of kubelet.events) lines.push(`      ${renderEvent(event, paint)}`);
  }
  if (container.probe !== undefined && container.probe !== null) {
    const probe = container.probe;
    const trail = probe.steps.map((step) => `${step.method} ${new URL(step.url).pathname} ${step.status ?? step.error ?? ''}`).join(' → ');
    const color = probe.verdict === 'ok' ? 'green' : 'red';
    lines.push(`    probe       ${paint(color, probe.verdict)}  ${clean(probe.summary)}`);
    lines.push(paint('dim', `                ${probe.withCredential ? 'with the credential' : 'anonymously'} · ${clean(trail)} · time-out ${probe.timeoutMs} ms each${probe.digest !== null ? ` · ${probe.digest}` : ''}`));
  }
  const diagnosis = container.diagnosis;
  const agreement = diagnosis.agreement === 'disagree' ? paint('yellow', '  (pullguard and the kubelet disagree)') : '';
  lines.push(`    ${paint('bold', 'diagnosis')}   ${paint(diagnosis.code === 'ok' ? 'green' : 'red', clean(diagnosis.summary))}${agreement}`);
  const probed = container.probe !== undefined && container.probe !== null;
  for (const note of diagnosis.notes) if (!(probed && note.startsWith('probe'))) lines.push(`                ${paint('dim', clean(note))}`);
  if (diagnosis.fix !== '') {
    const [first, ...rest] = diagnosis.fix.split('\n');
    lines.push(`    ${paint('bold', 'fix')}         ${clean(first ?? '')}`);
    for (const line of rest) lines.push(`                ${clean(line)}`);
  }
  return lines;
}

function renderEvent(event: ClassifiedEvent, paint: Paint): string {
  const age = event.ageMs === null ? '?' : `${formatDuration(event.ageMs)} ago`;
  const count = event.count > 1 ? ` ×${event.count}` : '';
  return `${paint('dim', `${age}${count}`)}  ${event.reason}  ${paint(CAUSE_COLORS[event.cause], event.cause)}  ${paint('dim', clean(shorten(event.message)))}`;
}

function shorten(text: string): string {
  return text.length > MAX_MESSAGE_CHARS ? `${text.slice(0, MAX_MESSAGE_CHARS)}…` : text;
}

function groupLabel(group: string): string {
  if (group === 'initContainers') return 'init container';
  if (group === 'ephemeralContainers') return 'ephemeral container';
  if (group === 'containers') return 'container';
  return group;
}
