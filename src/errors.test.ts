import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatIssue, ValidationError } from './errors.js';

test('formatIssue names file, path, value and expectation', () => {
  assert.equal(
    formatIssue({
      file: 'job.yaml',
      path: 'spec.trafficScenarios[2]',
      value: 'N(480,-1)/(300,150)',
      message: 'standard deviation must be > 0',
    }),
    'job.yaml: spec.trafficScenarios[2]: "N(480,-1)/(300,150)": standard deviation must be > 0',
  );
});

test('ValidationError lists every issue and exits 2', () => {
  const error = new ValidationError([
    { file: 'a.yaml', path: 'spec.task', value: 'x', message: 'expected text-to-text' },
    { file: 'a.yaml', path: 'spec.numConcurrency[0]', value: 0, message: 'must be ≥ 1' },
  ]);
  assert.equal(error.exitCode, 2);
  assert.match(error.message, /2 validation errors/);
  assert.match(error.message, /spec\.numConcurrency\[0\]: 0: must be ≥ 1/);
});
