import { execFileSync } from 'node:child_process';
import t from 'tap';

// Loading node:http, node:https and node:tls costs ~70 ms, on every run of a command that never
// opens a connection; the network modules are loaded when a flag asks for the network.
const commands: Record<string, string> = {
  'the offline audit (probes load only with --probe-anonymous)': '../../src/cli/audit.ts',
  'the dispatcher every command goes through': '../../src/cli/main.ts',
};

for (const [what, module] of Object.entries(commands)) {
  t.test(`${what} starts without loading Node's HTTP and TLS modules`, async (t) => {
    const url = new URL(module, import.meta.url).href;
    const script = `await import(${JSON.stringify(url)}); process.stdout.write(JSON.stringify(process.moduleLoadList));`;
    const loaded = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })) as string[];
    t.ok(loaded.includes('NativeModule fs'), 'the load list is read');
    t.same(loaded.filter((entry) => /^NativeModule (_http_\w+|http|https|tls|_tls_\w+)$/.test(entry)), []);
  });
}

// zod and the policy schema take ~100 ms to load and yaml ~20 ms: they load when a policy file is
// read (the default policy is written out in default-policy.ts).
t.test('the offline audit starts without loading zod or the yaml package', async (t) => {
  const url = new URL('../../src/cli/audit.ts', import.meta.url).href;
  const probe = `
    // Every module the import resolves, through a module hook.
    const seen = [];
    const { registerHooks } = await import('node:module');
    registerHooks({ resolve(specifier, context, next) { const result = next(specifier, context); seen.push(result.url); return result; } });
    await import(${JSON.stringify(url)});
    process.stdout.write(JSON.stringify(seen));`;
  const loaded = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', probe], { encoding: 'utf8' })) as string[];
  t.ok(loaded.some((entry) => entry.endsWith('/src/cli/audit.ts')), 'the resolved modules are seen');
  t.same(loaded.filter((entry) => /\/node_modules\/(zod|yaml)\//.test(entry) || entry.endsWith('/src/policy/schema.ts')), []);
});
