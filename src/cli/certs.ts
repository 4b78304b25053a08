import type { CommandIo } from './io.ts';
import { UsageError } from './errors.ts';

export async function runCerts(_args: readonly string[], _io: CommandIo): Promise<number> {
  throw new UsageError('certs is not built yet');
}
