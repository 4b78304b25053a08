import t from 'tap';
import { writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.ts';

interface Case {
  readonly args: readonly string[];
  readonly stdin?: string;
  readonly env?: Readonly<Record<string, string>>;
  readonly code: number;
  readonly stderr?: RegExp;
  readonly stdout?: RegExp;
}

const cases: Record<string, Case> = {
  'audit skips a file with a YAML syntax error with one warning naming file and line, and goes on': {
    args: ['audit', 'test/fixtures/broken.yaml', 'examples/manifests', 'examples/cluster'],
    code: 1,
    stderr: /^pullguard audit: skipped test\/fixtures\/broken\.yaml:10: invalid YAML: [^\n]+\n$/,
    stdout: /8 workloads, 13 containers: .*; 1 input skipped/,
  },
  'audit --strict exits 2 when a file was skipped, after printing the whole report': {
    args: ['audit', '--strict', 'test/fixtures/broken.yaml', 'examples/manifests', 'examples/cluster'],
    code: 2,
    stderr: /skipped test\/fixtures\/broken\.yaml:10: invalid YAML/,
    stdout: /8 workloads/,
  },
  'audit exits 2 saying no such file for a path that does not exist': { args: ['audit', 'no/such/dir'], code: 2, stderr: /^pullguard audit: no\/such\/dir: no such file\n/ },
  'audit exits 2 for an unknown output format': { args: ['audit', '-o', 'xml', 'examples/manifests'], code: 2, stderr: /-o must be table, json or policyreport, got xml/ },
  'audit exits 2 for an invalid policy and lists every error with its path': {
    args: ['audit', '--policy', 'test/fixtures/bad-policy.yaml', 'examples/manifests'],
    code: 2,
    stderr: /mode: .*registries\[0\]\.access: /,
  },
  'audit exits 2 naming the policy file when its YAML expands too many aliases': {
    args: ['audit', '--policy', 'test/fixtures/alias-policy.yaml', 'examples/manifests'],
    code: 2,
    stderr: /invalid policy test\/fixtures\/alias-policy\.yaml: \(yaml\): too many YAML alias expansions/,
  },
  'audit reads manifests from stdin and exits 0 when nothing would be denied': {
    args: ['audit', '-'],
    stdin: 'apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: team}\nspec:\n  containers: [{name: web, image: "registry.k8s.io/pause:3.10"}]\n',
    code: 0,
    stdout: /^1 workload, 1 container: 0 would be denied/m,
  },
  'audit expands List kinds': {
    args: ['audit', '-o', 'json', '-'],
    stdin: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'a' }, spec: { containers: [{ name: 'a', image: 'registry.k8s.io/pause:3.10' }] } },
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'b' }, spec: { containers: [{ name: 'b', image: 'registry.k8s.io/pause:3.10' }] } },
    ] }),
    code: 0,
    stdout: /"objects": 2/,
  },
  'audit exits 2 for --state - since stdin carries the manifests': {
    args: ['audit', '--state', '-', 'examples/manifests'],
    code: 2,
    stderr: /--state - is not supported/,
  },
  'audit exits 2 for a --now that is not an RFC 3339 time': {
    args: ['audit', '--now', '2026-01-01', 'examples/manifests'],
    code: 2,
    stderr: /--now must be an RFC 3339 time like 2026-01-01T00:00:00Z, got 2026-01-01/,
  },
  'audit accepts an RFC 3339 time with an offset for --now': {
    args: ['audit', '--now', '2026-01-01T10:00:00+02:00', '-'],
    stdin: 'apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: team}\nspec:\n  containers: [{name: web, image: "registry.k8s.io/pause:3.10"}]\n',
    code: 0,
    stdout: /0 would be denied/,
  },
  'serve exits 2 naming the flag for an unknown log level': {
    args: ['serve', '--log-level', 'loud', '--cluster', 'off'],
    code: 2,
    stderr: /--log-level must be one of fatal\|error\|warn\|info\|debug\|trace\|silent, got loud/,
  },
  'serve exits 2 naming the flag for a fractional decision cache size': {
    args: ['serve', '--decision-cache-entries', '2.5', '--cluster', 'off'],
    code: 2,
    stderr: /--decision-cache-entries must be a whole number from 0 to 10000, got 2\.5/,
  },
  'serve exits 2 for a decision cache size in hexadecimal': {
    args: ['serve', '--decision-cache-entries', '0x10', '--cluster', 'off'],
    code: 2,
    stderr: /--decision-cache-entries must be a whole number from 0 to 10000, got 0x10/,
  },
  'serve exits 2 for a decision cache size from the environment that is not a number': {
    args: ['serve', '--cluster', 'off'],
    env: { PULLGUARD_DECISION_CACHE_ENTRIES: 'lots' },
    code: 2,
    stderr: /--decision-cache-entries must be a whole number from 0 to 10000, got lots/,
  },
  'serve exits 2 for a PULLGUARD_LOG_ALLOWS that is neither true nor false': {
    args: ['serve', '--cluster', 'off'],
    env: { PULLGUARD_LOG_ALLOWS: 'yes' },
    code: 2,
    stderr: /PULLGUARD_LOG_ALLOWS must be true or false, got yes/,
  },
  'serve exits 2 with the fix when the certificate file does not exist': {
    args: ['serve', '--cert', 'no/such/tls.crt', '--key', 'no/such/tls.key', '--cluster', 'off', '--port', '0', '--metrics-port', '0'],
    code: 2,
    stderr: /cannot load the serving certificate \(--cert no\/such\/tls\.crt, --key no\/such\/tls\.key\): no\/such\/tls\.crt does not exist; create a pair with 'pullguard certs/,
  },
  'review exits 2 when stdin is not JSON': { args: ['review'], stdin: 'nope', code: 2, stderr: /stdin is not JSON/ },
  'review exits 2 for a malformed AdmissionReview': { args: ['review'], stdin: '{"kind":"AdmissionReview"}', code: 2, stderr: /malformed AdmissionReview: apiVersion must be/ },
  'review rejects an unknown phase': { args: ['review', '--phase', 'both'], stdin: '{}', code: 2, stderr: /--phase must be mutate or validate/ },
  'an unknown flag is answered in our words with the command usage': {
    args: ['audit', '--frobnicate'],
    code: 2,
    stderr: /^pullguard audit: unknown flag --frobnicate\n\nUsage: pullguard audit /,
  },
  'a mistyped flag gets a suggestion': { args: ['audit', '--outptu', 'json'], code: 2, stderr: /^pullguard audit: unknown flag --outptu \(did you mean --output\?\)\n/ },
  'a flag without its value names the flag': { args: ['audit', '--policy'], code: 2, stderr: /^pullguard audit: --policy needs a value\n\nUsage: pullguard audit/ },
  'a short flag without its value is named in both spellings': { args: ['audit', '-o'], code: 2, stderr: /^pullguard audit: -o\/--output needs a value\n\nUsage: pullguard audit / },
  'a boolean flag with a short form given a value is named in both spellings': { args: ['explain', '--help=yes'], code: 2, stderr: /^pullguard explain: -h\/--help takes no value\n\nUsage: pullguard explain / },
  'an unknown flag of audit --cluster prints the cluster audit usage': {
    args: ['audit', '--cluster', '--frobnicate'],
    code: 2,
    stderr: /^pullguard audit: unknown flag --frobnicate\n\nUsage: pullguard audit --cluster /,
  },
  'a mistyped flag of audit --cluster gets a suggestion from its own flags': { args: ['audit', '--cluster', '--chunksize', '5'], code: 2, stderr: /unknown flag --chunksize \(did you mean --chunk-size\?\)/ },
  'a boolean flag given a value is refused': { args: ['audit', '--strict=yes', '-'], code: 2, stderr: /^pullguard audit: --strict takes no value\n/ },
  'an argument to a command without arguments is refused in our words': { args: ['review', 'extra'], code: 2, stderr: /^pullguard review: unexpected argument "extra": this command takes flags only\n\nUsage: pullguard review/ },
  'an unknown flag of serve prints serve usage': { args: ['serve', '--prot', '1'], code: 2, stderr: /unknown flag --prot \(did you mean --port\?\)\n\nUsage: pullguard serve/ },
  'an unknown flag before any command is named as a flag': { args: ['--frobnicate'], code: 2, stderr: /^pullguard: unknown flag --frobnicate\n\nUsage: pullguard <command>/ },
  'audit --only refuses an unknown filter': { args: ['audit', '--only', 'deny,oops', '-'], code: 2, stderr: /--only must be deny, warn, inject/ },
  'audit --namespace refuses a name that is not a namespace': { args: ['audit', '--namespace', 'Team_A', '-'], code: 2, stderr: /--namespace must be a namespace name/ },
  'pullguard with no command prints the usage on stderr and exits 2': { args: [], code: 2, stderr: /^Usage: pullguard <command>/ },
  'unknown commands print the help and exit 2': { args: ['deploy'], code: 2, stderr: /unknown command "deploy"[\s\S]*Usage: pullguard/ },
  '--version prints the package version': { args: ['--version'], code: 0, stdout: /^pullguard \d+\.\d+\.\d+\n$/ },
  'certs needs at least one host': { args: ['certs', '--out', ''], code: 2, stderr: /at least one --host/ },
  'serve exits 2 for a --min-tls other than 1.2 or 1.3': { args: ['serve', '--min-tls', '1.1', '--cluster', 'off'], code: 2, stderr: /--min-tls must be 1\.2 or 1\.3, got 1\.1/ },
  'serve exits 2 for a --min-tls from the environment that is not a version': {
    args: ['serve', '--cluster', 'off'],
    env: { PULLGUARD_MIN_TLS: 'TLSv1.3' },
    code: 2,
    stderr: /--min-tls must be 1\.2 or 1\.3, got TLSv1\.3/,
  },
  'serve exits 2 for --client-cn without --client-ca': {
    args: ['serve', '--client-cn', 'kube-apiserver', '--cluster', 'off'],
    code: 2,
    stderr: /--client-cn needs --client-ca/,
  },
  'serve exits 2 naming --client-ca when the client CA file does not exist': {
    args: ['serve', '--cert', 'certs-missing/tls.crt', '--key', 'certs-missing/tls.key', '--client-ca', 'no/such/ca.crt', '--cluster', 'off', '--port', '0', '--metrics-port', '0'],
    code: 2,
    stderr: /cannot load the serving certificate \(--cert certs-missing\/tls\.crt, --key certs-missing\/tls\.key, --client-ca no\/such\/ca\.crt\)/,
  },
  'serve exits 2 for a --secret-namespaces entry that is not a namespace name': {
    args: ['serve', '--secret-namespaces', 'team-a,Team_B', '--cluster', 'off'],
    code: 2,
    stderr: /--secret-namespaces takes namespace names separated by commas; "Team_B" is not a namespace name/,
  },
  'serve exits 2 for --secret-namespaces with state from files': {
    args: ['serve', '--secret-namespaces', 'team-a', '--state', 'examples/cluster'],
    code: 2,
    stderr: /--secret-namespaces chooses which namespaces are watched in a cluster; with --state or --cluster off/,
  },
  'serve rejects a metrics port equal to the webhook port': { args: ['serve', '--port', '9000', '--metrics-port', '9000'], code: 2, stderr: /--metrics-port must differ/ },
};

for (const [name, c] of Object.entries(cases)) {
  t.test(name, async (t) => {
    const result = await runCli(c.args, c.stdin ?? '', c.env ?? {});
    t.equal(result.code, c.code, `exit code (stderr: ${result.stderr})`);
    if (c.stderr !== undefined) t.match(result.stderr, c.stderr);
    if (c.stdout !== undefined) t.match(result.stdout, c.stdout);
  });
}

t.test('certs exits 1 with one line naming the API server, not a stack, when the cluster cannot be reached', async (t) => {
  const dir = t.testdir();
  // A port that was just free: nothing listens there.
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:${port}"}}]
users: [{name: u, user: {token: not-a-real-token}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`);
  const cases = {
    'writing the Secret': ['--secret', 'pullguard-system/pullguard-tls'],
    'patching a caBundle': ['--mutating-webhook', 'pullguard'],
  };
  for (const [name, flags] of Object.entries(cases)) {
    const result = await runCli(['certs', '--host', 'pullguard.pullguard-system.svc', '--out', '', '--kubeconfig', kubeconfig, ...flags]);
    t.equal(result.code, 1, `${name}: exit code`);
    t.match(result.stderr, new RegExp(`^pullguard certs: cannot write [^\\n]+\\(API server https://127\\.0\\.0\\.1:${port}\\): [^\\n]*ECONNREFUSED[^\\n]*\\n$`), `${name}: one line`);
    t.notMatch(result.stderr, /not-a-real-token/, `${name}: no credential`);
  }
});

t.test('certs exits 2 naming the file when the kubeconfig cannot be read', async (t) => {
  const result = await runCli(['certs', '--host', 'pullguard.pullguard-system.svc', '--out', '', '--secret', 'ns/name', '--kubeconfig', 'no/such/kubeconfig']);
  t.equal(result.code, 2);
  t.match(result.stderr, /^pullguard certs: cannot load a kubeconfig from no\/such\/kubeconfig: ENOENT/);
});
