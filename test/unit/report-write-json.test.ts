import t from 'tap';
import { ELEMENTS_PER_PIECE, SHARED_TEXTS_MAX, writeJson } from '../../src/report/write-json.ts';

const result = (index: number): Record<string, unknown> => ({ name: `web-${index}`, sources: [`a.yaml:${index}`], containers: [{ findings: [] }], skipped: undefined, note: 'quote " and \\ and \u2028' });

// Replicas share one decision: their rows hold the very same containers and findings objects.
const sharedContainers = [{ name: 'app', image: 'nginx', findings: [{ code: 'LatestTag', message: 'line\nbreak' }], reference: { tag: null } }];
const sharedFindings: unknown[] = [];
const replica = (index: number): Record<string, unknown> => ({ name: `api-${index}`, containers: sharedContainers, findings: sharedFindings, inject: [], copiesDiffer: index % 2 === 0 });

// One object whose text depends on the member name it is printed under.
const keyed = { toJSON: (key: string) => ({ printedAs: key }) };

const cases: Record<string, Record<string, unknown>> = {
  'an empty object': {},
  'a report with no results': { mode: 'enforce', summary: { objects: 0 }, results: [], skipped: [] },
  'a report with one result': { mode: 'enforce', results: [result(1)], rollup: { byCode: {} } },
  'a report whose results fill several pieces, the last one partly': { mode: 'warn', results: Array.from({ length: ELEMENTS_PER_PIECE * 2 + 3 }, (_, index) => result(index)), notAudited: [{ source: 'chart/' }] },
  'a report whose results fill exactly one piece': { results: Array.from({ length: ELEMENTS_PER_PIECE }, (_, index) => result(index)) },
  'members that JSON leaves out (undefined, functions) and a results member that is not a list': { a: undefined, results: 'none', b: () => 1, c: null },
  'results as the first and only member, with values JSON turns into null': { results: [undefined, () => 1, Number.NaN] },
  'rows sharing their containers and findings objects across pieces': { results: Array.from({ length: ELEMENTS_PER_PIECE * 2 + 5 }, (_, index) => replica(index)) },
  'more distinct shared objects than the writer keeps texts of, each used by two rows': {
    results: Array.from({ length: SHARED_TEXTS_MAX + 10 }, (_, index) => {
      const containers = [{ name: `c-${index}` }];
      return [{ containers }, { containers, extra: { nested: [] } }];
    }).flat(),
  },
  'rows that are not plain objects: arrays, strings, an object with toJSON, one without a prototype, an empty object': {
    results: [[1, [2, { a: 3 }]], 'text', { toJSON: () => ({ replaced: true }) }, Object.assign(Object.create(null) as object, { bare: [1] }), {}, { when: new Date(0), empty: {}, list: [] }],
  },
  'toJSON methods that answer by the member name or the index they are printed under, on values and on elements': {
    results: [
      { a: { toJSON: (key: string) => `member ${key}` }, b: Object.assign(['x', 'y'], { toJSON: (key: string) => [key] }) },
      { toJSON: (key: string) => ({ index: key }) },
      { shared: keyed, again: keyed },
      { shared: keyed },
      Object.assign([1], { toJSON: (key: string) => `element ${key}` }),
    ],
  },
  'member values JSON turns into nothing or null: undefined, a function, a toJSON that returns undefined, NaN': {
    results: [{ a: undefined, b: () => 1, c: { toJSON: () => undefined }, d: Number.NaN, e: 'kept' }],
  },
};

for (const [name, value] of Object.entries(cases)) {
  t.test(`writes exactly what JSON.stringify(value, null, 2) returns for ${name}`, async (t) => {
    const pieces: string[] = [];
    writeJson(value, new Set(['results']), (text) => pieces.push(text));
    t.equal(pieces.join(''), JSON.stringify(value, null, 2));
  });
}

t.test('writes a long result list in pieces, none holding the whole list', async (t) => {
  const value = { results: Array.from({ length: ELEMENTS_PER_PIECE * 4 }, (_, index) => result(index)) };
  const pieces: string[] = [];
  writeJson(value, new Set(['results']), (text) => pieces.push(text));
  const whole = JSON.stringify(value, null, 2);
  t.ok(pieces.length >= 4);
  t.ok(Math.max(...pieces.map((piece) => piece.length)) < whole.length / 3);
});
