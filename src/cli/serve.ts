import type { CommandIo } from './io.ts';
import { UsageError } from './errors.ts';

export async function runServe(_args: readonly string[], _io: CommandIo): Promise<number> {
  throw new UsageError('serve is not built yet');
}
