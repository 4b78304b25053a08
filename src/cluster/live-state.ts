import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { PolicyError } from '../policy/load.ts';
import type { PolicyResolver } from '../policy/resolve.ts';
import type { DecisionState, Readiness } from '../server/state.ts';
import type { MemorySnapshot } from '../snapshot/memory.ts';
import { eventsClientFor, kubernetesEventRecorder, type PolicyEventRecorder } from './events.ts';
import { clientNodeInformerFactory, informerSpecs, type InformerFactory, type InformerSpec } from './informers.ts';
import { createClusterMetrics, type ClusterMetrics } from './metrics.ts';
import { PolicyTracker, type PolicySource } from './policy-source.ts';
import {
  applyEvents,
  emptyLiveSnapshot,
  replaceScope,
  type ConfigMapRecord,
  type ProjectedObject,
  type SnapshotEvent,
  type SnapshotRecord,
  type WatchEventType,
} from './projection.ts';
import { delayOn, systemScheduler, type Scheduler } from './scheduler.ts';
import { describeError, InformerSupervisor, type BackoffPolicy } from './supervisor.ts';

/**
 * The decision state of `pullguard serve` in a cluster: a snapshot fed by supervised informers
 * and a policy fed by the ConfigMap, each swapped by a single assignment. Requests call
 * snapshot()/policy() synchronously and never wait for, or talk to, the API server. When the
 * API server goes away, the last snapshot keeps serving (readiness stays true once reached);
 * the reachable gauge drops to 0 and a warning is logged, and when it comes back the informers
 * resume or relist and the snapshot catches up.
 */

export interface LiveStateOptions {
  readonly kubeConfig: KubeConfig;
  /** The webhook's own namespace, where the policy ConfigMap and its Events live. */
  readonly namespace: string;
  readonly configMapName: string;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly clock?: Scheduler;
  /** Seams and tuning; production leaves them unset. */
  readonly informerFactory?: InformerFactory;
  readonly eventRecorder?: PolicyEventRecorder;
  readonly backoff?: BackoffPolicy;
  readonly silenceLimitMs?: number;
  readonly random?: () => number;
  /** This replica's name in Events (`reportingInstance`), e.g. the pod name. */
  readonly instance?: string;
  /**
   * Watch pull secrets in these namespaces only (`--secret-namespaces`); undefined: cluster-wide.
   * Pods elsewhere are not checked (the policy resolves those namespaces to `off`).
   */
  readonly secretNamespaces?: readonly string[] | undefined;
}

export interface InformerStatus {
  readonly name: string;
  readonly synced: boolean;
  readonly healthy: boolean;
  readonly restarts: number;
  readonly relists: number;
  /** Seconds since the informer's newest data (event or list); undefined if none yet. */
  readonly lastEventAgeSeconds: number | undefined;
  /** Seconds since the API server last showed life to the informer; undefined if never. */
  readonly lastContactAgeSeconds: number | undefined;
}

export interface LiveStateStatus extends Readiness {
  readonly apiServerReachable: boolean;
  readonly informers: readonly InformerStatus[];
  readonly policy: { readonly loaded: boolean; readonly source: PolicySource | undefined; readonly invalid: readonly PolicyError[] | undefined };
  readonly snapshot: { namespaces: number; secrets: number; serviceAccounts: number };
}

export class LiveDecisionState implements DecisionState {
  private readonly logger: Logger;
  private readonly scheduler: Scheduler;
  private readonly metrics: ClusterMetrics;
  private readonly supervisors: readonly InformerSupervisor[];
  private readonly policyTracker: PolicyTracker;
  private readonly startedAt: number;
  private current: MemorySnapshot = emptyLiveSnapshot();
  private pending: SnapshotEvent[] = [];
  private flushQueued = false;
  private reachable = false;
  private everReachable = false;
  private wasReady = false;
  private started = false;
  private stopped = false;
  private readyWaiters: Array<() => void> = [];

  constructor(options: LiveStateOptions) {
    this.logger = options.logger.child({ component: 'cluster' });
    this.scheduler = options.clock ?? systemScheduler;
    this.startedAt = this.scheduler.now();
    const factory = options.informerFactory ?? clientNodeInformerFactory(options.kubeConfig, { delay: delayOn(this.scheduler) });
    const recorder = options.eventRecorder ??
      kubernetesEventRecorder(eventsClientFor(options.kubeConfig), {
        logger: this.logger,
        now: () => this.scheduler.now(),
        ...(options.instance !== undefined ? { instance: options.instance } : {}),
      });
    this.metrics = createClusterMetrics(options.registry, {
      now: () => this.scheduler.now(),
      startedAt: () => this.startedAt,
      informers: () => this.supervisors,
      snapshotStats: () => this.snapshot().stats(),
    });
    this.metrics.apiServerReachable.set(0);
    this.policyTracker = new PolicyTracker({
      namespace: options.namespace,
      configMapName: options.configMapName,
      logger: this.logger,
      recorder,
      onApplied: (source) => {
        this.metrics.policyReloads.inc({ source });
        this.metrics.policyValid.set(1);
      },
      onInvalid: () => {
        this.metrics.policyInvalid.inc();
        this.metrics.policyValid.set(0);
      },
      onChange: () => this.checkReady(),
      scope: { secretNamespaces: options.secretNamespaces === undefined ? undefined : new Set(options.secretNamespaces) },
    });
    this.supervisors = informerSpecs(options.namespace, options.configMapName, options.secretNamespaces).map(
      (spec) =>
        new InformerSupervisor({
          spec,
          factory,
          scheduler: this.scheduler,
          logger: this.logger,
          ...(options.backoff !== undefined ? { backoff: options.backoff } : {}),
          ...(options.silenceLimitMs !== undefined ? { silenceLimitMs: options.silenceLimitMs } : {}),
          ...(options.random !== undefined ? { random: options.random } : {}),
          listener: {
            listed: (records, relist) => this.onListed(spec, records, relist),
            event: (type, record) => this.onEvent(spec, type, record),
            healthChanged: (healthy, error) => this.onHealthChanged(spec, healthy, error),
            restarted: () => this.metrics.restarts.inc({ informer: spec.name }),
          },
        }),
    );
  }

  /** Starts every informer; returns at once (readiness reports progress, whenReady() waits). */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.logger.info({ informers: this.supervisors.map((supervisor) => supervisor.name) }, 'starting informers');
    for (const supervisor of this.supervisors) supervisor.start();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.all(this.supervisors.map((supervisor) => supervisor.stop()));
    this.flush();
  }

  snapshot(): MemorySnapshot {
    // Events are batched per microtask; a read in between still sees every applied event.
    if (this.pending.length > 0) this.flush();
    return this.current;
  }

  policy(): PolicyResolver {
    return this.policyTracker.current();
  }

  readiness(): Readiness {
    const missing = this.supervisors.filter((supervisor) => !supervisor.synced).map((supervisor) => `informer ${supervisor.name}`);
    if (!this.policyTracker.loaded()) missing.push('policy');
    return { ready: missing.length === 0, missing };
  }

  /** Resolves once every informer has listed and a policy is in force. */
  whenReady(): Promise<void> {
    if (this.readiness().ready) return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  status(): LiveStateStatus {
    const now = this.scheduler.now();
    return {
      ...this.readiness(),
      apiServerReachable: this.reachable,
      informers: this.supervisors.map((supervisor) => ({
        name: supervisor.name,
        synced: supervisor.synced,
        healthy: supervisor.healthy,
        restarts: supervisor.restarts,
        relists: supervisor.relists,
        lastEventAgeSeconds: supervisor.lastEventAt === undefined ? undefined : (now - supervisor.lastEventAt) / 1000,
        lastContactAgeSeconds: supervisor.lastContactAt === undefined ? undefined : (now - supervisor.lastContactAt) / 1000,
      })),
      policy: { loaded: this.policyTracker.loaded(), source: this.policyTracker.appliedSource(), invalid: this.policyTracker.invalidErrors() },
      snapshot: this.snapshot().stats(),
    };
  }

  private onListed(spec: InformerSpec, records: readonly ProjectedObject[], relist: boolean): void {
    if (relist) this.metrics.relists.inc({ informer: spec.name });
    if (spec.feeds.kind === 'policy') {
      this.policyTracker.listed(records.filter((record): record is ConfigMapRecord => record.kind === 'ConfigMap'));
    } else {
      this.flush(); // events queued before the list must not land on top of it
      this.current = replaceScope(this.current, spec.feeds, records.filter(isSnapshotRecord));
      this.logger.info({ informer: spec.name, objects: records.length, relist }, relist ? 'informer relisted' : 'informer listed');
    }
    this.checkReady();
  }

  private onEvent(spec: InformerSpec, type: WatchEventType, record: ProjectedObject): void {
    if (spec.feeds.kind === 'policy') {
      if (record.kind === 'ConfigMap') this.policyTracker.event(type, record);
      return;
    }
    if (!isSnapshotRecord(record)) return;
    this.pending.push({ type, record });
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(() => this.flush());
    }
  }

  private flush(): void {
    this.flushQueued = false;
    if (this.pending.length === 0) return;
    const events = this.pending;
    this.pending = [];
    this.current = applyEvents(this.current, events);
  }

  private onHealthChanged(spec: InformerSpec, healthy: boolean, error: unknown): void {
    const reachable = this.supervisors.every((supervisor) => supervisor.healthy);
    this.metrics.apiServerReachable.set(reachable ? 1 : 0);
    if (!healthy && this.reachable) {
      this.logger.warn(
        { informer: spec.name, error: describeError(error), snapshot: this.snapshot().stats(), ready: this.readiness().ready },
        'API server unreachable: decisions keep using the last snapshot until the informers reconnect',
      );
    }
    if (reachable && !this.reachable) {
      this.logger.info(this.everReachable ? 'API server reachable again: informers resumed, the snapshot is catching up' : 'connected to the API server');
      this.everReachable = true;
    }
    this.reachable = reachable;
  }

  private checkReady(): void {
    const readiness = this.readiness();
    if (!readiness.ready || this.wasReady) return;
    this.wasReady = true;
    this.logger.info({ snapshot: this.snapshot().stats(), policy: this.policyTracker.appliedSource() }, 'live state ready');
    const waiters = this.readyWaiters;
    this.readyWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

function isSnapshotRecord(record: ProjectedObject): record is SnapshotRecord {
  return record.kind !== 'ConfigMap';
}

/**
 * Creates the live state and starts its informers. Returns at once: /readyz is false until
 * every informer has listed and the policy is loaded (`readiness().missing` says which);
 * `whenReady()` waits for that.
 */
export async function startLiveState(options: LiveStateOptions): Promise<LiveDecisionState & { stop(): Promise<void> }> {
  const state = new LiveDecisionState(options);
  state.start();
  return state;
}
