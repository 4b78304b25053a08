import { execFileSync } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import t from 'tap';

// The heap, not only the output: a redacted key built with slice() or + is a view of the original
// string in V8 and keeps the whole of it (credential included) alive for as long as it is kept.
const paths: Record<string, string> = {
  'after projecting secrets whose keys hold a credential and deciding a pod, the heap keeps no copy of it': 'test/fixtures/heap-child.ts',
  'after the webhook projected such secrets from watch objects and answered, cached and logged reviews against them, the heap keeps no copy of it':
    'test/fixtures/heap-child-live.ts',
  'after reading YAML that holds Secrets and keeping nothing of it, the heap keeps no value of it (nothing the line reader remembers outlives the text)': 'test/fixtures/heap-child-yaml.ts',
  'with a snapshot loaded from a YAML state file (serve --state), the heap keeps nothing of the file\'s Secrets (the names kept are copies, not views of the text)': 'test/fixtures/heap-child-state.ts',
  'with the workloads the offline audit keeps from a YAML file, the heap keeps nothing of the Secrets written next to them': 'test/fixtures/heap-child-audit.ts',
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

// The payload memo's digests are in the heap (its Map keys); its key must not be, or a snapshot
// lets anyone test guessed passwords against them offline. A key held as a string sits in the same
// snapshot (a 44-character base64 string); held as a Buffer, its bytes are outside the heap.
t.test('no string in a heap snapshot, taken as the payload digest\'s key, reproduces a digest in it', async (t) => {
  const output = execFileSync(process.execPath, ['--expose-gc', 'test/fixtures/heap-child-digest.ts'], { encoding: 'utf8' });
  const [formBase64, payload, path] = output.trim().split(' ');
  if (formBase64 === undefined || payload === undefined || path === undefined) {
    t.fail(`child printed form, payload and path: ${output}`);
    return;
  }
  try {
    const form = Buffer.from(formBase64, 'base64').toString();
    const strings = new Set((JSON.parse(readFileSync(path, 'utf8')) as { strings: string[] }).strings);
    const candidates = [...strings].filter((text) => /^[A-Za-z0-9+/]{43}=$/.test(text) || /^[0-9a-f]{64}$/.test(text));
    t.ok(candidates.length > 0, `the snapshot holds key-shaped strings to try (${candidates.length}, the digests among them)`);
    const confirmed = candidates.filter((key) =>
      [
        createHash('sha256').update(`${key}\u0000${form}\u0000${payload}`).digest('base64'),
        createHmac('sha256', key).update(form).update('\u0000').update(payload).digest('base64'),
        createHmac('sha256', Buffer.from(key, /=$/.test(key) ? 'base64' : 'hex')).update(form).update('\u0000').update(payload).digest('base64'),
      ].some((digest) => strings.has(digest)),
    );
    t.same(confirmed.length, 0, 'no candidate key confirms the payload');
  } finally {
    rmSync(path, { force: true });
  }
});
