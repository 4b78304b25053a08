// One `pullguard audit` run in a process of its own, for bench/audit-offline.ts: prints its wall
// time (from before the CLI module loads) and the process's peak RSS on stderr as one JSON line.
// Usage: node bench/audit-child.ts FILE
const started = performance.now();
const { main } = await import('../src/cli/main.ts');
const { Readable } = await import('node:stream');
let bytes = 0;
const code = await main(['audit', process.argv[2] ?? '-', '-o', 'json', '--now', '2026-06-01T12:00:00Z'], {
  stdin: Readable.from([]),
  stdout: { write: (text: string) => (bytes += text.length), isTTY: false },
  stderr: { write: (text: string) => process.stderr.write(text) },
  env: {},
});
const ms = performance.now() - started;
process.stderr.write(`${JSON.stringify({ code, ms, maxRssMiB: process.resourceUsage().maxRSS / 1024, outputChars: bytes })}\n`);
