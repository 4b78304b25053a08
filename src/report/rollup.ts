import type { ContainerDecision } from '../decide/types.ts';
import type { FindingCode, Severity } from '../findings/catalogue.ts';
import type { Access } from '../policy/schema.ts';
import type { ProbeResult } from '../probe/registry-probe.ts';

/** What a large report boils down to: which problems, which registries, and what policy is missing. */
export interface Rollup {
  /** Findings by code, most frequent first. */
  readonly findings: readonly { readonly code: FindingCode; readonly count: number; readonly deny: number; readonly warn: number; readonly info: number }[];
  /** Distinct images by registry, most used first, with every access decided for them and the rules that decided (null: defaultAccess). */
  readonly registries: readonly {
    readonly registry: string;
    readonly images: number;
    readonly containers: number;
    readonly access: readonly (Access | 'exempt')[];
    readonly rules: readonly (string | null)[];
  }[];
  /** Registries that no policy rule names and no pull secret covers (for some of their images). */
  readonly uncovered: readonly UncoveredRegistry[];
  /** A `registries:` block for the uncovered registries, to paste into the policy (empty when none). */
  readonly suggestedPolicy: string;
}

export interface UncoveredRegistry {
  readonly registry: string;
  /** Distinct images of this registry that nothing covers. */
  readonly images: number;
  readonly workloads: number;
  readonly example: string;
  /**
   * What the suggestion proposes: `node` for the clouds' registries whose nodes pull with their own
   * identity, else `public`. With `audit --probe-anonymous`, what the anonymous probe of `example`
   * found: `public` when it may be pulled anonymously, `secret` when that was refused (`node` stays
   * for the clouds' registries), and null when the probe could not tell (unreachable, TLS, not
   * found, ...): the suggested block then only comments the entry.
   */
  readonly suggestedAccess: Access | null;
  /** With `audit --probe-anonymous`: the anonymous probe of `example` (no credential was sent). */
  readonly probe?: ProbeResult;
}

/** An anonymous probe of one uncovered registry and the access it suggests (`suggestedAccess()` of src/probe). */
export interface AnonymousProbe {
  readonly probe: ProbeResult;
  readonly suggests: 'public' | 'secret' | undefined;
}

export interface RollupWorkload {
  readonly containers: readonly ContainerDecision[];
  readonly findings: readonly { readonly code: FindingCode; readonly severity: Severity }[];
}

/** Registries whose images the nodes of the cloud's own clusters pull with their identity. */
const NODE_IDENTITY_REGISTRIES: readonly RegExp[] = [
  /^\d+\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/, // ECR from EKS nodes
  /^[a-z0-9-]+\.azurecr\.(io|cn|us)$/, // ACR from AKS nodes
  /^([a-z0-9-]+-)?docker\.pkg\.dev$/, // Artifact Registry from GKE nodes
];

/** An image that nothing in the policy names and no pull secret covers. */
export function isUncovered(container: ContainerDecision): boolean {
  return container.reference.valid && container.access !== null && container.accessRule === null && container.credential === null;
}

/**
 * The workloads with the same containers and findings objects counted once, with how many there
 * are, in the order each first appears. Replicas decided once share both (the audit's decision
 * memo), so a cluster dump's 20,000 pods roll up as their few distinct decisions; the sets and the
 * first example seen come out as they would from the full list.
 */
function distinctWorkloads(workloads: readonly RollupWorkload[]): Iterable<{ readonly workload: RollupWorkload; weight: number }> {
  const byContainers = new Map<readonly ContainerDecision[], Map<RollupWorkload['findings'], { readonly workload: RollupWorkload; weight: number }>>();
  const ordered: { readonly workload: RollupWorkload; weight: number }[] = [];
  for (const workload of workloads) {
    let byFindings = byContainers.get(workload.containers);
    if (byFindings === undefined) byContainers.set(workload.containers, (byFindings = new Map()));
    const seen = byFindings.get(workload.findings);
    if (seen !== undefined) {
      seen.weight += 1;
      continue;
    }
    const entry = { workload, weight: 1 };
    byFindings.set(workload.findings, entry);
    ordered.push(entry);
  }
  return ordered;
}

export function buildRollup(workloads: readonly RollupWorkload[]): Rollup {
  const findings = new Map<FindingCode, { code: FindingCode; count: number; deny: number; warn: number; info: number }>();
  const registries = new Map<string, { registry: string; images: Set<string>; containers: number; access: Set<Access | 'exempt'>; rules: Set<string | null> }>();
  const uncovered = new Map<string, { images: Set<string>; workloads: number; example: string }>();
  for (const { workload, weight } of distinctWorkloads(workloads)) {
    const uncoveredHere = new Set<string>();
    const count = (finding: { readonly code: FindingCode; readonly severity: Severity }): void => {
      let entry = findings.get(finding.code);
      if (entry === undefined) findings.set(finding.code, (entry = { code: finding.code, count: 0, deny: 0, warn: 0, info: 0 }));
      entry.count += weight;
      entry[finding.severity] += weight;
    };
    workload.findings.forEach(count);
    for (const container of workload.containers) container.findings.forEach(count);
    for (const container of workload.containers) {
      const registry = container.reference.registry;
      const image = container.reference.normalized;
      if (registry === null || image === null) continue;
      let entry = registries.get(registry);
      if (entry === undefined) {
        registries.set(registry, (entry = { registry, images: new Set(), containers: 0, access: new Set(), rules: new Set() }));
      }
      entry.access.add(container.access ?? 'exempt');
      if (container.access !== null) entry.rules.add(container.accessRule);
      entry.images.add(image);
      entry.containers += weight;
      if (!isUncovered(container)) continue;
      let gap = uncovered.get(registry);
      if (gap === undefined) uncovered.set(registry, (gap = { images: new Set(), workloads: 0, example: image }));
      gap.images.add(image);
      if (!uncoveredHere.has(registry)) {
        uncoveredHere.add(registry);
        gap.workloads += weight;
      }
    }
  }
  const byCountThenName = <T>(count: (item: T) => number, name: (item: T) => string) => (a: T, b: T): number =>
    count(b) - count(a) || (name(a) < name(b) ? -1 : name(a) > name(b) ? 1 : 0);
  const uncoveredList: UncoveredRegistry[] = [...uncovered.entries()]
    .map(([registry, gap]) => ({
      registry,
      images: gap.images.size,
      workloads: gap.workloads,
      example: gap.example,
      suggestedAccess: suggestAccess(registry),
    }))
    .sort(byCountThenName((item) => item.images, (item) => item.registry));
  return {
    findings: [...findings.values()].sort(byCountThenName((item) => item.count, (item) => item.code)),
    registries: [...registries.values()]
      .map((entry) => ({ registry: entry.registry, images: entry.images.size, containers: entry.containers, access: [...entry.access].sort(), rules: [...entry.rules] }))
      .sort(byCountThenName((item) => item.images, (item) => item.registry)),
    uncovered: uncoveredList,
    suggestedPolicy: suggestedRegistriesBlock(uncoveredList),
  };
}

/**
 * The roll-up with the anonymous probes' answers: each probed uncovered registry gets its probe and
 * the access the probe suggests, and the suggested block is rewritten from them. Registries whose
 * nodes pull with their cloud identity keep `node` unless anonymous pulls work.
 */
export function withAnonymousProbes(rollup: Rollup, probes: ReadonlyMap<string, AnonymousProbe>): Rollup {
  const uncovered = rollup.uncovered.map((entry): UncoveredRegistry => {
    const probed = probes.get(entry.registry);
    if (probed === undefined) return entry;
    const byName = suggestAccess(entry.registry);
    const suggestedAccess = probed.suggests === 'public' ? 'public' : byName === 'node' ? 'node' : probed.suggests ?? null;
    return { ...entry, suggestedAccess, probe: probed.probe };
  });
  return { ...rollup, uncovered, suggestedPolicy: suggestedRegistriesBlock(uncovered) };
}

export function suggestAccess(registry: string): Access {
  return NODE_IDENTITY_REGISTRIES.some((pattern) => pattern.test(registry)) ? 'node' : 'public';
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

/**
 * The `registries:` block for the uncovered registries. Each entry says how many images use it, and
 * what to check before pasting: `public` is right only when anonymous pulls work.
 */
export function suggestedRegistriesBlock(uncovered: readonly UncoveredRegistry[]): string {
  if (uncovered.length === 0) return '';
  // Entries the probe could not classify are comments only, so the block always loads as a policy.
  const active = uncovered.filter((entry) => entry.suggestedAccess !== null);
  const lines = [active.length > 0 ? 'registries:' : 'registries: []  # the probe could classify none of them: see below'];
  for (const entry of [...active, ...uncovered.filter((entry) => entry.suggestedAccess === null)]) {
    lines.push(`  # ${entry.registry}: ${plural(entry.images, 'image')} in ${plural(entry.workloads, 'workload')}, e.g. ${entry.example}`);
    const probe = entry.probe;
    if (entry.suggestedAccess === null) {
      lines.push(`  # not suggested: the anonymous probe could not tell (${probe?.verdict ?? 'not run'}: ${comment(probe?.summary ?? '')})`);
      lines.push(`  # - hosts: [${JSON.stringify(entry.registry)}]`);
      lines.push(`  #   access: public | secret | node`);
      continue;
    }
    lines.push(`  - hosts: [${JSON.stringify(entry.registry)}]`);
    lines.push(`    access: ${entry.suggestedAccess}  # ${accessComment(entry.suggestedAccess, probe)}`);
  }
  return lines.join('\n') + '\n';
}

function accessComment(access: Access, probe: ProbeResult | undefined): string {
  if (probe === undefined) {
    return access === 'node'
      ? 'nodes pull with their cloud identity; if not, use a pull secret instead'
      : "only if anonymous pulls work; else 'node' (node identity) or a pull secret";
  }
  if (access === 'public') return 'probed: anonymous pulls work';
  if (access === 'secret') return `probed: anonymous pull refused (${httpStatusOf(probe)}); pods need a pull secret`;
  const outcome = probe.verdict === 'unauthorized' ? `anonymous pull refused (${httpStatusOf(probe)})` : `could not tell (${probe.verdict})`;
  return `probed: ${outcome}; nodes pull with their cloud identity; if not, use a pull secret instead`;
}

/** The status of the last request the probe made, as `HTTP 401`. */
function httpStatusOf(probe: ProbeResult): string {
  const status = probe.steps.at(-1)?.status;
  return status === null || status === undefined ? 'no HTTP status' : `HTTP ${status}`;
}

/** Probe summaries carry error texts: one line, no control characters, inside a YAML comment. */
function comment(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim();
}
