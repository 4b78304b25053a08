import { parseKeyringKey } from '../credentials/keyring.ts';
import { policyPatternMatches } from './pattern-match.ts';

/**
 * Registries whose images the nodes of a managed cluster usually pull with their own identity
 * (a kubelet credential provider): ECR on EKS (the node's IAM role), Artifact Registry and
 * Container Registry on GKE (the node's service account), ACR on AKS (the kubelet identity).
 * The Helm chart's `cloud` value adds these as `access: node` rules (charts/pullguard keeps the
 * same lists; a test checks they agree), and a denial for such an image under the default policy
 * shows the rule.
 */
export const CLOUD_NODE_REGISTRIES = {
  eks: { cluster: 'EKS', identity: "the node's IAM role", hosts: ['*.dkr.ecr.*.amazonaws.com', '*.dkr.ecr.*.amazonaws.com.cn', '*.dkr.ecr-fips.*.amazonaws.com'] },
  gke: { cluster: 'GKE', identity: "the node's service account", hosts: ['*-docker.pkg.dev', 'gcr.io', '*.gcr.io'] },
  aks: { cluster: 'AKS', identity: 'the kubelet identity', hosts: ['*.azurecr.io'] },
} as const;

export type Cloud = keyof typeof CLOUD_NODE_REGISTRIES;

/** The cloud whose nodes usually pull the image with their own identity, and the matching pattern. */
export function nodeIdentityRegistry(imageName: string): { readonly cloud: Cloud; readonly pattern: string } | undefined {
  for (const cloud of Object.keys(CLOUD_NODE_REGISTRIES) as Cloud[]) {
    for (const pattern of CLOUD_NODE_REGISTRIES[cloud].hosts) {
      const key = parseKeyringKey(pattern);
      if (key !== undefined && policyPatternMatches(key, imageName)) return { cloud, pattern };
    }
  }
  return undefined;
}

/** The sentence a denial ends with for such an image: who usually pulls it, and the rule to say so. */
export function nodeIdentityHint(imageName: string): string | undefined {
  const found = nodeIdentityRegistry(imageName);
  if (found === undefined) return undefined;
  const { cluster, identity } = CLOUD_NODE_REGISTRIES[found.cloud];
  const expiry = found.cloud === 'eks' ? ' (a docker-registry secret for ECR holds a 12-hour token)' : '';
  return `on ${cluster} the node usually pulls ${found.pattern} images with ${identity}${expiry}: if so, add the policy rule {hosts: ["${found.pattern}"], access: node} (Helm chart: cloud: ${found.cloud})`;
}
