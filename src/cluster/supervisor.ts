import type { Informer } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { InformerFactory, InformerSpec } from './informers.ts';
import type { ProjectedObject, WatchEventType } from './projection.ts';
import type { Scheduler } from './scheduler.ts';

/**
 * Keeps one informer alive. client-node's ListWatch handles 410 Gone (relist) and client-side
 * watch timeouts (re-watch) itself, but on any other error — API server down, 403, a failed
 * list — it calls its error callbacks and stops for good. The supervisor restarts it after a
 * jittered exponential backoff (same instance: it resumes from its last resourceVersion, and
 * client-node relists on 410 if that is too old), and forces a fresh list when the informer has
 * heard nothing for the silence limit (a watch that hangs without failing).
 */

export interface BackoffPolicy {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly factor: number;
  /** Fraction of the delay that is randomised: 0.5 gives a delay in (cap/2, cap]. */
  readonly jitter: number;
}

/**
 * 0.5 s doubling to 30 s: an API server restart (seconds) is caught within a second or two, and
 * a long outage costs five requests per minute per informer. Jitter spreads the replicas and the
 * five informers so they do not reconnect in lockstep.
 */
export const DEFAULT_BACKOFF: BackoffPolicy = Object.freeze({ initialMs: 500, maxMs: 30_000, factor: 2, jitter: 0.5 });

/**
 * Ten minutes without any contact (an event, a list page, a bookmark or an accepted watch)
 * forces a relist. With client-node 2.0.1 a healthy informer re-watches every 30 s even on a
 * quiet resource, so ten silent minutes mean the informer is stuck without having reported an
 * error; a quiet resource alone never triggers a relist (relisting 50,000 secrets is not free).
 */
export const DEFAULT_SILENCE_LIMIT_MS = 10 * 60_000;

/** Delay before restart attempt `attempt` (1-based); `random` in [0, 1). */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: number): number {
  const cap = Math.min(policy.maxMs, policy.initialMs * policy.factor ** Math.max(0, attempt - 1));
  return Math.max(1, Math.round(cap * (1 - policy.jitter * random)));
}

const MAX_ERROR_MESSAGE = 300;

/** The loggable part of an error from client-node: message and status codes, nothing else. */
export function describeError(error: unknown): { message: string; statusCode?: number; code?: string | number } {
  if (!(error instanceof Error) && (typeof error !== 'object' || error === null)) return { message: String(error).slice(0, MAX_ERROR_MESSAGE) };
  const record = error as Record<string, unknown>;
  const message = typeof record['message'] === 'string' ? record['message'] : String(error);
  const cause = record['cause'];
  const causeCode = typeof cause === 'object' && cause !== null ? (cause as Record<string, unknown>)['code'] : undefined;
  const statusCode = typeof record['statusCode'] === 'number' ? record['statusCode'] : typeof record['code'] === 'number' ? record['code'] : undefined;
  const code = typeof record['code'] === 'string' ? record['code'] : typeof causeCode === 'string' ? causeCode : undefined;
  return {
    message: message.slice(0, MAX_ERROR_MESSAGE),
    ...(statusCode !== undefined ? { statusCode } : {}),
    ...(code !== undefined ? { code } : {}),
  };
}

export interface SupervisorListener {
  /** A complete list (initial when `relist` is false). */
  listed(records: readonly ProjectedObject[], relist: boolean): void;
  event(type: WatchEventType, record: ProjectedObject): void;
  /** Connected (first success, or recovered) or failing (an error stopped the informer). */
  healthChanged(healthy: boolean, error: unknown): void;
  restartScheduled?(attempt: number, delayMs: number, error: unknown): void;
  restarted?(): void;
  relistForced?(silentForMs: number): void;
}

export interface SupervisorOptions {
  readonly spec: InformerSpec;
  readonly factory: InformerFactory;
  readonly scheduler: Scheduler;
  readonly logger: Logger;
  readonly listener: SupervisorListener;
  readonly backoff?: BackoffPolicy;
  readonly silenceLimitMs?: number;
  readonly random?: () => number;
}

export class InformerSupervisor {
  readonly spec: InformerSpec;
  private readonly factory: InformerFactory;
  private readonly scheduler: Scheduler;
  private readonly logger: Logger;
  private readonly listener: SupervisorListener;
  private readonly backoff: BackoffPolicy;
  private readonly silenceLimitMs: number;
  private readonly random: () => number;

  private informer: Informer<ProjectedObject> | undefined;
  /** Bumped on every new informer and on stop: callbacks of older informers are ignored. */
  private generation = 0;
  private stopped = false;
  private attempt = 0;
  private errorCount = 0;
  private cancelRestart: (() => void) | undefined;
  private cancelSilenceCheck: (() => void) | undefined;
  private isHealthy = false;
  private listCount = 0;
  private restartCount = 0;
  private eventAt: number | undefined;
  private contactAt: number | undefined;
  private quietSince = 0;

  constructor(options: SupervisorOptions) {
    this.spec = options.spec;
    this.factory = options.factory;
    this.scheduler = options.scheduler;
    this.logger = options.logger.child({ informer: options.spec.name });
    this.listener = options.listener;
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.silenceLimitMs = options.silenceLimitMs ?? DEFAULT_SILENCE_LIMIT_MS;
    this.random = options.random ?? Math.random;
  }

  get name(): string {
    return this.spec.name;
  }

  /** True once the informer has completed its first list. */
  get synced(): boolean {
    return this.listCount > 0;
  }

  /** True while connected: false before the first success and while backing off after an error. */
  get healthy(): boolean {
    return this.isHealthy;
  }

  get restarts(): number {
    return this.restartCount;
  }

  /** Complete lists after the first one. */
  get relists(): number {
    return Math.max(0, this.listCount - 1);
  }

  /** When the informer last received data: an object event or a complete list; undefined before that. */
  get lastEventAt(): number | undefined {
    return this.eventAt;
  }

  /** When the API server last showed life to this informer (data, a bookmark, an accepted watch). */
  get lastContactAt(): number | undefined {
    return this.contactAt;
  }

  start(): void {
    if (this.stopped) throw new Error('a stopped supervisor cannot start again');
    this.quietSince = this.scheduler.now();
    this.launch();
    this.armSilenceCheck(this.silenceLimitMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.generation++;
    this.cancelRestart?.();
    this.cancelSilenceCheck?.();
    this.cancelRestart = undefined;
    this.cancelSilenceCheck = undefined;
    const informer = this.informer;
    this.informer = undefined;
    if (informer !== undefined) await stopQuietly(informer, this.logger);
  }

  /** Replaces the informer with a fresh one, which lists from scratch. */
  forceRelist(): void {
    if (this.stopped) return;
    const previous = this.informer;
    this.cancelRestart?.();
    this.cancelRestart = undefined;
    this.quietSince = this.scheduler.now();
    this.launch();
    if (previous !== undefined) void stopQuietly(previous, this.logger);
  }

  private launch(): void {
    const generation = ++this.generation;
    const current = (): boolean => !this.stopped && generation === this.generation;
    const informer = this.factory.create(this.spec, {
      listed: (records) => {
        if (current()) this.onListed(records);
      },
      activity: () => {
        if (current()) this.contact();
      },
    });
    informer.on('add', (record) => {
      if (current()) this.onEvent('ADDED', record);
    });
    informer.on('update', (record) => {
      if (current()) this.onEvent('MODIFIED', record);
    });
    informer.on('delete', (record) => {
      if (current()) this.onEvent('DELETED', record);
    });
    informer.on('error', (error: unknown) => {
      // ListWatch also reports the abort of its own watch after stop(): `current()` drops it.
      if (current()) this.onError(error);
    });
    this.informer = informer;
    this.run(informer, generation);
  }

  /** Starts (or restarts) the informer; a start that completes without an error means connected. */
  private run(informer: Informer<ProjectedObject>, generation: number): void {
    const errorsBefore = this.errorCount;
    informer.start().then(
      () => {
        if (!this.stopped && generation === this.generation && this.errorCount === errorsBefore) this.setHealthy(true, undefined);
      },
      (error: unknown) => {
        if (!this.stopped && generation === this.generation) this.onError(error);
      },
    );
  }

  private onListed(records: readonly ProjectedObject[]): void {
    this.listCount++;
    this.received();
    this.setHealthy(true, undefined);
    this.listener.listed(records, this.listCount > 1);
  }

  private onEvent(type: WatchEventType, record: ProjectedObject): void {
    this.received();
    this.setHealthy(true, undefined);
    this.listener.event(type, record);
  }

  private onError(error: unknown): void {
    this.errorCount++;
    if (this.cancelRestart !== undefined) return; // one restart at a time
    this.attempt++;
    const delayMs = backoffDelay(this.attempt, this.backoff, this.random());
    this.logger.warn({ error: describeError(error), attempt: this.attempt, delayMs }, 'informer stopped on an error; restarting after backoff');
    this.setHealthy(false, error);
    this.listener.restartScheduled?.(this.attempt, delayMs, error);
    this.cancelRestart = this.scheduler.schedule(() => {
      this.cancelRestart = undefined;
      if (this.stopped || this.informer === undefined) return;
      this.restartCount++;
      this.listener.restarted?.();
      this.run(this.informer, this.generation);
    }, delayMs);
  }

  private received(): void {
    this.eventAt = this.scheduler.now();
    this.contact();
  }

  private contact(): void {
    const now = this.scheduler.now();
    this.contactAt = now;
    this.quietSince = now;
  }

  private setHealthy(healthy: boolean, error: unknown): void {
    if (healthy) this.attempt = 0;
    if (healthy === this.isHealthy) return;
    this.isHealthy = healthy;
    if (healthy && this.restartCount > 0) this.logger.info('informer connected again');
    this.listener.healthChanged(healthy, error);
  }

  private armSilenceCheck(delayMs: number): void {
    this.cancelSilenceCheck = this.scheduler.schedule(() => this.checkSilence(), delayMs);
  }

  private checkSilence(): void {
    this.cancelSilenceCheck = undefined;
    if (this.stopped) return;
    const silentForMs = this.scheduler.now() - this.quietSince;
    if (silentForMs < this.silenceLimitMs) {
      this.armSilenceCheck(this.silenceLimitMs - silentForMs);
      return;
    }
    // While backing off the restart is what brings the informer back; a relist would only race it.
    if (this.cancelRestart === undefined) {
      this.logger.warn({ silentForMs }, 'no contact with the API server for the silence limit and no error reported; relisting');
      this.listener.relistForced?.(silentForMs);
      this.forceRelist();
    }
    this.armSilenceCheck(this.silenceLimitMs);
  }
}

async function stopQuietly(informer: Informer<ProjectedObject>, logger: Logger): Promise<void> {
  try {
    await informer.stop();
  } catch (error) {
    logger.debug({ error: describeError(error) }, 'informer stop failed');
  }
}
