// Builds the krew archive of `kubectl pullguard` and fills in krew/pullguard.yaml from its template.
// The archive is the npm package (npm pack) plus its production dependencies, because krew installs
// archives as they are. KREW_URI sets where the archive will be published (default: the release URL).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderKrewManifest } from '../src/cli/krew.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
const staging = mkdtempSync(join(tmpdir(), 'pullguard-krew-'));
try {
  const packed = execFileSync('npm', ['pack', '--silent', '--pack-destination', staging], { cwd: root, encoding: 'utf8' }).trim().split('\n').at(-1) ?? '';
  execFileSync('tar', ['-xzf', join(staging, packed), '-C', staging]);
  const packageDir = join(staging, 'package');
  execFileSync('npm', ['install', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--silent'], { cwd: packageDir, stdio: 'inherit' });
  chmodSync(join(packageDir, 'dist', 'cli', 'kubectl-plugin.js'), 0o755);
  const archive = join(root, 'krew', `pullguard-kubectl-${version}.tgz`);
  execFileSync('tar', ['-czf', archive, '-C', staging, 'package']);
  const sha256 = createHash('sha256').update(readFileSync(archive)).digest('hex');
  const uri = process.env['KREW_URI'] ?? `https://github.com/pullguard/pullguard/releases/download/v${version}/pullguard-kubectl-${version}.tgz`;
  const template = readFileSync(join(root, 'krew', 'pullguard.yaml.template'), 'utf8');
  writeFileSync(join(root, 'krew', 'pullguard.yaml'), renderKrewManifest(template, { version, uri, sha256 }));
  process.stdout.write(`krew/pullguard.yaml and ${archive} (sha256 ${sha256})\n`);
} finally {
  rmSync(staging, { recursive: true, force: true });
}
