import t from 'tap';
import { decide } from '../../src/decide/decide.ts';
import { clearPodSecretsMemo } from '../../src/decide/pod-secrets.ts';
import type { PodDecision } from '../../src/decide/types.ts';
import type { ClusterSnapshot } from '../../src/snapshot/types.ts';
import { snapshotFromObjects } from '../../src/snapshot/from-objects.ts';
import { extractPodSpec, type PodSpecRef } from '../../src/workloads/extract.ts';
import { namespaceObject, pod, pullSecret, type ContainerSpec, type PodOptions } from '../helpers/objects.ts';
import { policyResolver } from '../helpers/server.ts';

// The work budget cuts a decision where a cold decision (fresh state, nothing remembered) would cut
// it, whatever the server remembered before: a remembered answer charges what its lookup cost. And
// a decision cut by the budget injects nothing: it was not checked to the end.

const NOW = Date.parse('2026-06-01T12:00:00Z');
const POLICY = policyResolver({ registries: [{ hosts: ['registry.example.com'], access: 'secret' }] });

/** 40 secrets whose globs the images' hosts are compared against (none covers them). */
function fillers(count: number, keysEach = 1): Record<string, unknown>[] {
  return Array.from({ length: count }, (_, index) =>
    pullSecret('team', `filler-${String(index).padStart(2, '0')}`, ...Array.from({ length: keysEach }, (_, key) => `*.filler-${index}-${key}.example.com`)));
}

interface Shape {
  readonly objects: readonly Record<string, unknown>[];
  /** The pod decided at every budget. */
  readonly pod: PodOptions;
  /** Another pod naming the same images, which warms the memos first. */
  readonly other: PodOptions;
}

const app: ContainerSpec = { name: 'app', image: 'registry.example.com/app:1' };
const tool: ContainerSpec = { name: 'tool', image: 'registry.example.com/team/tool:2' };
const hub: ContainerSpec = { name: 'hub', image: 'docker.io/corp/app:1' };
const nginx: ContainerSpec = { name: 'web', image: 'nginx:1.27' };

const shapes: Record<string, Shape> = {
  'the reviewer\'s namespace: 40 glob fillers and one covering secret, the pod lists none': {
    objects: [namespaceObject('team'), ...fillers(40), pullSecret('team', 'cover', 'registry.example.com')],
    pod: { containers: [app] },
    other: { name: 'other', containers: [{ name: 'other', image: app.image }], imagePullSecrets: ['filler-01'] },
  },
  'the reviewer\'s namespace, the pod lists two fillers': {
    objects: [namespaceObject('team'), ...fillers(40), pullSecret('team', 'cover', 'registry.example.com')],
    pod: { containers: [app], imagePullSecrets: ['filler-03', 'filler-07'] },
    other: { name: 'other', containers: [{ name: 'x', image: app.image }] },
  },
  'fillers with three globs each and a covering glob key': {
    objects: [namespaceObject('team'), ...fillers(20, 3), pullSecret('team', 'cover', '*.example.com')],
    pod: { containers: [app, tool] },
    other: { name: 'other', containers: [tool, app], imagePullSecrets: ['filler-02'] },
  },
  'a Docker Hub organisation image covered only through the index.docker.io fallback': {
    objects: [namespaceObject('team'), ...fillers(30), pullSecret('team', 'hub', 'https://index.docker.io/v1/')],
    pod: { containers: [hub, nginx] },
    other: { name: 'other', containers: [nginx, hub], imagePullSecrets: ['filler-05'] },
  },
  'several images in one pod, repeated, with a covering secret for each registry': {
    objects: [namespaceObject('team'), ...fillers(25, 2), pullSecret('team', 'cover', 'registry.example.com'), pullSecret('team', 'hub', 'https://index.docker.io/v1/')],
    pod: { containers: [app, hub, tool, nginx, { name: 'again', image: app.image }] },
    other: { name: 'other', containers: [nginx, tool, hub, app] },
  },
  'init containers and containers, the pod listing the covering secret for one of them': {
    objects: [namespaceObject('team'), ...fillers(30), pullSecret('team', 'cover', 'registry.example.com'), pullSecret('team', 'hub', 'https://index.docker.io/v1/')],
    pod: { initContainers: [{ name: 'init', image: hub.image }, { name: 'migrate', image: tool.image }], containers: [app], imagePullSecrets: ['cover'] },
    other: { name: 'other', containers: [{ name: 'a', image: hub.image }, { name: 'b', image: tool.image }, { name: 'c', image: app.image }] },
  },
};

function specOf(options: PodOptions): PodSpecRef {
  const spec = extractPodSpec(pod({ namespace: 'team', ...options }));
  if (spec === undefined) throw new Error('no pod spec');
  return spec;
}

function decideWith(snapshot: ClusterSnapshot, spec: PodSpecRef, workBudget: number): PodDecision {
  return decide({ spec, namespace: 'team', snapshot, policy: POLICY, now: NOW, secretsFinal: true, workBudget });
}

const BIG = 10_000_000;

function isCut(decision: PodDecision): boolean {
  return decision.findings.some((finding) => finding.code === 'DecisionBudgetExceeded');
}

/** Nothing remembered: a snapshot of its own (its own namespace memos) and the pod-secrets memo emptied. */
function cold(shape: Shape, workBudget: number): PodDecision {
  clearPodSecretsMemo();
  return decideWith(snapshotFromObjects(shape.objects), specOf(shape.pod), workBudget);
}

/** The smallest budget a cold decision of the shape fits in. */
function coldCost(shape: Shape): number {
  let low = 0;
  let high = 1;
  while (isCut(cold(shape, high))) high *= 2;
  while (low < high) {
    const middle = Math.floor((low + high) / 2);
    if (isCut(cold(shape, middle))) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** What the answer is made of: a difference in any of these is a different answer. */
function answer(decision: PodDecision): unknown {
  return {
    decision: decision.decision,
    inject: decision.inject,
    patchNames: decision.patchNames,
    podCodes: decision.findings.map((finding) => `${finding.code}/${finding.severity}`),
    containers: decision.containers.map((container) => [container.name, container.decision, container.credential, container.findings.map((finding) => `${finding.code}/${finding.severity}`)]),
    whole: decision,
  };
}

for (const [name, shape] of Object.entries(shapes)) {
  t.test(`warm and cold decisions agree at every work budget: ${name}`, (t) => {
    const cost = coldCost(shape);
    t.ok(cost > 40, `the cold decision needs ${cost} units`);
    const whole = cold(shape, BIG);
    t.notOk(isCut(whole));
    const spec = specOf(shape.pod);
    const other = specOf(shape.other);
    const differences: string[] = [];
    let cut = 0;
    for (let budget = 0; budget <= cost + 20; budget++) {
      const expected = answer(cold(shape, budget));
      if (isCut(cold(shape, budget))) cut++;

      // The same decision repeated on the same state.
      clearPodSecretsMemo();
      const snapshot = snapshotFromObjects(shape.objects);
      decideWith(snapshot, spec, budget);
      const repeated = [decideWith(snapshot, spec, budget), decideWith(snapshot, spec, budget)];
      // Warmed by the same pod with room to spare (twice: some lookups are remembered from their second sighting).
      decideWith(snapshot, spec, BIG);
      decideWith(snapshot, spec, BIG);
      const warmedBySelf = decideWith(snapshot, spec, budget);
      // Warmed by another pod naming the same images, on a state of its own.
      clearPodSecretsMemo();
      const otherState = snapshotFromObjects(shape.objects);
      decideWith(otherState, other, BIG);
      decideWith(otherState, other, BIG);
      const warmedByOther = decideWith(otherState, spec, budget);

      const seen: Array<[string, PodDecision]> = [['repeated', repeated[0] as PodDecision], ['repeated twice', repeated[1] as PodDecision], ['warmed by the pod', warmedBySelf], ['warmed by another pod', warmedByOther]];
      for (const [how, decision] of seen) {
        if (JSON.stringify(answer(decision)) !== JSON.stringify(expected)) differences.push(`budget ${budget}, ${how}: ${JSON.stringify(answer(decision)).slice(0, 400)} instead of ${JSON.stringify(expected).slice(0, 400)}`);
      }
    }
    t.same(differences.slice(0, 5), [], `every budget from 0 to ${cost + 20} cuts warm decisions where it cuts the cold one (${differences.length} differ)`);
    t.equal(cut, cost, `budgets below ${cost} cut the decision, the rest do not`);
    t.end();
  });
}

t.test('a decision cut by the work budget injects nothing and patches nothing, at every budget below its cost', (t) => {
  const shape = shapes['several images in one pod, repeated, with a covering secret for each registry'] as Shape;
  const cost = coldCost(shape);
  const whole = cold(shape, BIG);
  t.same(whole.inject, ['cover', 'hub'], 'with room, the covering secrets are injected');
  const leaks: string[] = [];
  let injectedBeforeCut = 0;
  for (let budget = 0; budget < cost; budget++) {
    const decision = cold(shape, budget);
    if (!isCut(decision)) leaks.push(`budget ${budget}: not cut`);
    if (decision.containers.some((container) => container.findings.some((finding) => finding.code === 'InjectedPullSecret'))) leaks.push(`budget ${budget}: a container says it was injected`);
    if (decision.containers.some((container) => container.credential?.source === 'injected' || container.decision === 'inject')) leaks.push(`budget ${budget}: a container counts on an injected secret`);
    if (decision.inject.length > 0 || decision.patchNames.length > 0) leaks.push(`budget ${budget}: inject ${decision.inject.join(',')} patch ${decision.patchNames.join(',')}`);
    if (decision.decision !== 'deny') leaks.push(`budget ${budget}: ${decision.decision}`);
    // A container checked before the cut that needed a secret says which one covers it, as a denial.
    if (decision.containers.some((container) => container.name === 'app')) {
      injectedBeforeCut++;
      const app = decision.containers.find((container) => container.name === 'app');
      if (app?.decision !== 'deny' || !app.findings.some((finding) => finding.code === 'NoMatchingCredential' && finding.severity === 'deny' && finding.message.includes('secret cover'))) {
        leaks.push(`budget ${budget}: app is ${app?.decision} with ${app?.findings.map((finding) => finding.code).join(',')}`);
      }
    }
  }
  t.ok(injectedBeforeCut > 0, `some cut decisions (${injectedBeforeCut}) had checked a container that needed injection`);
  t.same(leaks.slice(0, 5), [], `no cut decision carries an injection (${leaks.length} do)`);
  t.end();
});
