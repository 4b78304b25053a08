// There is no Docker engine here, so this test rehearses the Dockerfile without one: it parses the
// instructions, copies what each COPY names (through .dockerignore) into a temp dir per stage, runs
// each RUN there with the same commands (npm offline, from the local cache), then runs the runtime
// stage's ENTRYPOINT with Node 24. A Dockerfile that no longer builds or starts fails here.
import { execFile, execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';

/**
 * npm ci of every dependency from the local cache, tsc and npm prune: about 40 s on two idle cores,
 * 80-250 s when other work shares them. It runs in its own CI step (`npm run test:image`), not in
 * `npm test`.
 */
t.setTimeout(600_000);

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const DISTROLESS_NODE = '/nodejs/bin/node';
/** On the ENTRYPOINT, since NODE_OPTIONS does not accept it; see the Dockerfile's memory note. */
const HEAP_GROWING_FLAG = '--heap-growing-percent=20';
const packageJson = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
  version: string;
  dependencies: Record<string, string>;
  scripts: Record<string, string>;
};

// ------------------------------------------------------------------------------------------------
// Dockerfile parsing: the instructions this Dockerfile uses. Anything else is an error, so a new
// instruction cannot slip past the rehearsal unrehearsed.

interface Instruction {
  readonly keyword: string;
  readonly args: string;
  readonly line: number;
}

interface Stage {
  readonly image: string;
  readonly name: string | undefined;
  readonly instructions: Instruction[];
}

function parseInstructions(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending = '';
  let startLine = 0;
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) return;
    if (pending !== '' && line.startsWith('#')) return; // comments inside a continuation
    if (pending === '') startLine = index + 1;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      return;
    }
    const full = `${pending}${line}`.trim();
    pending = '';
    const match = /^(\w+)\s+([\s\S]*)$/.exec(full);
    if (match === null) throw new Error(`Dockerfile:${startLine}: cannot parse "${full}"`);
    instructions.push({ keyword: (match[1] as string).toUpperCase(), args: (match[2] as string).trim(), line: startLine });
  });
  return instructions;
}

function substitute(text: string, args: ReadonlyMap<string, string>): string {
  return text.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, braced: string | undefined, bare: string | undefined) => args.get(braced ?? bare ?? '') ?? whole);
}

function parseStages(text: string): Stage[] {
  const globalArgs = new Map<string, string>();
  const stages: Stage[] = [];
  for (const instruction of parseInstructions(text)) {
    if (instruction.keyword === 'ARG' && stages.length === 0) {
      const [name, value = ''] = instruction.args.split('=', 2);
      globalArgs.set(name as string, value.replace(/^"|"$/g, ''));
    } else if (instruction.keyword === 'FROM') {
      const match = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args);
      if (match === null) throw new Error(`Dockerfile:${instruction.line}: cannot parse FROM ${instruction.args}`);
      stages.push({ image: substitute(match[1] as string, globalArgs), name: match[2], instructions: [] });
    } else {
      const stage = stages.at(-1);
      if (stage === undefined) throw new Error(`Dockerfile:${instruction.line}: ${instruction.keyword} before FROM`);
      stage.instructions.push(instruction);
    }
  }
  return stages;
}

/** ENV KEY=VALUE [KEY=VALUE...] (the only form used). */
function parseEnv(args: string): [string, string][] {
  return [...args.matchAll(/(\w+)=("(?:[^"\\]|\\.)*"|\S+)/g)].map((match) => [match[1] as string, (match[2] as string).replace(/^"|"$/g, '')]);
}

function execForm(args: string, line: number): string[] {
  const parsed = JSON.parse(args) as unknown;
  if (!Array.isArray(parsed) || !parsed.every((part) => typeof part === 'string')) throw new Error(`Dockerfile:${line}: expected exec form ["...", ...]`);
  return parsed;
}

// ------------------------------------------------------------------------------------------------
// .dockerignore: the build context. Docker's rule: the last pattern matching a path or any of its
// parents decides; `!` re-includes.

interface IgnorePattern {
  readonly negate: boolean;
  readonly regex: RegExp;
}

function parseDockerignore(text: string): IgnorePattern[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const negate = line.startsWith('!');
      const pattern = posix.normalize((negate ? line.slice(1) : line).trim()).replace(/^\/+|\/+$/g, '');
      const source = pattern
        .split('')
        .map((char, index, chars) => {
          if (char === '*') return chars[index + 1] === '*' ? '' : chars[index - 1] === '*' ? '.*' : '[^/]*';
          if (char === '?') return '[^/]';
          return char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
        })
        .join('');
      return { negate, regex: new RegExp(`^${source}$`) };
    });
}

function isIgnored(path: string, patterns: readonly IgnorePattern[]): boolean {
  const parts = path.split('/');
  const candidates = parts.map((_, index) => parts.slice(0, index + 1).join('/'));
  let ignored = false;
  for (const pattern of patterns) {
    if (candidates.some((candidate) => pattern.regex.test(candidate))) ignored = !pattern.negate;
  }
  return ignored;
}

/** Files under `relative` (a file or a directory of the repo) that the build context would hold. */
function contextFiles(relative: string, patterns: readonly IgnorePattern[]): string[] {
  const absolute = join(REPO, relative);
  if (!statSync(absolute).isDirectory()) return isIgnored(relative, patterns) ? [] : [relative];
  return readdirSync(absolute, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => posix.join(relative, posix.relative(absolute, join(entry.parentPath, entry.name)).split('\\').join('/')))
    .filter((file) => !isIgnored(file, patterns));
}

// ------------------------------------------------------------------------------------------------
// The rehearsal.

/** Environment of a RUN step: the PATH as given (its first node is Node 24), nothing from tap or npm. */
function cleanEnvironment(extra: Readonly<Record<string, string>>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined || /^(npm_|NODE_|TAP)/i.test(key)) continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

interface StageResult {
  readonly root: string;
  readonly workdir: string;
  readonly env: Record<string, string>;
  readonly user: string | undefined;
  readonly entrypoint: string[] | undefined;
}

async function rehearseStage(stage: Stage, scratch: string, built: ReadonlyMap<string, StageResult>, ignore: readonly IgnorePattern[], steps: string[]): Promise<StageResult> {
  const root = join(scratch, `stage-${stage.name ?? built.size}`);
  mkdirSync(root, { recursive: true });
  let workdir = '/';
  let user: string | undefined;
  let entrypoint: string[] | undefined;
  const env: Record<string, string> = {};
  const inRoot = (path: string): string => join(root, posix.resolve(workdir, path));
  const rehearseInstruction = async (instruction: Instruction): Promise<void> => {
    switch (instruction.keyword) {
      case 'WORKDIR':
        workdir = posix.resolve(workdir, instruction.args);
        mkdirSync(inRoot('.'), { recursive: true });
        break;
      case 'ENV':
        for (const [key, value] of parseEnv(instruction.args)) env[key] = value;
        break;
      case 'COPY': {
        const words = instruction.args.split(/\s+/);
        const from = words.find((word) => word.startsWith('--from='))?.slice('--from='.length);
        const paths = words.filter((word) => !word.startsWith('--'));
        const destination = paths.pop();
        if (destination === undefined || paths.length === 0) throw new Error(`Dockerfile:${instruction.line}: COPY needs a source and a destination`);
        for (const source of paths) {
          const target = inRoot(destination);
          if (from !== undefined) {
            const origin = built.get(from);
            if (origin === undefined) throw new Error(`Dockerfile:${instruction.line}: no earlier stage ${from}`);
            const path = join(origin.root, source);
            if (!existsSync(path)) throw new Error(`Dockerfile:${instruction.line}: ${source} does not exist in stage ${from}`);
            if (statSync(path).isDirectory()) {
              // A directory's contents go into the destination. Hard links (both stages are scratch
              // copies): node_modules has thousands of files, and linking takes a second, copying ten.
              mkdirSync(target, { recursive: true });
              await run('cp', ['-al', `${path}/.`, target]).catch(() => cpSync(path, target, { recursive: true, verbatimSymlinks: true }));
            } else {
              cpSync(path, destination.endsWith('/') ? join(target, posix.basename(source)) : target);
            }
          } else {
            const relative = posix.normalize(source).replace(/\/$/, '');
            const files = contextFiles(relative, ignore);
            if (files.length === 0) throw new Error(`Dockerfile:${instruction.line}: ${source} is not in the build context (.dockerignore)`);
            const isDirectory = statSync(join(REPO, relative)).isDirectory();
            for (const file of files) {
              const inside = isDirectory ? posix.relative(relative, file) : posix.basename(file);
              const into = isDirectory || destination.endsWith('/') ? join(target, inside) : target;
              mkdirSync(dirname(into), { recursive: true });
              cpSync(join(REPO, file), into);
            }
          }
        }
        break;
      }
      case 'RUN': {
        if (instruction.args.startsWith('[')) throw new Error(`Dockerfile:${instruction.line}: exec-form RUN is not rehearsed`);
        // The same shell form Docker uses (/bin/sh -c); npm offline: every package comes from the cache.
        await run('/bin/sh', ['-c', instruction.args], {
          cwd: inRoot('.'),
          env: cleanEnvironment({ ...env, npm_config_offline: 'true', npm_config_update_notifier: 'false' }),
          maxBuffer: 64 * 1024 * 1024,
          timeout: 180_000,
        }).catch((error: { stderr?: string; message: string }) => {
          const output = error.stderr ?? error.message;
          const hint = output.includes('ENOTCACHED') ? ' (a package is missing from the npm cache: run `npm ci` once with network access)' : '';
          throw new Error(`Dockerfile:${instruction.line}: RUN ${instruction.args} failed${hint}: ${output}`);
        });
        break;
      }
      case 'USER':
        user = instruction.args;
        break;
      case 'ENTRYPOINT':
        entrypoint = execForm(instruction.args, instruction.line);
        break;
      case 'CMD':
      case 'EXPOSE':
        break;
      default:
        throw new Error(`Dockerfile:${instruction.line}: the rehearsal does not know ${instruction.keyword}; teach it before using it`);
    }
  };
  for (const instruction of stage.instructions) {
    const stepStarted = Date.now();
    await rehearseInstruction(instruction);
    steps.push(`${instruction.keyword} ${instruction.args.slice(0, 40)}: ${((Date.now() - stepStarted) / 1000).toFixed(1)} s`);
  }
  return { root, workdir, env, user, entrypoint };
}

// ------------------------------------------------------------------------------------------------

const dockerfile = readFileSync(join(REPO, 'Dockerfile'), 'utf8');
const ignorePatterns = parseDockerignore(readFileSync(join(REPO, '.dockerignore'), 'utf8'));
const stages = parseStages(dockerfile);

t.test('runs on Node 24: the first node on PATH and this process', async (t) => {
  const onPath = execFileSync('node', ['--version'], { encoding: 'utf8' }).trim();
  t.match(onPath, /^v24\./, `node on PATH is ${onPath}`);
  t.match(process.version, /^v24\./);
});

t.test('keeps the build context to what the Dockerfile copies', async (t) => {
  const cases: { name: string; path: string; ignored: boolean }[] = [
    { name: 'keeps the sources', path: 'src/cli/main.ts', ignored: false },
    { name: 'keeps the lock file', path: 'package-lock.json', ignored: false },
    { name: 'keeps local certificates and keys out', path: 'certs/tls.key', ignored: true },
    { name: 'keeps the host node_modules out (npm ci installs its own)', path: 'node_modules/fastify/package.json', ignored: true },
    { name: 'keeps a host build out', path: 'dist/cli/main.js', ignored: true },
    { name: 'keeps the git history out', path: '.git/config', ignored: true },
    { name: 'keeps tests out', path: 'test/unit/decide.test.ts', ignored: true },
  ];
  for (const c of cases) t.equal(isIgnored(c.path, ignorePatterns), c.ignored, c.name);
});

t.test('describes a two-stage build: Node 24 to build, distroless Node 24 as non-root to run', async (t) => {
  t.equal(stages.length, 2);
  const [build, runtime] = stages;
  t.match(build?.image, /^node:24[.-]/, 'the build stage is the official Node 24 image');
  t.match(runtime?.image, /^gcr\.io\/distroless\/nodejs24-[\w.]+:nonroot(@sha256:[0-9a-f]{64})?$/, 'the runtime is distroless Node 24, nonroot tag');
  t.same(runtime?.instructions.filter((instruction) => instruction.keyword === 'RUN'), [], 'no RUN in the runtime stage: it has no shell');
  const buildRuns = build?.instructions.filter((instruction) => instruction.keyword === 'RUN').map((instruction) => instruction.args.split(' ').slice(0, 2).join(' '));
  t.same(buildRuns, ['npm ci', 'npm run', 'npm prune'], 'installs from the lock file, builds, then drops dev dependencies');
});

t.test('builds the image steps without Docker and runs the entrypoint with Node 24', async (t) => {
  const scratch = mkdtempSync(join(tmpdir(), 'pullguard-dockerfile-'));
  t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
  const built = new Map<string, StageResult>();
  const started = Date.now();
  const steps: string[] = [];
  let runtime: StageResult | undefined;
  for (const [index, stage] of stages.entries()) {
    const result = await rehearseStage(stage, scratch, built, ignorePatterns, steps);
    built.set(stage.name ?? String(index), result);
    runtime = result;
  }
  t.comment(`rehearsed ${stages.length} stages in ${((Date.now() - started) / 1000).toFixed(1)} s: ${steps.join('; ')}`);
  if (runtime === undefined) throw new Error('no stages');
  const app = join(runtime.root, runtime.workdir);

  t.test('runs as a non-root user', async (t) => {
    t.match(runtime.user ?? '', /^(65532|nonroot)(:(65532|nonroot))?$/);
  });

  t.test('ships production dependencies and the build, nothing else', async (t) => {
    for (const name of Object.keys(packageJson.dependencies)) t.ok(existsSync(join(app, 'node_modules', name, 'package.json')), `has ${name}`);
    // The lock file marks what only dev dependencies need (`dev: true`); e.g. @types/node is both a
    // dev dependency and a dependency of @kubernetes/client-node, so it is not dev-only.
    const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; optional?: boolean }> };
    const installed = Object.entries(lock.packages).filter(([path]) => path.startsWith('node_modules/'));
    const devOnly = installed.filter(([, entry]) => entry.dev === true).map(([path]) => path);
    const production = installed.filter(([, entry]) => entry.dev !== true && entry.optional !== true).map(([path]) => path);
    t.same(devOnly.filter((path) => existsSync(join(app, path))), [], `none of the ${devOnly.length} dev-only packages`);
    t.same(production.filter((path) => !existsSync(join(app, path))), [], `all ${production.length} production packages`);
    for (const name of ['typescript', 'tap', 'tsx']) t.notOk(existsSync(join(app, 'node_modules', name)), `no ${name}`);
    t.ok(existsSync(join(app, 'dist', 'cli', 'main.js')), 'dist/cli/main.js');
    t.same(readdirSync(app).sort(), ['dist', 'node_modules', 'package.json'], 'no sources, tests or local files');
  });

  const entrypoint = runtime.entrypoint ?? [];
  t.same(entrypoint, [DISTROLESS_NODE, HEAP_GROWING_FLAG, 'dist/cli/main.js'], 'ENTRYPOINT is `node --heap-growing-percent=20 dist/cli/main.js` (node by its distroless path)');
  // The container's environment: the image's ENV only (no NODE_OPTIONS from tap), Node 24 as `node`.
  const containerEnv = { PATH: process.env['PATH'] ?? '', HOME: scratch, ...runtime.env };
  const container = async (args: string[]): Promise<{ stdout: string; stderr: string }> =>
    run('node', [...entrypoint.slice(1), ...args], { cwd: app, env: containerEnv, timeout: 30_000 });

  const cases: { name: string; args: string[]; stdout: RegExp[] }[] = [
    { name: 'prints the package version for --version', args: ['--version'], stdout: [new RegExp(`^pullguard ${packageJson.version.replace(/\./g, '\\.')}\\n$`)] },
    {
      name: 'prints the serve flags the chart relies on for serve --help',
      args: ['serve', '--help'],
      stdout: ['--port N', '--cert FILE', '--key FILE', '--metrics-port N', '--cluster auto|on|off', '--namespace NS', '--policy-configmap NAME', '--request-timeout MS', '--log-level LEVEL'].map(
        (flag) => new RegExp(flag.replace(/[|.]/g, '\\$&')),
      ),
    },
    {
      name: 'creates certificates in memory, the certificate Job’s work (node-forge and the Kubernetes client load)',
      args: ['certs', '--out', '', '--host', 'pullguard.pullguard-system.svc'],
      stdout: [/created a CA and a serving certificate for pullguard\.pullguard-system\.svc/],
    },
  ];
  for (const c of cases) {
    const { stdout } = await container(c.args);
    for (const pattern of c.stdout) t.match(stdout, pattern, c.name);
  }
  t.match(containerEnv, { NODE_ENV: 'production' }, 'runs with NODE_ENV=production');
  // The memory figure in the README is only true for the image if the benchmark runs as the image does.
  const benchScript = packageJson.scripts['bench:memory'] ?? '';
  for (const name of ['MALLOC_ARENA_MAX', 'MALLOC_TRIM_THRESHOLD_'] as const) {
    t.ok(runtime.env[name] !== undefined && benchScript.includes(`${name}=${runtime.env[name]}`), `bench:memory runs with the image's ${name}=${runtime.env[name]}`);
  }
  const semiSpace = /--max-semi-space-size=\d+/.exec(runtime.env['NODE_OPTIONS'] ?? '')?.[0];
  t.ok(semiSpace !== undefined && benchScript.includes(semiSpace), `bench:memory runs with the image's ${semiSpace}`);
  t.ok(benchScript.includes(HEAP_GROWING_FLAG), `bench:memory runs with the image's ${HEAP_GROWING_FLAG}`);
  // Likewise the HTTP table: its server children run with the image's V8 options by default.
  const httpBench = readFileSync(new URL('../../bench/http.ts', import.meta.url), 'utf8');
  const imageOptions = /export const IMAGE_NODE_OPTIONS = '([^']*)'/.exec(httpBench)?.[1]?.split(' ') ?? [];
  t.same(imageOptions.toSorted(), [semiSpace, HEAP_GROWING_FLAG].toSorted(), 'npm run bench runs its servers with the image\'s V8 options');
});
