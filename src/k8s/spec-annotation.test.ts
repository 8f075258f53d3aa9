import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SPEC_ANNOTATION } from './names.js';
import { effectiveSpec, OME_SPEC_FIELDS, SpecAnnotationError, splitAdditions } from './spec-annotation.js';

test('additions go to the annotation and come back over what OME kept', () => {
  const spec = { task: 'text-to-text', numConcurrency: [1], workers: 3, apiKey: { env: 'K' } };
  const { spec: kept, additions } = splitAdditions(spec);
  assert.deepEqual(kept, { task: 'text-to-text', numConcurrency: [1] });
  assert.deepEqual(additions, { workers: 3, apiKey: { env: 'K' } });
  // The API server pruned the additions from spec; the annotation brings them back.
  assert.deepEqual(effectiveSpec(kept, { [SPEC_ANNOTATION]: JSON.stringify(additions) }), spec);
  assert.deepEqual(effectiveSpec(kept, undefined), kept);
  assert.ok(OME_SPEC_FIELDS.includes('podOverride'));
});

test('an annotation that is not a JSON object is named, with what was expected', () => {
  assert.throws(() => effectiveSpec({}, { [SPEC_ANNOTATION]: '{workers: 3' }), SpecAnnotationError);
  assert.throws(
    () => effectiveSpec({}, { [SPEC_ANNOTATION]: '[1]' }),
    /is not an object; expected a JSON object/,
  );
});
