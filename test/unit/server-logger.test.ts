import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { createLogger, LOG_PENDING_MAX_CHARS, LOG_RETRY_MS, TurnBatchedWriter } from '../../src/server/logger.ts';

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
/** Waits (without a deadline that could flake under load: up to 10 s) until `done` holds. */
async function waitFor(done: () => boolean): Promise<void> {
  const giveUp = Date.now() + 10_000;
  while (!done() && Date.now() < giveUp) await new Promise((resolve) => setTimeout(resolve, LOG_RETRY_MS));
}

/** A fake write(2): records each call; `script` decides what each call does (bytes taken or an error code). */
function fakeFd(script: Array<number | 'all' | string> = []) {
  const calls: string[] = [];
  const state = { attempts: 0 };
  const writeSync = (_fd: number, buffer: Uint8Array, offset: number): number => {
    state.attempts++;
    const step = script.shift() ?? 'all';
    if (typeof step === 'string' && step !== 'all') throw Object.assign(new Error(step), { code: step });
    const taken = step === 'all' ? buffer.length - offset : step;
    calls.push(Buffer.from(buffer.subarray(offset, offset + taken)).toString('utf8'));
    return taken;
  };
  return { calls, writeSync, state };
}

t.test('the lines of one event-loop turn leave in one write, in order, at the end of the turn', async (t) => {
  const fd = fakeFd();
  const writer = new TurnBatchedWriter(1, fd.writeSync);
  writer.write('a\n');
  writer.write('b\n');
  writer.write('ü\n');
  t.same(fd.calls, [], 'nothing is written during the turn');
  await nextTurn();
  t.same(fd.calls, ['a\nb\nü\n']);
  writer.write('c\n');
  await nextTurn();
  t.same(fd.calls, ['a\nb\nü\n', 'c\n'], 'a later turn gets its own write');
});

t.test('a partial write continues where the pipe stopped, without losing or repeating bytes', async (t) => {
  const fd = fakeFd([3, 'all']);
  const writer = new TurnBatchedWriter(1, fd.writeSync);
  writer.write('hello\n');
  writer.write('world\n');
  await nextTurn();
  t.equal(fd.calls.join(''), 'hello\nworld\n');
  t.equal(fd.calls.length, 2);
});

t.test('a full pipe (EAGAIN) keeps the rest and writes it a moment later, before newer lines', async (t) => {
  const fd = fakeFd([4, 'EAGAIN', 'all']);
  const writer = new TurnBatchedWriter(1, fd.writeSync);
  writer.write('first line\n');
  await nextTurn();
  t.same(fd.calls, ['firs']);
  writer.write('second line\n');
  await nextTurn();
  t.same(fd.calls, ['firs'], 'no write while the retry is pending');
  await waitFor(() => fd.state.attempts >= 3);
  t.equal(fd.calls.join(''), 'first line\nsecond line\n');
  t.equal(writer.dropped, 0);
});

t.test('lines beyond the pending limit are dropped, counted, and reported in the log once it flows', async (t) => {
  const script: Array<number | 'all' | string> = Array.from({ length: 3 }, () => 'EAGAIN');
  const fd = fakeFd(script);
  const writer = new TurnBatchedWriter(1, fd.writeSync);
  const line = 'x'.repeat(1024 * 1024 - 1) + '\n';
  for (let i = 0; i < LOG_PENDING_MAX_CHARS / line.length + 3; i++) writer.write(line);
  t.equal(writer.dropped, 3);
  await waitFor(() => fd.state.attempts >= 4);
  writer.write('after\n');
  await nextTurn();
  const text = fd.calls.join('');
  t.equal(text.split(line).length - 1, LOG_PENDING_MAX_CHARS / line.length, 'every kept line is written once');
  t.equal(text.split('"msg":"3 log lines were dropped: the log pipe was full or closed"').length - 1, 1, 'the loss is reported once');
  t.ok(text.endsWith('\nafter\n'));
});

t.test('after a full pipe drains during an idle retry, later lines are still written (the pending count starts over)', async (t) => {
  const fd = fakeFd(['EAGAIN', 'EAGAIN', 'all']);
  const writer = new TurnBatchedWriter(1, fd.writeSync);
  const line = 'y'.repeat(LOG_PENDING_MAX_CHARS / 2 - 1) + '\n';
  writer.write(line);
  await waitFor(() => fd.state.attempts >= 3);
  t.equal(fd.calls.join(''), line, 'the held line went out once the pipe took it');
  for (let i = 0; i < 3; i++) {
    writer.write(line);
    await nextTurn();
  }
  t.equal(writer.dropped, 0);
  t.equal(fd.calls.join('').length, line.length * 4);
});

t.test('a closed pipe (EPIPE) stops logging instead of throwing into the request', async (t) => {
  const fd = fakeFd(['EPIPE']);
  const writer = new TurnBatchedWriter(1, fd.writeSync);
  writer.write('lost\n');
  await nextTurn();
  t.doesNotThrow(() => writer.write('after\n'));
  await nextTurn();
  t.same(fd.calls, [], 'nothing more is written');
  t.equal(writer.dropped, 2, 'the line the pipe refused and the one after it');
});

t.test('flushAtExit writes what is pending at once, waiting out a briefly full pipe', async (t) => {
  const fd = fakeFd(['EAGAIN', 'EAGAIN', 'all']);
  const writer = new TurnBatchedWriter(1, fd.writeSync);
  writer.write('last words\n');
  writer.flushAtExit();
  t.same(fd.calls, ['last words\n']);
});

t.test('createLogger writes pino JSON lines to the file descriptor, one per call', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pullguard-log-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'log.jsonl');
  const fd = openSync(path, 'w');
  const logger = createLogger('info', fd);
  logger.info({ uid: 'u-1', codes: ['NoMatchingCredential'] }, 'admission decision');
  logger.debug('not at info');
  logger.warn('careful');
  await nextTurn();
  closeSync(fd);
  const lines = readFileSync(path, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
  t.match(lines, [
    { app: 'pullguard', level: 30, uid: 'u-1', codes: ['NoMatchingCredential'], msg: 'admission decision' },
    { level: 40, msg: 'careful' },
  ]);
  t.equal(lines.length, 2);
});
