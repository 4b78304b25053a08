/**
 * Filling the e2e kube-apiserver for the cluster benchmarks (bench/audit.ts, bench/explain.ts):
 * POSTs with a bounded number in flight. Creating the objects is never part of a timing.
 */
import type { KubeRest } from '../src/cluster/rest.ts';

/** POSTs in flight at once: enough to keep two cores busy without queuing in the API server. */
export const IN_FLIGHT = 24;

/** Runs `jobs` with at most IN_FLIGHT at once. */
export async function pool(jobs: readonly (() => Promise<unknown>)[]): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const job = jobs[next];
      next += 1;
      if (job !== undefined) await job();
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
}

/** Creates one object (POST to its collection path) and returns what the API server stored. */
export const create = (rest: KubeRest, path: string, body: unknown): Promise<unknown> => rest.request({ method: 'POST', path, body });
