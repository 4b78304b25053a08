// The webhook's identity as the Helm chart defines it, on the test cluster: the chart's own
// templates rendered by the harness's helm (no hand-copied rules that could drift from the chart),
// applied with kubectl, and a client-node KubeConfig that authenticates as the chart's
// ServiceAccount with a token from the TokenRequest API (`kubectl create token`).
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import type { ControlPlane } from './control-plane.ts';

const execFileAsync = promisify(execFile);
const CHART = fileURLToPath(new URL('../../../charts/pullguard', import.meta.url));

/** The templates that make up the webhook's identity and rights (the certificate Jobs have their own). */
export const WEBHOOK_IDENTITY_TEMPLATES = ['templates/serviceaccount.yaml', 'templates/rbac.yaml'] as const;

/** A token lives at least 10 minutes (the TokenRequest minimum); the suite is shorter. */
const TOKEN_DURATION = '1h';

export interface ChartRender {
  readonly release: string;
  readonly namespace: string;
  readonly templates: readonly string[];
  /** `--set` values (`key=value`), applied over the chart's defaults. */
  readonly set?: readonly string[];
}

/** `helm template` of some of the chart's templates with its default values: multi-document YAML. */
export async function renderChartTemplates(controlPlane: Pick<ControlPlane, 'binDir'>, render: ChartRender): Promise<string> {
  const args = ['template', render.release, CHART, '--namespace', render.namespace, ...render.templates.flatMap((template) => ['--show-only', template]), ...(render.set ?? []).flatMap((value) => ['--set', value])];
  const { stdout } = await execFileAsync(join(controlPlane.binDir, 'helm'), args, { maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

/** Renders the webhook's ServiceAccount, ClusterRole, Role and bindings and applies them to the cluster. */
export async function applyWebhookIdentity(controlPlane: ControlPlane, release: string, namespace: string, set: readonly string[] = []): Promise<string> {
  const manifest = await renderChartTemplates(controlPlane, { release, namespace, templates: WEBHOOK_IDENTITY_TEMPLATES, set });
  await controlPlane.kubectl(['apply', '-f', '-'], { input: manifest });
  return manifest;
}

/** A KubeConfig acting as ServiceAccount `namespace/name`, trusting only the test API server's CA. */
export async function serviceAccountKubeConfig(controlPlane: ControlPlane, namespace: string, name: string): Promise<KubeConfig> {
  const token = (await controlPlane.kubectl(['create', 'token', name, '--namespace', namespace, `--duration=${TOKEN_DURATION}`])).stdout.trim();
  if (token === '') throw new Error(`TokenRequest for ${namespace}/${name} returned no token`);
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'e2e', server: controlPlane.apiserverUrl, caData: Buffer.from(controlPlane.caPem).toString('base64'), skipTLSVerify: false }],
    users: [{ name: `${namespace}-${name}`, token }],
    contexts: [{ name: 'as-service-account', cluster: 'e2e', user: `${namespace}-${name}` }],
    currentContext: 'as-service-account',
  });
  return kubeConfig;
}
