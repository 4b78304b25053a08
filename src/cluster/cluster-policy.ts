import { DEFAULT_POLICY } from '../policy/default-policy.ts';
import { describePolicyErrors, loadPolicyText } from '../policy/load.ts';
import type { Policy } from '../policy/schema.ts';
import { isRecord } from '../workloads/extract.ts';
import { POLICY_KEY } from './projection.ts';
import { isApiStatus, type KubeRest } from './rest.ts';

/**
 * The policy a cluster audit decides with: the one the webhook runs, read from its ConfigMap.
 * `--policy-configmap NAMESPACE/NAME` names it; otherwise the ConfigMap the Helm chart installs
 * is found by its labels (part-of pullguard, component webhook, holding `policy.yaml`) in any
 * namespace, so the audit needs no flag for a chart install under any release name.
 */

export const POLICY_CONFIGMAP_SELECTOR = 'app.kubernetes.io/part-of=pullguard,app.kubernetes.io/component=webhook';

export interface ClusterPolicy {
  readonly policy: Policy;
  /** `ConfigMap NS/NAME`, or why the built-in default applies. */
  readonly source: string;
}

export class ClusterPolicyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ClusterPolicyError';
  }
}

function parseConfigMapPolicy(raw: unknown, where: string): Policy {
  const data = isRecord(raw) && isRecord(raw['data']) ? raw['data'] : {};
  const text = data[POLICY_KEY];
  if (typeof text !== 'string') throw new ClusterPolicyError(`${where} has no ${POLICY_KEY} key`);
  const result = loadPolicyText(text);
  if (!result.ok) throw new ClusterPolicyError(`invalid policy in ${where}: ${describePolicyErrors(result.errors)}`);
  return result.policy;
}

/** `NAMESPACE/NAME` → its parts; a usage error otherwise. */
export function parseObjectName(text: string, flag: string): { namespace: string; name: string } {
  const [namespace, name, ...rest] = text.split('/');
  if (namespace === undefined || name === undefined || namespace === '' || name === '' || rest.length > 0) {
    throw new ClusterPolicyError(`${flag} must be NAMESPACE/NAME, got "${text}"`);
  }
  return { namespace, name };
}

export async function readClusterPolicy(rest: KubeRest, configMap: { namespace: string; name: string } | undefined): Promise<ClusterPolicy> {
  if (configMap !== undefined) {
    const where = `ConfigMap ${configMap.namespace}/${configMap.name}`;
    let raw: unknown;
    try {
      raw = await rest.request({ method: 'GET', path: `/api/v1/namespaces/${encodeURIComponent(configMap.namespace)}/configmaps/${encodeURIComponent(configMap.name)}` });
    } catch (error) {
      if (isApiStatus(error, 404)) throw new ClusterPolicyError(`${where} does not exist`);
      throw error;
    }
    return { policy: parseConfigMapPolicy(raw, where), source: where };
  }
  let list: unknown;
  try {
    list = await rest.request({ method: 'GET', path: '/api/v1/configmaps', query: { labelSelector: POLICY_CONFIGMAP_SELECTOR } });
  } catch (error) {
    if (isApiStatus(error, 403)) {
      throw new ClusterPolicyError(`cannot search ConfigMaps for the pullguard policy (403): give --policy-configmap NAMESPACE/NAME or --policy FILE`);
    }
    throw error;
  }
  const items = isRecord(list) && Array.isArray(list['items']) ? (list['items'] as unknown[]) : [];
  const found = items.filter((item) => isRecord(item) && isRecord(item['data']) && typeof item['data'][POLICY_KEY] === 'string');
  const nameOf = (item: unknown): string => {
    const metadata = isRecord(item) && isRecord(item['metadata']) ? item['metadata'] : {};
    return `${String(metadata['namespace'])}/${String(metadata['name'])}`;
  };
  if (found.length === 0) return { policy: DEFAULT_POLICY, source: 'the built-in default (no pullguard policy ConfigMap found; give --policy-configmap or --policy)' };
  if (found.length > 1) {
    throw new ClusterPolicyError(`found ${found.length} pullguard policy ConfigMaps (${found.map(nameOf).join(', ')}): choose one with --policy-configmap NAMESPACE/NAME`);
  }
  const where = `ConfigMap ${nameOf(found[0])}`;
  return { policy: parseConfigMapPolicy(found[0], where), source: where };
}
