import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

/**
 * Which kubeconfig files a command-line tool reads, as kubectl finds them (`--kubeconfig FILE`,
 * else the files in `KUBECONFIG`, missing ones skipped, else `~/.kube/config`), without loading
 * @kubernetes/client-node: kubeconfig.ts and kubeconfig-light.ts share it.
 */

export interface ClusterAccessOptions {
  /** `--kubeconfig FILE`. */
  readonly kubeconfig?: string | undefined;
  /** `--context NAME`. */
  readonly context?: string | undefined;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Seams for tests. */
  readonly home?: string;
  readonly fileExists?: (path: string) => boolean;
  /** Prefix before /var/run/secrets/... (client-node's loadFromCluster pathPrefix). */
  readonly inClusterRoot?: string;
}

/** A kubeconfig that cannot be found or used: the message says what was tried. */
export class KubeconfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KubeconfigError';
  }
}

export function configFiles(options: ClusterAccessOptions, env: Readonly<Record<string, string | undefined>>, exists: (path: string) => boolean): string[] {
  if (options.kubeconfig !== undefined) {
    if (!exists(options.kubeconfig)) throw new KubeconfigError(`--kubeconfig ${options.kubeconfig}: no such file`);
    return [options.kubeconfig];
  }
  const listed = env['KUBECONFIG'];
  if (listed !== undefined && listed !== '') {
    const files = listed.split(delimiter).filter((file) => file !== '' && exists(file));
    if (files.length === 0) throw new KubeconfigError(`KUBECONFIG=${listed}: none of its files exists`);
    return files;
  }
  const home = join(options.home ?? homedir(), '.kube', 'config');
  return exists(home) ? [home] : [];
}

