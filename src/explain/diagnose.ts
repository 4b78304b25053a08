import type { PodDecision } from '../decide/types.ts';
import { formatDuration } from '../decide/messages.ts';
import type { Finding, FindingCode } from '../findings/catalogue.ts';
import { FAILURE_CAUSES, type PullEventCause } from '../pull-events/classify.ts';
import type { ContainerContext } from './explain.ts';
import type { ContainerExplanation, Diagnosis } from './types.ts';

/**
 * One diagnosis per container: pullguard's most specific finding, or the kubelet's last error
 * when pullguard sees nothing wrong, with a fix a person can run or paste. Credentials never
 * appear: commands carry placeholders.
 */

export type ContainerFacts = Omit<ContainerExplanation, 'diagnosis'>;

/** Findings that explain a failed pull, most specific first. */
const PRIORITY: readonly FindingCode[] = [
  'InvalidImageReference',
  'PullSecretMalformed',
  'CredentialExpired',
  'PullSecretNotFound',
  'PullSecretWrongType',
  'ServiceAccountSecretsIgnored',
  'NoMatchingCredential',
];

const DOCKER_HUB_SERVER = 'https://index.docker.io/v1/';

export function diagnose(facts: ContainerFacts, decision: PodDecision, context: ContainerContext): Diagnosis {
  const kubelet = facts.kubelet.cause;
  const failing = kubelet !== null && FAILURE_CAUSES.has(kubelet);
  const kubeletOk = kubelet === 'pulled' || facts.kubelet.state === 'running' || facts.kubelet.state === 'terminated';
  // A denial's cause, or (when a namespace secret would be injected) the cause behind the injection.
  const injected = facts.findings.find((entry) => entry.code === 'InjectedPullSecret');
  const causes = facts.findings.filter((entry) => entry.severity === 'deny' || (injected !== undefined && entry.severity === 'warn'));
  const finding = PRIORITY.map((code) => causes.find((entry) => entry.code === code)).find((entry) => entry !== undefined);
  const notes: string[] = [];

  if (finding !== undefined || (facts.decision === 'inject' && injected !== undefined)) {
    const problem = finding !== undefined ? fromFinding(finding, facts, decision, context) : fromInjection(facts, context);
    let agreement: Diagnosis['agreement'] = 'no-kubelet-data';
    if (failing) {
      agreement = 'agree';
      if (kubelet !== 'unauthorized' && kubelet !== 'invalid-name' && kubelet !== 'unknown' && !(kubelet === 'secret-malformed' && finding?.code === 'PullSecretMalformed')) {
        notes.push(`the kubelet's last error is ${kubelet}: ${KUBELET_CAUSES[kubelet]?.summary ?? kubelet}; fix the credential first, then look again`);
      }
    } else if (kubeletOk) {
      agreement = 'disagree';
      notes.push(
        'the kubelet started this container anyway: the image may be cached on the node (pull policy ' +
          `${facts.pullPolicy}) or the node pulls with its own identity; a pod on another node would fail to pull`,
      );
    }
    return { ...problem, agreement, notes: [...problem.notes, ...notes] };
  }

  if (failing && kubelet !== null) {
    const fromKubelet = kubeletProblem(kubelet, facts, context);
    return { ...fromKubelet, agreement: 'disagree', notes: [...fromKubelet.notes, ...notes] };
  }
  const summary =
    facts.access === 'public'
      ? `${facts.image} is pulled anonymously (access public${facts.accessRule !== null ? `, rule ${facts.accessRule}` : ''})`
      : facts.access === 'node'
        ? `${facts.image} is pulled with the node's identity (access node${facts.accessRule !== null ? `, rule ${facts.accessRule}` : ''})`
        : facts.credential !== null
          ? `${facts.image} is covered by secret ${facts.credential.secret} (key ${facts.credential.key})`
          : `nothing is wrong with ${facts.image}`;
  if (kubelet === 'backoff') {
    // The kubelet failed and says only that it is waiting: the error event is gone (events expire after an hour) or not read.
    return {
      code: 'backoff',
      summary: `pullguard sees no problem (${summary}), but the kubelet is backing off and no event left says why`,
      fix: 'ask the registry: `pullguard explain --probe` (with the same credential); or wait for the next retry and look again: its Failed event names the error',
      agreement: 'disagree',
      notes: [],
    };
  }
  return { code: 'ok', summary, fix: '', agreement: kubelet === null || kubelet === 'pulling' ? 'no-kubelet-data' : 'agree', notes: [] };
}

type Problem = Omit<Diagnosis, 'agreement'>;

function fromFinding(finding: Finding, facts: ContainerFacts, decision: PodDecision, context: ContainerContext): Problem {
  const registry = facts.reference.registry ?? '';
  const secretName = secretOf(finding, decision);
  switch (finding.code) {
    case 'InvalidImageReference':
      return {
        code: finding.code,
        summary: `the image "${facts.image}" is not a valid reference, so the kubelet reports InvalidImageName and never pulls`,
        fix: `set ${facts.path}.image to a reference like registry.example.com/team/app:1.0 (lower-case repository, a tag or a digest)`,
        notes: [],
      };
    case 'PullSecretMalformed': {
      const secret = decision.secrets.find((entry) => entry.status === 'malformed');
      const name = secret?.name ?? secretName ?? 'regcred';
      return {
        code: finding.code,
        summary: `secret ${name} is malformed (${secret?.detail ?? 'undecodable'}), and one undecodable pull secret makes the kubelet fail every pull of the pod`,
        fix: recreateSecret(name, context.namespace, registry),
        notes: [],
      };
    }
    case 'CredentialExpired': {
      const expired = facts.keys.find((key) => key.matches && key.unusableBecause === 'expired');
      const key = context.secrets.find((secret) => secret.name === expired?.secret)?.keys.find((entry) => entry.key === expired?.key);
      const at = key?.expiresAt ?? null;
      const ago = at === null ? '' : ` ${formatDuration(context.now - Date.parse(at))} ago (${at})`;
      const name = expired?.secret ?? 'regcred';
      return {
        code: finding.code,
        summary: `the token for ${registry} in secret ${name} expired${ago}; the registry refuses it`,
        fix: refreshToken(name, context.namespace, registry),
        notes: ['a static secret holding a short-lived token expires again: prefer the node identity (access: node) or a job that refreshes the secret'],
      };
    }
    case 'PullSecretNotFound': {
      const missing = decision.secrets.find((entry) => entry.status === 'not-found');
      const name = missing?.name ?? secretName ?? 'regcred';
      const similar = similarName(name, context);
      return {
        code: finding.code,
        summary: `secret ${name} does not exist in namespace ${context.namespace}; the kubelet pulls without it${similar !== undefined ? ` (did you mean ${similar}?)` : ''}`,
        fix: similar !== undefined ? addSecret(similar, facts, context, name) : createSecret(name, context.namespace, registry),
        notes: similar !== undefined ? [`secret ${similar} exists and covers ${registry}: list it instead of ${name}`] : [],
      };
    }
    case 'PullSecretWrongType': {
      const wrong = decision.secrets.find((entry) => entry.status === 'wrong-type');
      const name = wrong?.name ?? secretName ?? 'regcred';
      const type = context.secrets.find((secret) => secret.name === name)?.type ?? 'not a pull secret';
      return {
        code: finding.code,
        summary: `secret ${name} is of type ${type} (${wrong?.detail ?? 'not a pull secret'}); the kubelet ignores it and pulls without it`,
        fix: recreateSecret(name, context.namespace, registry),
        notes: [],
      };
    }
    case 'ServiceAccountSecretsIgnored': {
      const match = /SA secret (\S+) /.exec(finding.message);
      const name = match?.[1] ?? 'the ServiceAccount\'s secret';
      return {
        code: finding.code,
        summary: `the pod lists its own imagePullSecrets, so the ServiceAccount ${context.spec.serviceAccountName}'s secret ${name} (which covers ${registry}) is not copied into it`,
        fix: addSecret(name, facts, context),
        notes: [],
      };
    }
    default: {
      const anonymous = facts.keys.find((key) => key.matches && key.unusableBecause === 'anonymous');
      if (anonymous !== undefined) {
        return {
          code: finding.code,
          summary: `secret ${anonymous.secret} has a key for ${registry} (${anonymous.key}) without a username and password, so the kubelet pulls anonymously`,
          fix: recreateSecret(anonymous.secret, context.namespace, registry),
          notes: [],
        };
      }
      const looked = decision.secrets.length === 0 ? 'the pod has no imagePullSecrets' : `looked at ${decision.secrets.map((entry) => entry.name).join(', ')}`;
      const name = freeName(context);
      return {
        code: finding.code,
        summary: `no pull secret of the pod has a key for ${registry} (${looked}), so the kubelet pulls anonymously and a private registry refuses it`,
        fix: `${createSecret(name, context.namespace, registry)}\n${addSecret(name, facts, context)}`,
        notes: [],
      };
    }
  }
}

function fromInjection(facts: ContainerFacts, context: ContainerContext): Problem {
  const name = facts.credential?.secret ?? 'regcred';
  const registry = facts.reference.registry ?? '';
  const cause = facts.findings.find((entry) => entry.code !== 'InjectedPullSecret' && entry.severity !== 'info');
  return {
    code: 'InjectedPullSecret',
    summary: `the pod's secrets do not cover ${registry}; secret ${name} in the namespace does${cause !== undefined ? ` (${cause.message})` : ''}`,
    fix: addSecret(name, facts, context),
    notes: context.created ? ['the webhook injects it into pods it admits; this pod was created without it'] : ['the webhook injects it into the pods it admits'],
  };
}

/** The kubelet's causes, for a person: what it means and what to do. */
const KUBELET_CAUSES: Partial<Record<PullEventCause, { summary: string }>> = {
  unauthorized: { summary: 'the registry refused the credentials (or their absence)' },
  'not-found': { summary: 'the registry has no such repository, tag or digest' },
  'rate-limited': { summary: 'the registry rate-limits this node (Docker Hub: anonymous pulls per IP)' },
  tls: { summary: "the node does not trust the registry's TLS certificate, or the registry does not speak TLS" },
  network: { summary: 'the node cannot reach the registry (DNS, firewall, proxy, or the registry is down)' },
  'never-pull': { summary: 'imagePullPolicy is Never and the image is not on the node (or this pod may not use the cached copy)' },
  'invalid-name': { summary: 'the image string does not parse' },
  'secret-malformed': { summary: "the kubelet cannot decode one of the pod's pull secrets, so it fails every pull of the pod" },
  unknown: { summary: 'the kubelet reports an error pullguard cannot classify' },
};

function kubeletProblem(cause: PullEventCause, facts: ContainerFacts, context: ContainerContext): Problem {
  const registry = facts.reference.registry ?? '';
  const what = KUBELET_CAUSES[cause]?.summary ?? cause;
  switch (cause) {
    case 'unauthorized':
      if (facts.credential !== null) {
        return {
          code: 'credential-rejected',
          summary: `pullguard says secret ${facts.credential.secret} (key ${facts.credential.key}) covers ${facts.image}, but the registry refused it: the credential itself is wrong, revoked or lacks pull rights`,
          fix: recreateSecret(facts.credential.secret, context.namespace, registry),
          notes: ['`pullguard explain --probe` asks the registry whether it accepts this credential'],
        };
      }
      if (facts.access === 'node') {
        return {
          code: 'unauthorized',
          summary: `the node pulls ${facts.image} with its own identity (access node) and the registry refused it`,
          fix: "give the node's identity pull rights on the repository (EKS: the node role's ecr:BatchGetImage; GKE: Artifact Registry Reader for the node service account; AKS: AcrPull), or use a pull secret",
          notes: [],
        };
      }
      return {
        code: 'unauthorized',
        summary: `${facts.image} is pulled anonymously (access public${facts.accessRule !== null ? `, rule ${facts.accessRule}` : ''}) and the registry refused: the repository is private, or it does not exist`,
        fix: `${createSecret(freeName(context), context.namespace, registry)}\n${addSecret(freeName(context), facts, context)}\nand tell pullguard the repository is private (policy registries: [{hosts: ["${facts.reference.registry ?? ''}/${firstPathComponent(facts)}"], access: secret}])`,
        notes: ['`pullguard explain --probe` tells a missing repository from a private one where the registry says so'],
      };
    case 'not-found':
      return {
        code: cause,
        summary: `${what}: ${facts.reference.normalized ?? facts.image}`,
        fix: `check the repository and the ${facts.reference.digest !== null ? 'digest' : 'tag'} exist (\`pullguard explain --probe\` asks the registry), then set ${facts.path}.image`,
        notes: [],
      };
    case 'rate-limited':
      return {
        code: cause,
        summary: `${what}`,
        fix: `${createSecret(freeName(context), context.namespace, registry)}\n${addSecret(freeName(context), facts, context)}\n(authenticated pulls have a higher limit; a pull-through cache or mirror removes it)`,
        notes: [],
      };
    case 'tls':
      return {
        code: cause,
        summary: `${what} (${registry})`,
        fix: `trust the registry's CA on every node: for containerd, put it in /etc/containerd/certs.d/${registry}/ca.crt (or hosts.toml \`ca\`), then retry; \`pullguard explain --probe --ca-file CA.pem\` checks the CA`,
        notes: [],
      };
    case 'network':
      return {
        code: cause,
        summary: `${what} (${registry})`,
        fix: `from a node: \`curl -sv https://${registry}/v2/\`; check DNS, egress firewall rules, the node's HTTPS proxy, and the registry's status`,
        notes: [],
      };
    case 'never-pull':
      return {
        code: cause,
        summary: `${what}`,
        fix: `load the image onto every node that may run the pod, or set ${facts.path}.imagePullPolicy to IfNotPresent`,
        notes: [],
      };
    case 'invalid-name':
      return { code: cause, summary: `the image "${facts.image}" does not parse`, fix: `set ${facts.path}.image to a valid reference`, notes: [] };
    case 'secret-malformed': {
      // pullguard found every secret it read well-formed: the bad one is a secret it could not read (RBAC) or changed since.
      const error = facts.kubelet.events.find((event) => event.cause === cause)?.message.replace(/^Error: /, '') ?? facts.kubelet.message ?? facts.kubelet.reason ?? '';
      return {
        code: cause,
        summary: `${what} (${error})`,
        fix: `decode each pull secret of the pod and of its ServiceAccount (kubectl get secret NAME -n ${context.namespace} -o jsonpath='{.data.\\.dockerconfigjson}' | base64 -d) and recreate the one that does not parse with kubectl create secret docker-registry`,
        notes: ['pullguard found no malformed secret among those it could read: the bad one may be a secret it may not read, or one changed since'],
      };
    }
    default:
      return { code: cause, summary: `${what}: ${facts.kubelet.events.find((event) => FAILURE_CAUSES.has(event.cause))?.message ?? facts.kubelet.message ?? ''}`, fix: 'read the event message; `pullguard explain --probe` checks the registry side', notes: [] };
  }
}

function firstPathComponent(facts: ContainerFacts): string {
  const repository = facts.reference.repository ?? '';
  const slash = repository.indexOf('/');
  return slash < 0 ? repository : repository.slice(0, slash);
}

function secretOf(finding: Finding, decision: PodDecision): string | undefined {
  return decision.secrets.find((entry) => finding.message.includes(`secret ${entry.name} `))?.name;
}

/** A namespace secret whose name is one edit away and that is usable: the likely intended one. */
function similarName(name: string, context: ContainerContext): string | undefined {
  for (const view of context.snapshot.pullSecrets(context.namespace)) {
    if (view.usable && view.name !== name && withinOneEdit(view.name, name)) return view.name;
  }
  return undefined;
}

function withinOneEdit(a: string, b: string): boolean {
  if (Math.abs(a.length - b.length) > 1) return false;
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return a.slice(i + 1) === b.slice(i + 1) || a.slice(i) === b.slice(i + 1) || a.slice(i + 1) === b.slice(i);
}

function freeName(context: ContainerContext): string {
  return context.snapshot.secret(context.namespace, 'regcred') === undefined ? 'regcred' : `regcred-${context.spec.serviceAccountName}`;
}

function server(registry: string): string {
  return registry === 'docker.io' ? DOCKER_HUB_SERVER : registry;
}

function createSecret(name: string, namespace: string, registry: string): string {
  return `kubectl create secret docker-registry ${name} -n ${namespace} --docker-server=${server(registry)} --docker-username=<user> --docker-password=<password>`;
}

function recreateSecret(name: string, namespace: string, registry: string): string {
  return `${createSecret(name, namespace, registry)} --dry-run=client -o yaml | kubectl apply -f -`;
}

const ECR_HOST = /^\d{12}\.dkr\.ecr(-fips)?\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/;

function refreshToken(name: string, namespace: string, registry: string): string {
  const ecr = ECR_HOST.exec(registry);
  if (ecr !== null) {
    return `kubectl create secret docker-registry ${name} -n ${namespace} --docker-server=${registry} --docker-username=AWS --docker-password="$(aws ecr get-login-password --region ${ecr[2] ?? '<region>'})" --dry-run=client -o yaml | kubectl apply -f -`;
  }
  if (registry.endsWith('gcr.io') || registry.endsWith('-docker.pkg.dev')) {
    return `kubectl create secret docker-registry ${name} -n ${namespace} --docker-server=${registry} --docker-username=oauth2accesstoken --docker-password="$(gcloud auth print-access-token)" --dry-run=client -o yaml | kubectl apply -f -`;
  }
  return recreateSecret(name, namespace, registry);
}

/** How to give the pod (or the pods of its controller) one more pull secret. */
function addSecret(name: string, _facts: ContainerFacts, context: ContainerContext, replacing?: string): string {
  const spec = context.spec;
  const listed = spec.imagePullSecrets.filter((entry) => entry !== '');
  // A template without a list gets the ServiceAccount's at pod creation; a list of its own stops
  // that copy, so it must carry the ServiceAccount's secrets too.
  const inherited = listed.length === 0 && !context.created ? (context.snapshot.serviceAccountPullSecrets(context.namespace, spec.serviceAccountName) ?? []) : [];
  const base = listed.length > 0 ? listed : inherited;
  const list = [...base.filter((entry) => entry !== name && entry !== replacing), name];
  const yaml = `imagePullSecrets:\n${list.map((entry) => `- name: ${entry}`).join('\n')}`;
  if (!spec.isTemplate && context.created) {
    const where = context.owner !== null ? `the pod template of its controller (${context.owner}${context.owner.startsWith('ReplicaSet/') ? ', i.e. its Deployment' : ''})` : 'the pod manifest';
    const serviceAccount =
      listed.length === 0 && context.owner !== null
        ? `\nor, since the pod lists no secrets: ${patchServiceAccount(name, context)} and delete the pod so its controller recreates it`
        : '';
    return `imagePullSecrets cannot change on a created pod: set in ${where}:\n${indent(yaml)}\nthen let the pod be recreated${serviceAccount}`;
  }
  const kept = inherited.length > 0 ? ` (with the ServiceAccount's ${inherited.join(', ')}, which a list of its own stops copying)` : '';
  return `set in ${spec.specPath} of the ${spec.kind}${kept}:\n${indent(yaml)}`;
}

function patchServiceAccount(name: string, context: ContainerContext): string {
  const current = context.snapshot.serviceAccountPullSecrets(context.namespace, context.spec.serviceAccountName) ?? [];
  const list = [...current.filter((entry) => entry !== name), name].map((entry) => `{"name":"${entry}"}`).join(',');
  return `kubectl patch serviceaccount ${context.spec.serviceAccountName} -n ${context.namespace} -p '{"imagePullSecrets":[${list}]}'`;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
}
