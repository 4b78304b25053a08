import type { PolicyResolver } from '../policy/resolve.ts';
import type { ClusterSnapshot } from '../snapshot/types.ts';

export interface Readiness {
  readonly ready: boolean;
  /** What is still missing (`informer secrets`, `policy`, `certificate`), empty when ready. */
  readonly missing: readonly string[];
}

/**
 * Where the server reads its decision inputs on every request. Implementations swap whole values
 * atomically (static files, or the live informer cache); reading never blocks and never does I/O.
 */
export interface DecisionState {
  snapshot(): ClusterSnapshot;
  policy(): PolicyResolver;
  readiness(): Readiness;
}

/** State from files read at start-up (`--state`, `--policy`): always ready. */
export class StaticDecisionState implements DecisionState {
  private readonly currentSnapshot: ClusterSnapshot;
  private readonly currentPolicy: PolicyResolver;
  constructor(snapshot: ClusterSnapshot, policy: PolicyResolver) {
    this.currentSnapshot = snapshot;
    this.currentPolicy = policy;
  }
  snapshot(): ClusterSnapshot {
    return this.currentSnapshot;
  }
  policy(): PolicyResolver {
    return this.currentPolicy;
  }
  readiness(): Readiness {
    return { ready: true, missing: [] };
  }
}
