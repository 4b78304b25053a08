import { createHash } from 'node:crypto';
import { ApiException, CoreV1Api, PatchStrategy, setHeaderOptions, type CoreV1Event, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { describeError } from './supervisor.ts';

/**
 * Kubernetes Events about the policy ConfigMap, so `kubectl describe configmap` shows why an
 * edit did not take effect. Events use the core/v1 API. The name is derived from the
 * ConfigMap and the error text: every replica (and every relist) that sees the same invalid
 * policy bumps one Event's count instead of creating a new one — that is why `patch` is needed.
 */

export interface ConfigMapReference {
  readonly namespace: string;
  readonly name: string;
  readonly uid?: string | undefined;
  readonly resourceVersion?: string | undefined;
}

export interface PolicyEventRecorder {
  /** Emits (or bumps) a Warning Event with reason InvalidPolicy on the ConfigMap. Never rejects. */
  invalidPolicy(configMap: ConfigMapReference, message: string): Promise<void>;
}

export const INVALID_POLICY_REASON = 'InvalidPolicy';
export const EVENT_COMPONENT = 'pullguard';
/** The API server stores longer messages, but kubectl and most UIs cut near 1 KiB. */
const MAX_EVENT_MESSAGE = 1024;
/** DNS subdomain limit for object names. */
const MAX_NAME = 253;

/** The two calls the recorder makes; the real one is CoreV1Api, tests pass a fake. */
export interface EventsClient {
  create(namespace: string, body: CoreV1Event): Promise<unknown>;
  /** Merge patch of an existing Event. */
  patch(namespace: string, name: string, body: Record<string, unknown>): Promise<unknown>;
}

export function invalidPolicyEventName(configMapName: string, message: string): string {
  const digest = createHash('sha256').update(message).digest('hex').slice(0, 10);
  const suffix = `.invalidpolicy.${digest}`;
  return configMapName.slice(0, MAX_NAME - suffix.length) + suffix;
}

export function eventsClientFor(kubeConfig: KubeConfig): EventsClient {
  let core: CoreV1Api | undefined;
  const api = (): CoreV1Api => (core ??= kubeConfig.makeApiClient(CoreV1Api));
  return {
    create: (namespace, body) => api().createNamespacedEvent({ namespace, body }),
    patch: (namespace, name, body) =>
      api().patchNamespacedEvent({ namespace, name, body }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch)),
  };
}

function isAlreadyExists(error: unknown): boolean {
  return (error instanceof ApiException && error.code === 409) || (typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 409);
}

export function kubernetesEventRecorder(client: EventsClient, options: { logger: Logger; now: () => number; instance?: string }): PolicyEventRecorder {
  /** Occurrences this process has counted per Event name (the Event's count field). */
  const counts = new Map<string, number>();
  return {
    async invalidPolicy(configMap, message) {
      const text = message.length > MAX_EVENT_MESSAGE ? `${message.slice(0, MAX_EVENT_MESSAGE - 3)}...` : message;
      const name = invalidPolicyEventName(configMap.name, text);
      // core/v1 Event timestamps are metav1.Time: RFC 3339 with whole seconds.
      const timestamp = new Date(Math.floor(options.now() / 1000) * 1000);
      try {
        try {
          await client.create(configMap.namespace, {
            apiVersion: 'v1',
            kind: 'Event',
            metadata: { name, namespace: configMap.namespace },
            involvedObject: {
              apiVersion: 'v1',
              kind: 'ConfigMap',
              namespace: configMap.namespace,
              name: configMap.name,
              ...(configMap.uid !== undefined ? { uid: configMap.uid } : {}),
              ...(configMap.resourceVersion !== undefined ? { resourceVersion: configMap.resourceVersion } : {}),
            },
            reason: INVALID_POLICY_REASON,
            message: text,
            type: 'Warning',
            source: { component: EVENT_COMPONENT },
            reportingComponent: EVENT_COMPONENT,
            ...(options.instance !== undefined ? { reportingInstance: options.instance } : {}),
            firstTimestamp: timestamp,
            lastTimestamp: timestamp,
            count: 1,
          });
          counts.set(name, 1);
        } catch (error) {
          if (!isAlreadyExists(error)) throw error;
          const count = (counts.get(name) ?? 1) + 1;
          await client.patch(configMap.namespace, name, { count, lastTimestamp: timestamp });
          counts.set(name, count);
        }
      } catch (error) {
        // Events are advisory: a missing RBAC grant must not break policy handling.
        options.logger.warn({ error: describeError(error), event: name }, 'could not record the InvalidPolicy event on the policy ConfigMap');
      }
    },
  };
}
