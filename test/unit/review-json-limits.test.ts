// The limit that holds before a body is parsed: JSON objects and arrays anywhere in it, counted
// outside strings, in one pass; bodies too short to be over it are not scanned.
import t from 'tap';
import { checkJsonBodyLimits, REVIEW_MAX_JSON_CONTAINERS, ReviewLimitError } from '../../src/admission/review-limits.ts';

const LIMIT = REVIEW_MAX_JSON_CONTAINERS;
/** A JSON array of `count` empty objects, padded with spaces to at least `minChars`. */
const objects = (count: number, minChars = 0): string => {
  const text = `[${Array.from({ length: count }, () => '{}').join(',')}]`;
  return text.padEnd(minChars, ' ');
};

const cases: Record<string, { text: string; refused: boolean }> = {
  'a body of exactly the limit in objects and arrays passes': { text: objects(LIMIT - 1), refused: false },
  'one more object is refused': { text: objects(LIMIT), refused: true },
  'arrays count as objects do': { text: `[${'[],'.repeat(LIMIT)}[]]`, refused: true },
  'nesting counts every level': { text: `${'['.repeat(LIMIT + 1)}${']'.repeat(LIMIT + 1)}`, refused: true },
  'brackets inside strings do not count': { text: JSON.stringify(['{['.repeat(LIMIT + 1)]), refused: false },
  'an escaped quote does not end a string': { text: JSON.stringify(['\\"', `"${'{'.repeat(LIMIT + 1)}`]), refused: false },
  'an escaped backslash before the closing quote ends the string': { text: `["a\\\\",${objects(LIMIT)}]`, refused: true },
  'a short body is not scanned, whatever it holds (it cannot be over the limit)': { text: objects(10), refused: false },
  'a body of scalars of any length passes': { text: `[${'0,'.repeat(LIMIT * 2)}0]`, refused: false },
};

for (const [name, c] of Object.entries(cases)) {
  t.test(name, async (t) => {
    if (c.refused) {
      t.throws(() => checkJsonBodyLimits(c.text), new ReviewLimitError(`the request body holds more than ${LIMIT} JSON objects and arrays; pullguard reviews at most ${LIMIT} (REVIEW_MAX_JSON_CONTAINERS)`));
    } else {
      t.doesNotThrow(() => checkJsonBodyLimits(c.text));
    }
  });
}
