import { Readable } from 'node:stream';
import { main } from '../../src/cli/main.ts';

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI in-process with captured streams (the same `main()` the bin calls). */
export async function runCli(args: readonly string[], stdin = '', env: Readonly<Record<string, string>> = {}): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, {
    stdin: Readable.from([Buffer.from(stdin)]),
    stdout: { write: (text: string) => (stdout += text), isTTY: false },
    stderr: { write: (text: string) => (stderr += text) },
    env,
  });
  return { code, stdout, stderr };
}
