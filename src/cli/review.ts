import { parseArgs } from 'node:util';
import { admit, type Phase } from '../admission/admit.ts';
import { decodeAdmissionReview, MalformedReviewError, reviewResponse } from '../admission/review.ts';
import { checkJsonBodyLimits, checkReviewLimits } from '../admission/review-limits.ts';
import { readStdin } from '../manifests/read.ts';
import { EXIT_OK, EXIT_USAGE, UsageError } from './errors.ts';
import { loadPolicyResolver, loadStateFiles } from './inputs.ts';
import type { CommandIo } from './io.ts';

export const REVIEW_HELP = `Usage: pullguard review [--phase mutate|validate] [--state FILE|DIR]... [--policy FILE] < review.json

Reads an AdmissionReview v1 (JSON) on stdin and prints the AdmissionReview response the webhook
would send, using cluster state from --state files (Secrets, ServiceAccounts, Namespaces).

  --phase mutate|validate   which webhook to answer as (default validate)
  --state FILE|DIR          cluster state; repeatable
  --policy FILE             policy.yaml (default: built-in policy)
  --now RFC3339             evaluate token expiry at this time (default: now)
  -h, --help                show this help
  -v, --version             print the version

Exit status: 0 the response was printed (whatever it decides: a denial is a normal answer),
2 usage error, unreadable --state or --policy, or stdin not an AdmissionReview v1 within the
review limits (what the webhook answers with HTTP 400).
`;

export async function runReview(args: readonly string[], io: CommandIo): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      phase: { type: 'string', default: 'validate' },
      state: { type: 'string', multiple: true, default: [] },
      policy: { type: 'string' },
      now: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: false,
  });
  if (values.help === true) {
    io.stdout.write(REVIEW_HELP);
    return EXIT_OK;
  }
  // With nothing piped in and a person at the keyboard, waiting on stdin would look like a hang.
  if (io.stdin.isTTY === true) {
    io.stderr.write(REVIEW_HELP);
    return EXIT_USAGE;
  }
  if (values.phase !== 'mutate' && values.phase !== 'validate') throw new UsageError(`--phase must be mutate or validate, got ${values.phase}`);
  const now = parseNow(values.now);
  const policy = await loadPolicyResolver(values.policy);
  const { snapshot } = await loadStateFiles(values.state);
  const text = await readStdin(io.stdin);
  try {
    checkJsonBodyLimits(text);
  } catch (error) {
    if (error instanceof MalformedReviewError) throw new UsageError(`malformed AdmissionReview: ${error.message}`);
    throw error;
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`stdin is not JSON: ${(error as Error).message}`);
  }
  let request;
  try {
    request = decodeAdmissionReview(body);
    // The webhook refuses what is over a review limit (HTTP 400); review says so too.
    checkReviewLimits(request, policy.podTemplates);
  } catch (error) {
    if (error instanceof MalformedReviewError) throw new UsageError(`malformed AdmissionReview: ${error.message}`);
    throw error;
  }
  const outcome = admit(request, values.phase as Phase, { snapshot, policy, now });
  io.stdout.write(JSON.stringify(reviewResponse(outcome.response), null, 2) + '\n');
  return EXIT_OK;
}

/** RFC 3339 date-time (section 5.6): a full date, a time and an explicit offset. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

export function parseNow(text: string | undefined): number {
  if (text === undefined) return Date.now();
  const value = RFC3339.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(value)) throw new UsageError(`--now must be an RFC 3339 time like 2026-01-01T00:00:00Z, got ${text}`);
  return value;
}
