// Files from upstream Go modules for the end-to-end tests (the report CRDs of Kyverno and
// OpenReports), fetched through the Go module proxy at the versions pinned in versions.env and
// cached in the Go module cache: no hand-written copies of upstream YAML.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { readPins } from './pins.ts';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../..', import.meta.url));

/** The directory of a module from the Go module proxy (downloaded once into the module cache). */
export async function goModule(module: string, version: string): Promise<string> {
  const { stdout } = await run('go', ['mod', 'download', '-json', `${module}@${version}`], {
    cwd: root,
    env: { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod' },
    maxBuffer: 16 * 1024 * 1024,
    timeout: 180_000,
  });
  const info = JSON.parse(stdout) as { Dir?: string; Error?: string };
  if (info.Dir === undefined) throw new Error(`go mod download ${module}@${version}: ${info.Error ?? stdout}`);
  return info.Dir;
}

/** The OpenReports CRD files (Report, ClusterReport) at the pinned version. */
export async function openReportsCrdFiles(): Promise<string[]> {
  const dir = await goModule('github.com/openreports/reports-api', readPins()('OPENREPORTS_VERSION'));
  return ['openreports.io_reports.yaml', 'openreports.io_clusterreports.yaml'].map((file) => join(dir, 'config', 'crd', file));
}
