import t from 'tap';
import { encodePatch, type JsonPatchOperation } from '../../src/admission/patch.ts';

// The patch travels base64-encoded UTF-8 JSON: whichever encoder is used, the API server must
// decode exactly the operations we meant.
const cases: Record<string, readonly JsonPatchOperation[]> = {
  'an ASCII append': [{ op: 'add', path: '/spec/imagePullSecrets/-', value: { name: 'harbor-pull' } }],
  'a whole list': [{ op: 'add', path: '/spec/template/spec/imagePullSecrets', value: [{ name: 'a' }, { name: 'b' }] }],
  'a Latin-1 name (é is two bytes in UTF-8, one in Latin-1)': [{ op: 'add', path: '/spec/imagePullSecrets/-', value: { name: 'régcred' } }],
  'a name beyond Latin-1': [{ op: 'add', path: '/spec/imagePullSecrets/-', value: { name: 'секрет-😀' } }],
  'no operations': [],
};

for (const [name, operations] of Object.entries(cases)) {
  t.test(`${name}: decodes as UTF-8 to the operations`, (t) => {
    const encoded = encodePatch(operations);
    t.match(encoded, /^[A-Za-z0-9+/]*={0,2}$/);
    t.same(JSON.parse(Buffer.from(encoded, 'base64').toString('utf8')), operations);
    t.end();
  });
}
