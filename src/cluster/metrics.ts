import { Counter, Gauge, type Registry } from 'prom-client';

/**
 * Metrics of the live cluster state, registered in the server's registry.
 *
 * | name                                          | type    | labels   | meaning |
 * |-----------------------------------------------|---------|----------|---------|
 * | pullguard_informer_restarts_total             | counter | informer | Restarts after client-node stopped the informer on an error (anything but 410 Gone); each follows a jittered exponential backoff. |
 * | pullguard_informer_relists_total              | counter | informer | Complete lists after the first: client-node relisting on 410 Gone, or pullguard forcing one after a silence. |
 * | pullguard_informer_last_event_age_seconds     | gauge   | informer | Seconds since the informer's newest data: an object event or a complete list (since start-up if none). Grows on a quiet resource too. |
 * | pullguard_informer_last_contact_age_seconds   | gauge   | informer | Seconds since the API server last showed life to the informer (data, a bookmark, or an accepted watch; client-node re-watches every 30 s). Above a minute means disconnected. |
 * | pullguard_informer_synced                     | gauge   | informer | 1 once the informer has completed its first list, else 0. Readiness needs all of them. |
 * | pullguard_api_server_reachable                | gauge   |          | 1 while every informer is connected; 0 before the first connection and while any informer backs off after an error (decisions then use the last snapshot). |
 * | pullguard_policy_reloads_total                | counter | source   | Policies put in force: `configmap` (a valid policy.yaml) or `default` (the ConfigMap is absent or was deleted). |
 * | pullguard_policy_invalid_total                | counter |          | policy.yaml versions rejected as invalid; the last valid policy stayed in force. |
 * | pullguard_policy_valid                        | gauge   |          | 1 when the policy.yaml seen last is in force, 0 when it was rejected (the previous policy serves). |
 * | pullguard_snapshot_objects                    | gauge   | kind     | Objects in the decision snapshot: `namespaces`, `secrets` (pull-secret types only), `serviceaccounts`. |
 */

export interface InformerGaugeSource {
  readonly name: string;
  readonly synced: boolean;
  readonly lastEventAt: number | undefined;
  readonly lastContactAt: number | undefined;
}

export interface ClusterMetricSources {
  now(): number;
  startedAt(): number;
  informers(): readonly InformerGaugeSource[];
  snapshotStats(): { namespaces: number; secrets: number; serviceAccounts: number };
}

export interface ClusterMetrics {
  readonly restarts: Counter<'informer'>;
  readonly relists: Counter<'informer'>;
  readonly apiServerReachable: Gauge;
  readonly policyReloads: Counter<'source'>;
  readonly policyInvalid: Counter;
  readonly policyValid: Gauge;
}

export function createClusterMetrics(registry: Registry, sources: ClusterMetricSources): ClusterMetrics {
  const registers = [registry];
  new Gauge({
    name: 'pullguard_informer_last_event_age_seconds',
    help: "Seconds since the informer's newest data (an object event or a complete list); since start-up if none.",
    labelNames: ['informer'],
    registers,
    collect() {
      const now = sources.now();
      for (const informer of sources.informers()) {
        this.set({ informer: informer.name }, (now - (informer.lastEventAt ?? sources.startedAt())) / 1000);
      }
    },
  });
  new Gauge({
    name: 'pullguard_informer_last_contact_age_seconds',
    help: 'Seconds since the API server last showed life to the informer (data, a bookmark, or an accepted watch).',
    labelNames: ['informer'],
    registers,
    collect() {
      const now = sources.now();
      for (const informer of sources.informers()) {
        this.set({ informer: informer.name }, (now - (informer.lastContactAt ?? sources.startedAt())) / 1000);
      }
    },
  });
  new Gauge({
    name: 'pullguard_informer_synced',
    help: '1 once the informer has completed its first list, else 0.',
    labelNames: ['informer'],
    registers,
    collect() {
      for (const informer of sources.informers()) this.set({ informer: informer.name }, informer.synced ? 1 : 0);
    },
  });
  new Gauge({
    name: 'pullguard_snapshot_objects',
    help: 'Objects in the decision snapshot, by kind (namespaces, secrets of the pull-secret types, serviceaccounts).',
    labelNames: ['kind'],
    registers,
    collect() {
      const stats = sources.snapshotStats();
      this.set({ kind: 'namespaces' }, stats.namespaces);
      this.set({ kind: 'secrets' }, stats.secrets);
      this.set({ kind: 'serviceaccounts' }, stats.serviceAccounts);
    },
  });
  return {
    restarts: new Counter({
      name: 'pullguard_informer_restarts_total',
      help: 'Informer restarts after client-node stopped it on an error other than 410 Gone (each after a jittered backoff).',
      labelNames: ['informer'],
      registers,
    }),
    relists: new Counter({
      name: 'pullguard_informer_relists_total',
      help: 'Complete lists after the first one (410 Gone, or forced after a silence).',
      labelNames: ['informer'],
      registers,
    }),
    apiServerReachable: new Gauge({
      name: 'pullguard_api_server_reachable',
      help: '1 while every informer is connected to the API server; 0 while decisions are served from the last snapshot.',
      registers,
    }),
    policyReloads: new Counter({
      name: 'pullguard_policy_reloads_total',
      help: 'Policies put in force, by source (configmap: a valid policy.yaml; default: the ConfigMap is absent or was deleted).',
      labelNames: ['source'],
      registers,
    }),
    policyInvalid: new Counter({
      name: 'pullguard_policy_invalid_total',
      help: 'policy.yaml versions rejected as invalid; the last valid policy stayed in force.',
      registers,
    }),
    policyValid: new Gauge({
      name: 'pullguard_policy_valid',
      help: '1 when the policy.yaml seen last is in force, 0 when it was rejected.',
      registers,
    }),
  };
}
