import t from 'tap';
import { boundWarnings, WARNING_MAX_LENGTH, WARNINGS_MAX_TOTAL } from '../../src/admission/warnings.ts';
import { shorten } from '../../src/decide/messages.ts';

const cases: Record<string, { input: string[]; check: (out: string[]) => boolean }> = {
  'keeps short warnings as they are': { input: ['a', 'b'], check: (out) => out.join('|') === 'a|b' },
  'removes duplicates': { input: ['same', 'same', 'other'], check: (out) => out.join('|') === 'same|other' },
  'shortens a long warning in the middle, keeping its start and the fix at its end': {
    input: ['[dry-run] would deny: app: ' + 'x'.repeat(300) + '; add imagePullSecrets: [regcred]'],
    check: (out) => out[0]?.length === WARNING_MAX_LENGTH && out[0].startsWith('[dry-run] would deny: app: ') && out[0].endsWith('; add imagePullSecrets: [regcred]') && out[0].includes('…'),
  },
  'counts only distinct warnings as omitted': {
    input: [...Array.from({ length: 60 }, (_, index) => `warning ${index} ${'y'.repeat(100)}`), ...Array.from({ length: 60 }, () => `warning 59 ${'y'.repeat(100)}`)],
    check: (out) => {
      const shown = out.length - 1;
      return out.at(-1) === `pullguard: ${60 - shown} more findings omitted; run pullguard audit for all`;
    },
  },
  'never splits an emoji in half': { input: ['app: ' + '😀'.repeat(100)], check: (out) => out[0]?.isWellFormed() === true && out[0].length <= WARNING_MAX_LENGTH },
  'stays under the total size and says how many were left out': {
    input: Array.from({ length: 100 }, (_, index) => `warning ${index} ${'y'.repeat(100)}`),
    check: (out) => out.join('').length < WARNINGS_MAX_TOTAL && /more findings omitted/.test(out.at(-1) ?? ''),
  },
  'flattens newlines so each warning is one kubectl line': { input: ['a\nb\r\nc'], check: (out) => out[0] === 'a b c' },
};
for (const [name, c] of Object.entries(cases)) {
  t.test(`boundWarnings ${name}`, async (t) => {
    const out = boundWarnings(c.input);
    t.ok(c.check(out), JSON.stringify(out));
  });
}

t.test('shorten keeps both ends and never splits a surrogate pair', async (t) => {
  const text = '😀'.repeat(50);
  for (let max = 5; max < 60; max++) {
    const out = shorten(text, max);
    t.ok(out.isWellFormed() && out.length <= max, `max ${max}: ${out}`);
  }
  t.equal(shorten('registry.example.com/very/long/path', 20), 'registry.e…long/path');
});
