import { memoKey } from '../src/admission/admission-memo.ts';
import { decodeAdmissionReview } from '../src/admission/review.ts';
import { benchReview, HTTP_BODY_POOL_SIZE, poolIndexes } from '../bench/fixtures.ts';
const texts = poolIndexes(HTTP_BODY_POOL_SIZE).map((i) => JSON.stringify(benchReview(i, 'pod-lists-secrets')));
const reqs = Array.from({ length: 20000 }, (_, i) => decodeAdmissionReview(JSON.parse(texts[i % texts.length] as string)));
let sink = 0;
const m = new Map<string, number>();
for (let r = 0; r < 5; r++) {
  let t = process.cpuUsage();
  for (let k = 0; k < 10; k++) for (const q of reqs) { const key = memoKey(q, 'validate') as string; sink += key.length; }
  let c = process.cpuUsage(t); const a = (c.user + c.system) / 200000;
  t = process.cpuUsage();
  for (let k = 0; k < 10; k++) for (const q of reqs) { const key = memoKey(q, 'validate') as string; sink += m.get(key) ?? key.length; if (m.size < 64) m.set(key, 1); }
  c = process.cpuUsage(t); const b = (c.user + c.system) / 200000;
  console.log(`memoKey ${a.toFixed(2)} µs, memoKey+Map.get ${b.toFixed(2)} µs, key length ${(memoKey(reqs[0]!, 'validate') as string).length}`);
}
if (sink === 1) console.log();
