import { readFile } from 'node:fs/promises';
import { UsageError } from './errors.ts';

/**
 * The registry-probe flags shared by `explain --probe` and `audit --probe-anonymous`: the same
 * names, defaults, limits and messages in both commands.
 */

export interface ProbeFlags {
  readonly caFile: string | undefined;
  readonly timeoutMs: number | undefined;
  readonly allowedRealmHosts: readonly string[];
}

/** parseArgs option declarations for the probe flags. */
export const PROBE_FLAG_OPTIONS = {
  'ca-file': { type: 'string' as const },
  'probe-timeout': { type: 'string' as const },
  'probe-allow-realm': { type: 'string' as const, multiple: true as const, default: [] as string[] },
};

/**
 * Registries probed at once: enough that a dozen unreachable registries cost a few time-outs, not
 * a dozen, and few enough that a first audit does not look like a scan to anyone's firewall.
 */
export const ANONYMOUS_PROBE_CONCURRENCY = 4;

/** Longest --probe-timeout accepted: two minutes is already far beyond any registry's answer. */
const MAX_PROBE_TIMEOUT_MS = 120_000;

/** The probe flags as given; a usage error when they are given without `enablingFlag` or out of range. */
export function parseProbeFlags(
  enabled: boolean,
  enablingFlag: string,
  values: { readonly 'ca-file'?: string | undefined; readonly 'probe-timeout'?: string | undefined; readonly 'probe-allow-realm'?: readonly string[] | undefined },
): ProbeFlags | undefined {
  const allowedRealmHosts = values['probe-allow-realm'] ?? [];
  if (!enabled) {
    if (values['ca-file'] !== undefined || values['probe-timeout'] !== undefined || allowedRealmHosts.length > 0) {
      throw new UsageError(`--ca-file, --probe-timeout and --probe-allow-realm go with ${enablingFlag}`);
    }
    return undefined;
  }
  const text = values['probe-timeout'];
  const timeoutMs = text === undefined ? undefined : Number(text);
  if (timeoutMs !== undefined && (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_PROBE_TIMEOUT_MS)) {
    throw new UsageError(`--probe-timeout must be milliseconds between 1 and ${MAX_PROBE_TIMEOUT_MS}, got ${text}`);
  }
  return { caFile: values['ca-file'], timeoutMs, allowedRealmHosts };
}

/** The --ca-file PEM, or undefined without the flag; an unreadable file is a usage error. */
export async function readCaFile(caFile: string | undefined): Promise<string | undefined> {
  if (caFile === undefined) return undefined;
  try {
    return await readFile(caFile, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read --ca-file ${caFile}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
}
