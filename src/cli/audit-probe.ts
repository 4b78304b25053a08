import { parseImageReference } from '../image/reference.ts';
import { PROBE_TIMEOUT_MS, probeRegistry, suggestedAccess, type ProbeOptions, type ProbeResult, type ProbeTarget } from '../probe/registry-probe.ts';
import type { AuditReport } from '../report/audit.ts';
import { withAnonymousProbes, type AnonymousProbe } from '../report/rollup.ts';
import { clean } from '../report/table.ts';
import type { CommandIo } from './io.ts';
import { ANONYMOUS_PROBE_CONCURRENCY, readCaFile, type ProbeFlags } from './probe-flags.ts';

/**
 * `audit --probe-anonymous`: for each registry that no policy rule names and no pull secret covers,
 * an anonymous probe (GET /v2/, an anonymous token when the registry asks for one, HEAD of the
 * manifest) of the image the roll-up names for it, so the suggested `registries:` block says
 * `public` or `secret` from what the registry answered. Never sends a credential.
 */


export type Prober = (target: ProbeTarget, options: ProbeOptions) => Promise<ProbeResult>;

/** The probe target of a normalised image (`host/repo:tag` or `host/repo@sha256:...`), or undefined. */
export function probeTargetOf(image: string): ProbeTarget | undefined {
  const parsed = parseImageReference(image);
  if (!parsed.ok) return undefined;
  const reference = parsed.reference;
  return { registry: reference.domain, repository: reference.path, reference: reference.digest ?? reference.tag ?? 'latest' };
}

/** Runs `work` over `items`, at most `limit` at a time, keeping the order of `items` in the result. */
export async function mapBounded<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next;
      next += 1;
      results[index] = await work(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** The report with each uncovered registry probed anonymously; one stderr line per probe on a terminal. */
export async function probeUncoveredRegistries<Report extends AuditReport>(report: Report, flags: ProbeFlags, io: CommandIo, prober: Prober = probeRegistry): Promise<Report> {
  const caPem = await readCaFile(flags.caFile);
  const uncovered = report.rollup.uncovered;
  if (uncovered.length === 0) return report;
  const showProgress = io.stderr.isTTY === true;
  const timeoutMs = flags.timeoutMs ?? PROBE_TIMEOUT_MS;
  let done = 0;
  const outcomes = await mapBounded(uncovered, ANONYMOUS_PROBE_CONCURRENCY, async (entry): Promise<[string, AnonymousProbe] | undefined> => {
    const target = probeTargetOf(entry.example);
    if (target === undefined) return undefined;
    const started = performance.now();
    const probe = await prober(target, { caPem, timeoutMs, allowedRealmHosts: flags.allowedRealmHosts });
    const suggests = suggestedAccess(probe);
    done += 1;
    if (showProgress) {
      const ms = Math.round(performance.now() - started);
      io.stderr.write(`probe ${done}/${uncovered.length} ${clean(entry.example)}: ${probe.verdict}${suggests !== undefined ? ` → access ${suggests}` : ''} (${ms} ms)\n`);
    }
    return [entry.registry, { probe, suggests }];
  });
  const probes = new Map(outcomes.filter((outcome): outcome is [string, AnonymousProbe] => outcome !== undefined));
  return { ...report, rollup: withAnonymousProbes(report.rollup, probes) };
}
