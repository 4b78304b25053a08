import { execFile } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { basename, delimiter, join } from 'node:path';

/**
 * Kustomize overlays and Helm charts are not manifests until rendered: auditing their files one by
 * one would miss what the patches and templates produce (a false all-clear). They are rendered
 * with the user's own tools when those are on PATH, and reported as not audited otherwise.
 */
export type RenderTool = 'kustomize' | 'helm';

export interface RenderCommand {
  readonly tool: RenderTool;
  readonly file: string;
  readonly args: readonly string[];
}

export type RenderResult = { readonly ok: true; readonly text: string } | { readonly ok: false; readonly reason: string };

/** Rendered output larger than this is refused (a chart that renders gigabytes is broken). */
export const RENDER_MAX_BYTES = 256 * 1024 * 1024;
/** A render taking longer is stopped: `helm template` and `kubectl kustomize` of real repositories take seconds. */
export const RENDER_TIMEOUT_MS = 120_000;

export interface RenderOptions {
  /** `--helm-values FILE`, passed to every `helm template`. */
  readonly helmValues: readonly string[];
  /** `--namespace NS`, passed to `helm template` (charts read .Release.Namespace). */
  readonly namespace: string | undefined;
}

/** Finds the rendering tools on PATH once per run; tests give a PATH of their own. */
export class Renderers {
  private readonly found = new Map<string, Promise<boolean>>();
  private readonly path: string | undefined;
  constructor(path: string | undefined) {
    this.path = path;
  }

  private async onPath(program: string): Promise<boolean> {
    let known = this.found.get(program);
    if (known === undefined) {
      known = (async () => {
        for (const dir of (this.path ?? '').split(delimiter)) {
          if (dir === '') continue;
          try {
            await access(join(dir, program), constants.X_OK);
            return true;
          } catch {
            // not in this directory
          }
        }
        return false;
      })();
      this.found.set(program, known);
    }
    return known;
  }

  /** `kubectl kustomize DIR`, else `kustomize build DIR`, else undefined. */
  async kustomize(dir: string): Promise<RenderCommand | undefined> {
    if (await this.onPath('kubectl')) return { tool: 'kustomize', file: 'kubectl', args: ['kustomize', dir] };
    if (await this.onPath('kustomize')) return { tool: 'kustomize', file: 'kustomize', args: ['build', dir] };
    return undefined;
  }

  /** `helm template RELEASE DIR [--values FILE]... [--namespace NS]`, else undefined. */
  async helm(dir: string, options: RenderOptions): Promise<RenderCommand | undefined> {
    if (!(await this.onPath('helm'))) return undefined;
    return { tool: 'helm', file: 'helm', args: helmArgs(dir, options) };
  }
}

function helmArgs(dir: string, options: RenderOptions): string[] {
  // The release name shows up in object names; the chart directory's name reads like a real one.
  const release = basename(dir).toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 53) || 'release';
  const args = ['template', release, dir];
  for (const values of options.helmValues) args.push('--values', values);
  if (options.namespace !== undefined) args.push('--namespace', options.namespace);
  return args;
}

/** The command a user runs by hand when the tool is missing (shown in the "not audited" line). */
export function suggestedCommand(tool: RenderTool, dir: string, options: RenderOptions): string {
  if (tool === 'kustomize') return `kubectl kustomize ${quote(dir)} | pullguard audit -`;
  return `helm ${helmArgs(dir, options).map(quote).join(' ')} | pullguard audit -`;
}

export function displayCommand(command: RenderCommand): string {
  return [command.file, ...command.args].map(quote).join(' ');
}

function quote(word: string): string {
  return /^[\w./:=@%+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Runs the tool; a failure comes back with the tool's first error line (never thrown). */
export function runRender(command: RenderCommand, env: Readonly<Record<string, string | undefined>>): Promise<RenderResult> {
  return new Promise((resolve) => {
    execFile(
      command.file,
      [...command.args],
      { env: env as NodeJS.ProcessEnv, maxBuffer: RENDER_MAX_BYTES, timeout: RENDER_TIMEOUT_MS, encoding: 'utf8', windowsHide: true },
      (error, stdout, stderr) => {
        if (error === null) {
          resolve({ ok: true, text: stdout });
          return;
        }
        const said = stderr.split('\n').map((line) => line.trim()).find((line) => line !== '');
        const why = (error as { killed?: boolean }).killed === true ? `stopped after ${RENDER_TIMEOUT_MS / 1000} s` : said ?? error.message;
        resolve({ ok: false, reason: `${displayCommand(command)} failed: ${why}` });
      },
    );
  });
}
