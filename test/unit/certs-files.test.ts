import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import {
  CERTIFICATE_FILE_NAMES, CertificateFilesExistError, certificatePaths, DEV_RENEW_BEFORE_MS, ensureDevCertificates,
  writeCertificateFiles, writeFileAtomically,
} from '../../src/certs/files.ts';
import { describeCertificate, generateCertificates, type CertificateBundle } from '../../src/certs/generate.ts';

const NOW = new Date('2026-06-01T12:00:00Z');
const DAY_MS = 24 * 60 * 60 * 1000;
const ALL_FILES = Object.values(CERTIFICATE_FILE_NAMES).sort();

const first = generateCertificates({ hosts: ['localhost'], validityDays: 30, now: NOW });
const second = generateCertificates({ hosts: ['localhost'], validityDays: 30, now: NOW });

async function contentsOf(dir: string): Promise<Record<string, string>> {
  const entries: Record<string, string> = {};
  for (const name of ALL_FILES) entries[name] = await readFile(join(dir, name), 'utf8');
  return entries;
}

function expectedContents(bundle: CertificateBundle): Record<string, string> {
  return { 'ca.crt': bundle.caCert, 'ca.key': bundle.caKey, 'tls.crt': bundle.tlsCert, 'tls.key': bundle.tlsKey };
}

t.test('writeCertificateFiles', async (t) => {
  t.test('writes the four PEM files into a directory it creates', async (t) => {
    const dir = join(t.testdir(), 'nested', 'certs');
    const paths = await writeCertificateFiles(dir, first, { overwrite: false });
    t.same(paths, certificatePaths(dir));
    t.same((await readdir(dir)).sort(), ALL_FILES, 'no temporary files are left behind');
    t.same(await contentsOf(dir), expectedContents(first));
  });

  t.test('makes private keys readable by the owner only and certificates world-readable', async (t) => {
    const dir = t.testdir();
    await writeCertificateFiles(dir, first, { overwrite: false });
    const modes = Object.fromEntries(
      await Promise.all(ALL_FILES.map(async (name) => [name, (await stat(join(dir, name))).mode & 0o777] as const)),
    );
    t.same(modes, { 'ca.crt': 0o644, 'ca.key': 0o600, 'tls.crt': 0o644, 'tls.key': 0o600 });
  });

  t.test('refuses to replace existing files without overwrite and leaves them untouched', async (t) => {
    const dir = t.testdir({ 'tls.crt': 'old certificate' });
    await t.rejects(writeCertificateFiles(dir, first, { overwrite: false }), {
      name: 'CertificateFilesExistError',
      paths: [join(dir, 'tls.crt')],
    });
    t.same(await readdir(dir), ['tls.crt'], 'nothing else was written');
    t.equal(await readFile(join(dir, 'tls.crt'), 'utf8'), 'old certificate');
  });

  t.test('replaces every file with overwrite', async (t) => {
    const dir = t.testdir();
    await writeCertificateFiles(dir, first, { overwrite: false });
    await writeCertificateFiles(dir, second, { overwrite: true });
    t.same(await contentsOf(dir), expectedContents(second));
  });

  t.test('lists every existing file in the refusal', async (t) => {
    const dir = t.testdir();
    await writeCertificateFiles(dir, first, { overwrite: false });
    const error = await writeCertificateFiles(dir, second, { overwrite: false }).catch((caught: unknown) => caught);
    t.ok(error instanceof CertificateFilesExistError);
    t.same(error instanceof CertificateFilesExistError ? [...error.paths].sort() : [], ALL_FILES.map((name) => join(dir, name)));
  });
});

t.test('writeFileAtomically', async (t) => {
  t.test('swaps in a new inode so a reader holding the old file never sees a mix', async (t) => {
    const dir = t.testdir({ 'tls.crt': 'old' });
    const path = join(dir, 'tls.crt');
    const before = (await stat(path)).ino;
    await writeFileAtomically(path, 'new', 0o644);
    t.not((await stat(path)).ino, before, 'the file was renamed over, not rewritten in place');
    t.equal(await readFile(path, 'utf8'), 'new');
  });

  t.test('removes its temporary file when the rename fails', async (t) => {
    const dir = t.testdir({ 'target-is-a-directory': { 'keep.txt': 'x' } });
    await t.rejects(writeFileAtomically(join(dir, 'target-is-a-directory'), 'content', 0o600));
    t.same(await readdir(dir), ['target-is-a-directory']);
  });
});

t.test('ensureDevCertificates', async (t) => {
  interface Case {
    /** Prepares the directory; undefined leaves it missing. */
    readonly prepare?: (dir: string) => Promise<void>;
    readonly hosts?: readonly string[];
    readonly now?: Date;
    readonly created: boolean;
    readonly reason?: RegExp;
  }
  const writeFirst = async (dir: string): Promise<void> => {
    await writeCertificateFiles(dir, first, { overwrite: false });
  };
  const cases: Record<string, Case> = {
    'creates certificates when the directory does not exist': { created: true, reason: /missing/ },
    'keeps valid certificates that cover the hosts': { prepare: writeFirst, created: false },
    'keeps valid certificates when asked for a host they already cover in another spelling': {
      prepare: writeFirst,
      hosts: ['LOCALHOST', '127.0.0.1'],
      created: false,
    },
    'regenerates when one file is missing': {
      prepare: async (dir) => {
        await writeFirst(dir);
        await rm(join(dir, 'ca.key'));
      },
      created: true,
      reason: /ca\.key is missing/,
    },
    'regenerates expired certificates': {
      prepare: writeFirst,
      now: new Date(NOW.getTime() + 31 * DAY_MS),
      created: true,
      reason: /expires at/,
    },
    'regenerates certificates about to expire, before they break a running server': {
      prepare: writeFirst,
      now: new Date(NOW.getTime() + 30 * DAY_MS - DEV_RENEW_BEFORE_MS / 2),
      created: true,
      reason: /expires at/,
    },
    'regenerates when a requested host is not covered': {
      prepare: writeFirst,
      hosts: ['localhost', 'pullguard.dev.svc'],
      created: true,
      reason: /does not cover pullguard\.dev\.svc/,
    },
    'regenerates when the serving key belongs to another certificate': {
      prepare: async (dir) => {
        await writeFirst(dir);
        await writeFile(join(dir, 'tls.key'), second.tlsKey);
      },
      created: true,
      reason: /tls\.key does not match/,
    },
    'regenerates when the serving certificate was signed by another CA': {
      prepare: async (dir) => {
        await writeFirst(dir);
        await writeFile(join(dir, 'tls.crt'), second.tlsCert);
        await writeFile(join(dir, 'tls.key'), second.tlsKey);
      },
      created: true,
      reason: /not signed by ca\.crt/,
    },
    'regenerates when a file does not parse': {
      prepare: async (dir) => {
        await writeFirst(dir);
        await writeFile(join(dir, 'ca.crt'), '-----BEGIN CERTIFICATE-----\ntruncated');
      },
      created: true,
      reason: /do not parse/,
    },
  };
  for (const [name, c] of Object.entries(cases)) {
    t.test(name, async (t) => {
      const dir = join(t.testdir(), 'certs');
      if (c.prepare !== undefined) {
        await mkdir(dir);
        await c.prepare(dir);
      }
      const now = c.now ?? NOW;
      const status = await ensureDevCertificates(dir, c.hosts ?? ['localhost'], { now, validityDays: 30 });
      t.equal(status.created, c.created);
      const contents = await contentsOf(dir);
      const description = describeCertificate(contents['tls.crt'] ?? '');
      t.equal(status.notAfter.getTime(), description.notAfter.getTime(), 'reports the expiry of the file on disk');
      if (status.created) {
        t.match(status.reason, c.reason ?? /never/);
        t.not(contents['tls.crt'], first.tlsCert, 'fresh certificates were written');
        t.ok(description.notAfter.getTime() > now.getTime() + DEV_RENEW_BEFORE_MS, 'the new certificate is valid well past now');
        for (const host of c.hosts ?? []) {
          t.ok(
            [...description.dnsNames, ...description.ipAddresses].includes(host.toLowerCase()),
            `the new certificate covers ${host}`,
          );
        }
      } else {
        t.same(contents, expectedContents(first), 'existing files are kept byte for byte');
      }
    });
  }

  t.test('defaults to localhost when given no hosts', async (t) => {
    const dir = t.testdir();
    const status = await ensureDevCertificates(dir, [], { now: NOW });
    t.equal(status.created, true);
    t.same(describeCertificate(await readFile(join(dir, 'tls.crt'))).dnsNames, ['localhost']);
  });

  t.test('reports an invalid host without touching existing files', async (t) => {
    const dir = t.testdir();
    await writeFirst(dir);
    await t.rejects(ensureDevCertificates(dir, ['not a host'], { now: NOW }), { name: 'CertificateOptionsError' });
    t.same(await contentsOf(dir), expectedContents(first));
  });
});
