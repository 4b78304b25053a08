import { probeCredentialFor } from '../credentials/probe-credential.ts';
import type { ContainerExplanation, Explanation } from '../explain/types.ts';
import { probeRegistry, type ProbeResult } from '../probe/registry-probe.ts';
import { readCaFile, type ProbeFlags } from './probe-flags.ts';

/**
 * `explain --probe`: for each container, ask the registry with the credential pullguard would use
 * (anonymously for public access and for uncovered images, which is what the kubelet sends).
 * Node-identity images are not probed: that identity lives on the node. Equal probes run once.
 */

/** Raw Secret objects by namespace/name, kept only for the probe's run. */
export type SecretLookup = (namespace: string, name: string) => unknown;

export async function probeExplanations(explanations: readonly Explanation[], secrets: SecretLookup, flags: ProbeFlags): Promise<Explanation[]> {
  const caPem = await readCaFile(flags.caFile);
  const runs = new Map<string, Promise<ProbeResult>>();
  const probeOne = (explanation: Explanation, container: ContainerExplanation): Promise<ProbeResult> | null => {
    const reference = container.reference;
    if (!reference.valid || reference.registry === null || reference.repository === null || container.access === 'node') return null;
    const credential = container.credential;
    const target = { registry: reference.registry, repository: reference.repository, reference: reference.digest ?? reference.tag ?? 'latest' };
    const key = JSON.stringify([target, explanation.object.namespace, credential?.secret ?? null, credential?.key ?? null]);
    let run = runs.get(key);
    if (run === undefined) {
      const found = credential === null ? undefined : probeCredentialFor(secrets(explanation.object.namespace, credential.secret), credential.key);
      run = probeRegistry(target, { credential: found, caPem, timeoutMs: flags.timeoutMs, allowedRealmHosts: flags.allowedRealmHosts });
      runs.set(key, run);
    }
    return run;
  };
  return Promise.all(
    explanations.map(async (explanation) => ({
      ...explanation,
      containers: await Promise.all(
        explanation.containers.map(async (container) => {
          const run = probeOne(explanation, container);
          const probe = run === null ? null : await run;
          return { ...container, probe, diagnosis: withProbe(container, probe) };
        }),
      ),
    })),
  );
}

/** The probe's answer joins the diagnosis as a note; a refused credential confirms a disagreement. */
function withProbe(container: ContainerExplanation, probe: ProbeResult | null): ContainerExplanation['diagnosis'] {
  const diagnosis = container.diagnosis;
  if (probe === null) {
    const why = container.access === 'node' ? "the node's identity pulls this image; the probe cannot use it" : 'the image reference is invalid';
    return { ...diagnosis, notes: [...diagnosis.notes, `probe: not run (${why})`] };
  }
  const who = probe.withCredential ? `with ${container.credential?.secret ?? 'the credential'}` : 'anonymously';
  return { ...diagnosis, notes: [...diagnosis.notes, `probe (${who}): ${probe.verdict}: ${probe.summary}`] };
}
