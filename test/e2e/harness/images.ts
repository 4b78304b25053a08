// The test images, pushed with crane (built by test/e2e/build-node.sh): one layer holding the static
// `sleeper` binary, entrypoint /sleeper. Each matrix row gets its own image (a label makes its config,
// and so its image ID, unique), so no row finds another row's image already on the node.
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Registry, RegistryCa, RegistryUser } from './registry.ts';

const execFileAsync = promisify(execFile);
const CRANE_TIMEOUT_MS = 60_000;
/** The label that makes each row's image distinct. */
export const ROW_LABEL = 'io.pullguard.e2e/row';

export interface ImageTool {
  /** `host/e2e/pause:1`: the sandbox image, entrypoint /sleeper. */
  readonly pauseImage: string;
  /** Pushes a copy of the base image under `reference`, labelled `label`; returns its digest. */
  push(reference: string, label: string): Promise<string>;
  /** `crane pull` into a docker-archive tarball (what `ctr images import` reads). */
  save(reference: string, tarball: string): Promise<void>;
}

export interface ImageToolOptions {
  crane: string;
  sleeper: string;
  dir: string;
  ca: RegistryCa;
  /** Every registry with the user crane logs in as. */
  logins: ReadonlyArray<{ registry: Registry; user: RegistryUser }>;
  /** Where the base and pause images live. */
  home: Registry;
}

export async function prepareImages(options: ImageToolOptions): Promise<ImageTool> {
  const dir = join(options.dir, 'images');
  const dockerConfigDir = join(dir, 'docker-config');
  mkdirSync(dockerConfigDir, { recursive: true, mode: 0o700 });
  const auths: Record<string, { auth: string }> = {};
  for (const { registry, user } of options.logins) {
    auths[registry.host] = { auth: Buffer.from(`${user.username}:${user.password}`).toString('base64') };
  }
  writeFileSync(join(dockerConfigDir, 'config.json'), JSON.stringify({ auths }), { mode: 0o600 });
  // crane reads credentials from $DOCKER_CONFIG and trusts the harness CA through Go's SSL_CERT_FILE.
  const env = { ...process.env, DOCKER_CONFIG: dockerConfigDir, SSL_CERT_FILE: options.ca.caFile };
  const crane = async (args: readonly string[]): Promise<string> => {
    try {
      const { stdout } = await execFileAsync(options.crane, args, { env, timeout: CRANE_TIMEOUT_MS });
      return stdout.trim();
    } catch (error) {
      const stderr = (error as { stderr?: string }).stderr ?? '';
      throw new Error(`crane ${args.join(' ')}: ${(error as Error).message}\n${stderr.trim()}`, { cause: error });
    }
  };

  // A reproducible one-file layer: owner root, mtime 0.
  const layerDir = join(dir, 'layer');
  mkdirSync(layerDir, { recursive: true });
  const layer = join(dir, 'layer.tar');
  await execFileAsync('install', ['-m', '0755', options.sleeper, join(layerDir, 'sleeper')]);
  await execFileAsync('tar', ['--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '-cf', layer, '-C', layerDir, 'sleeper']);

  const base = `${options.home.host}/e2e/base:1`;
  const pauseImage = `${options.home.host}/e2e/pause:1`;
  await crane(['append', '-f', layer, '-t', base]);
  // An empty base has no platform; containerd's CRI wants one to unpack for linux/amd64.
  await crane(['mutate', '--entrypoint', '/sleeper', '--set-platform', 'linux/amd64', '-t', pauseImage, base]);

  return {
    pauseImage,
    async push(reference, label) {
      await crane(['mutate', '-l', `${ROW_LABEL}=${label}`, '-t', reference, pauseImage]);
      return crane(['digest', reference]);
    },
    async save(reference, tarball) {
      await crane(['pull', reference, tarball]);
    },
  };
}
