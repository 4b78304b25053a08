import type { Logger } from 'pino';
import { buildPolicyReports, type ReportApi } from '../report/policyreport.ts';
import type { DecisionState } from '../server/state.ts';
import { WORKLOAD_KINDS } from '../workloads/extract.ts';
import { auditCluster } from './audit-cluster.ts';
import type { LeaseElector } from './lease.ts';
import { applyReports, chooseReportApi } from './report-writer.ts';
import type { KubeRest } from './rest.ts';

/**
 * `serve --reports`: the webhook refreshes the same policy reports as `audit --cluster --apply`,
 * every interval, from the state it already watches (pull secrets, ServiceAccounts, Namespaces
 * and the policy are not read again; only workloads and pods are listed). Only the replica that
 * holds the Lease writes, so replicas never fight over the reports. A failed refresh is logged
 * and retried at the next interval; the webhook's answers never depend on it.
 */

export { DEFAULT_REPORTS_INTERVAL_SECONDS, REPORTS_LEASE_NAME } from './limits.ts';

export type RefreshOutcome =
  | { readonly kind: 'not-ready' }
  | { readonly kind: 'not-leader' }
  | { readonly kind: 'written'; readonly api: ReportApi; readonly applied: number; readonly deleted: number; readonly objects: number }
  | { readonly kind: 'failed'; readonly error: string };

export interface ReportRefresherOptions {
  readonly rest: KubeRest;
  readonly state: DecisionState;
  readonly lease: LeaseElector;
  readonly intervalMs: number;
  readonly reportApi: ReportApi | undefined;
  readonly includePass: boolean;
  readonly logger: Logger;
  readonly now?: () => number;
  /** Runs `run` after `ms`; returns a cancel function (tests drive it by hand). */
  readonly schedule?: (run: () => void, ms: number) => () => void;
}

function defaultSchedule(run: () => void, ms: number): () => void {
  const timer = setTimeout(run, ms);
  timer.unref();
  return () => clearTimeout(timer);
}

export class ReportRefresher {
  private readonly options: ReportRefresherOptions;
  private cancel: (() => void) | undefined;
  private stopped = false;
  private running: Promise<RefreshOutcome> | undefined;
  /** Whether this replica held the Lease at the last refresh: a change is logged once. */
  private leading: boolean | undefined;

  constructor(options: ReportRefresherOptions) {
    this.options = options;
  }

  /** One refresh: skipped until the state is ready and while another replica holds the Lease. */
  async refreshOnce(): Promise<RefreshOutcome> {
    const { state, rest, logger } = this.options;
    if (!state.readiness().ready) return { kind: 'not-ready' };
    try {
      const leading = await this.options.lease.acquire();
      if (leading !== this.leading) {
        this.leading = leading;
        logger.info({ leading }, leading ? 'policy reports: this replica holds the Lease and writes the reports' : 'policy reports: another replica holds the Lease and writes the reports');
      }
      if (!leading) return { kind: 'not-leader' };
      const now = (this.options.now ?? Date.now)();
      const outcome = await auditCluster({
        rest,
        namespace: undefined,
        labelSelector: undefined,
        kinds: [...WORKLOAD_KINDS],
        policy: state.policy(),
        now,
        source: 'webhook',
        snapshot: state.snapshot(),
      });
      const api = await chooseReportApi(rest, this.options.reportApi);
      const reports = buildPolicyReports(outcome.report, { api, includePass: this.options.includePass, now, clusterReport: true });
      const written = await applyReports(rest, reports, api, { namespace: undefined });
      logger.info({ api, applied: written.applied, deleted: written.deleted.length, objects: outcome.objects, listMs: Math.round(outcome.listMs), decideMs: Math.round(outcome.decideMs) }, 'policy reports refreshed');
      return { kind: 'written', api, applied: written.applied, deleted: written.deleted.length, objects: outcome.objects };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      logger.warn({ error: message }, 'policy reports not refreshed; retrying at the next interval');
      return { kind: 'failed', error: message };
    }
  }

  /** Refreshes now, then every interval (the next one counted from the end of the last). */
  start(): void {
    const schedule = this.options.schedule ?? defaultSchedule;
    const tick = (): void => {
      if (this.stopped) return;
      this.running = this.refreshOnce();
      void this.running.then(() => {
        if (!this.stopped) this.cancel = schedule(tick, this.options.intervalMs);
      });
    };
    // A first refresh soon after start-up, once the informers have had a moment to list.
    this.cancel = schedule(tick, Math.min(this.options.intervalMs, 30_000));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.cancel?.();
    await this.running;
  }
}
