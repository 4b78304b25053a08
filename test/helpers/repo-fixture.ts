import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const FIXTURE = fileURLToPath(new URL('../fixtures/repo', import.meta.url));

export interface RepoFixture {
  /** The repository to audit. */
  readonly root: string;
  /** The scratch directory holding it (and a directory outside it that a symlink points to). */
  readonly scratch: string;
  cleanup(): void;
}

const POD = (name: string, image: string): string =>
  `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}, namespace: linked}\nspec:\n  containers: [{name: app, image: "${image}"}]\n`;

/**
 * test/fixtures/repo copied to a scratch directory, plus what git does not hold well: a binary
 * with a .yaml name, a dangling symlink, a symlinked directory outside the tree, a symlink loop, and
 * node_modules/ and .github/ holding manifests that must never be read.
 */
export function makeRepoFixture(): RepoFixture {
  const scratch = mkdtempSync(join(tmpdir(), 'pullguard-repo-'));
  const root = join(scratch, 'repo');
  cpSync(FIXTURE, root, { recursive: true });
  writeFileSync(join(root, 'data', 'logo.yaml'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d]));
  symlinkSync('no-such-target.yaml', join(root, 'apps', 'dangling.yaml'));
  mkdirSync(join(scratch, 'outside'));
  writeFileSync(join(scratch, 'outside', 'pod.yaml'), POD('through-symlink', 'registry.k8s.io/pause:3.10'));
  symlinkSync(join(scratch, 'outside'), join(root, 'linked'));
  symlinkSync('..', join(root, 'apps', 'loop'));
  mkdirSync(join(root, 'node_modules', 'some-package'), { recursive: true });
  writeFileSync(join(root, 'node_modules', 'some-package', 'pod.yaml'), POD('from-node-modules', 'never.example.com/x:1'));
  mkdirSync(join(root, '.github', 'workflows'), { recursive: true });
  writeFileSync(join(root, '.github', 'workflows', 'ci.yaml'), POD('from-dot-dir', 'never.example.com/y:1'));
  return { root, scratch, cleanup: () => rmSync(scratch, { recursive: true, force: true }) };
}
