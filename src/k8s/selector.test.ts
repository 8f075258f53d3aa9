import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labelMatcher } from './selector.js';

test('equality-based selectors match as the API server reads them', () => {
  const m = labelMatcher('team=perf, tier!=dev,infermark,!legacy');
  assert.equal(m({ team: 'perf', infermark: '' }), true);
  assert.equal(m({ team: 'perf', tier: 'dev', infermark: '' }), false);
  assert.equal(m({ team: 'perf', infermark: '', legacy: 'x' }), false);
  assert.equal(m({ team: 'ml', infermark: '' }), false);
  assert.equal(labelMatcher('a==b')({ a: 'b' }), true);
  assert.throws(() => labelMatcher('a in (b)'), /only equality-based/);
});
