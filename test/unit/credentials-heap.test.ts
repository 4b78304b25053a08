import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import t from 'tap';

// The heap, not only the output: a redacted key built with slice() or + is a view of the original
// string in V8 and keeps the whole of it (credential included) alive for as long as it is kept.
const paths: Record<string, string> = {
  'after projecting secrets whose keys hold a credential and deciding a pod, the heap keeps no copy of it': 'test/fixtures/heap-child.ts',
  'after the webhook projected such secrets from watch objects and answered, cached and logged reviews against them, the heap keeps no copy of it':
    'test/fixtures/heap-child-live.ts',
};

for (const [name, child] of Object.entries(paths)) t.test(name, async (t) => {
  const output = execFileSync(process.execPath, ['--expose-gc', child], { encoding: 'utf8' });
  const [marker, control, path] = output.trim().split(' ');
  t.ok(marker !== undefined && control !== undefined && path !== undefined, `child printed marker, control and path: ${output}`);
  if (marker === undefined || control === undefined || path === undefined) return;
  try {
    const heap = readFileSync(path, 'utf8');
    t.ok(heap.includes(control), 'the search sees what the snapshot keeps (the registry host)');
    t.notOk(heap.includes(marker), 'the credential written in the keys is nowhere in the heap');
  } finally {
    rmSync(path, { force: true });
  }
});
