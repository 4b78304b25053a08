import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { Readable } from 'node:stream';
import t from 'tap';
import { parseKubectlFlags, PLUGIN_HELP, pluginCommand, runPlugin } from '../../src/cli/kubectl-plugin.ts';
import type { CommandIo } from '../../src/cli/io.ts';

const dir = mkdtempSync(join(tmpdir(), 'pullguard-plugin-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
function kubeconfig(name: string, current: string, namespace: string): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    JSON.stringify({
      clusters: [{ name: `c-${name}`, cluster: { server: 'https://127.0.0.1:1' } }],
      users: [{ name: 'u', user: { token: 'not-a-real-token' } }],
      contexts: [{ name: current, context: { cluster: `c-${name}`, user: 'u', namespace } }],
      'current-context': current,
    }),
  );
  return path;
}
const first = kubeconfig('first', 'dev', 'team-dev');
const second = kubeconfig('second', 'prod', 'team-prod');

function io(env: Record<string, string> = {}): CommandIo & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    stdin: Readable.from([]),
    stdout: { write: (text: string) => (out += text), isTTY: false },
    stderr: { write: (text: string) => (err += text) },
    env,
    out: () => out,
    err: () => err,
  };
}

const parsing: Record<string, { args: string[]; expected: Record<string, unknown> }> = {
  'reads kubectl flags wherever they stand, in every spelling kubectl accepts': {
    args: ['audit', '--context=prod', '-nteam', '-ojson', '--kubeconfig', '/k', '--kinds', 'deploy'],
    expected: { context: 'prod', namespace: 'team', output: 'json', kubeconfig: '/k', allNamespaces: false, rest: ['audit', '--kinds', 'deploy'] },
  },
  'takes -A and --all-namespaces': { args: ['-A', 'audit'], expected: { allNamespaces: true, rest: ['audit'] } },
  'keeps what follows -- untouched': { args: ['explain', '--', '-n', 'x'], expected: { allNamespaces: false, rest: ['explain', '-n', 'x'] } },
  'accepts --namespace=NS and -o=json': { args: ['--namespace=a', '-o=json', 'audit'], expected: { namespace: 'a', output: 'json', allNamespaces: false, rest: ['audit'] } },
};
for (const [name, { args, expected }] of Object.entries(parsing)) {
  t.test(name, async (t) => {
    t.same(parseKubectlFlags(args), expected);
  });
}

t.test('refuses -n with -A, and a flag without its value', async (t) => {
  t.throws(() => parseKubectlFlags(['-n', 'a', '-A']), /exclude each other/);
  t.throws(() => parseKubectlFlags(['audit', '--context']), /--context needs a value/);
});

t.test('audit runs pullguard audit --cluster in the context\'s namespace by default, as kubectl would', async (t) => {
  const env = { KUBECONFIG: [first, second].join(delimiter) };
  t.same(pluginCommand(parseKubectlFlags(['audit']), io(env)), ['audit', '--cluster', '-n', 'team-dev'], 'the first KUBECONFIG file\'s current-context');
  t.same(pluginCommand(parseKubectlFlags(['audit', '--context', 'prod']), io(env)), ['audit', '--cluster', '--context', 'prod', '-n', 'team-prod']);
  t.same(pluginCommand(parseKubectlFlags(['audit', '-A', '-o', 'json']), io(env)), ['audit', '--cluster', '-o', 'json']);
  t.same(pluginCommand(parseKubectlFlags(['audit', '-n', 'x', '--kubeconfig', second]), io(env)), ['audit', '--cluster', '--kubeconfig', second, '-n', 'x']);
});

t.test('other commands get the same connection flags after their own arguments', async (t) => {
  t.same(pluginCommand(parseKubectlFlags(['explain', 'pod', 'web-1', '--context', 'prod']), io({ KUBECONFIG: second })), ['explain', 'pod', 'web-1', '--context', 'prod', '-n', 'team-prod']);
});

t.test('without a command it prints its help on stderr and exits 2; asked for help, on stdout with 0; an unusable kubeconfig is a usage error', async (t) => {
  const streams = io();
  t.equal(await runPlugin([], streams), 2);
  t.match(streams.err(), /^Usage: kubectl pullguard/);
  t.equal(streams.out(), '');
  for (const asking of [['help'], ['--help'], ['-n', 'x', '-h']]) {
    const helped = io();
    t.equal(await runPlugin(asking, helped), 0, asking.join(' '));
    t.match(helped.out(), /^Usage: kubectl pullguard/, asking.join(' '));
  }
  const broken = io({ KUBECONFIG: first });
  t.equal(await runPlugin(['audit', '--context', 'missing'], broken), 2);
  t.match(broken.err(), /kubectl pullguard: context "missing" not found/);
});

const unknown: Record<string, { args: string[]; message: string }> = {
  'a command the plugin does not run (review reads stdin, not the cluster)': { args: ['review'], message: 'unknown command "review"' },
  'a misspelt command': { args: ['audti'], message: 'unknown command "audti"' },
  'an unknown flag where the command should be, after kubectl flags': { args: ['-n', 'x', '--frobnicate'], message: 'unknown flag --frobnicate' },
};
for (const [name, { args, message }] of Object.entries(unknown)) {
  t.test(`answers ${name} with the plugin's usage and exit 2`, async (t) => {
    const streams = io({ KUBECONFIG: first });
    t.equal(await runPlugin(args, streams), 2);
    t.equal(streams.err(), `kubectl pullguard: ${message}\n\n${PLUGIN_HELP}`);
    t.equal(streams.out(), '');
  });
}

t.test('version prints the package version', async (t) => {
  const streams = io();
  t.equal(await runPlugin(['version'], streams), 0);
  t.match(streams.out(), /^kubectl-pullguard \d+\.\d+\.\d+\n$/);
});

t.test('the krew manifest template renders to a plugin manifest with every placeholder filled', async (t) => {
  const { readFileSync } = await import('node:fs');
  const { parse } = await import('yaml');
  const { renderKrewManifest } = await import('../../src/cli/krew.ts');
  const template = readFileSync(new URL('../../krew/pullguard.yaml.template', import.meta.url), 'utf8');
  const manifest = parse(renderKrewManifest(template, { version: '1.2.3', uri: 'https://example.com/p.tgz', sha256: 'a'.repeat(64) })) as {
    kind: string;
    metadata: { name: string };
    spec: { version: string; platforms: { uri: string; sha256: string; bin: string }[] };
  };
  t.equal(manifest.kind, 'Plugin');
  t.equal(manifest.metadata.name, 'pullguard');
  t.equal(manifest.spec.version, 'v1.2.3');
  t.same(manifest.spec.platforms.map((platform) => [platform.uri, platform.sha256, platform.bin]), [['https://example.com/p.tgz', 'a'.repeat(64), 'dist/cli/kubectl-plugin.js']]);
  t.throws(() => renderKrewManifest(template, { version: '1', uri: 'u', sha256: 'nope' }), /64 hex digits/);
  t.throws(() => renderKrewManifest(`${template}\n# @EXTRA@`, { version: '1', uri: 'u', sha256: 'a'.repeat(64) }), /@EXTRA@/);
});
