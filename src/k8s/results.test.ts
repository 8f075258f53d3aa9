// Where `k8s results` finds a run folder: the store is the job's outputLocation when the
// results URI lies under it (with its parameters, not its redacted secrets), else the
// URI's parent; the run is the rest. A results URI that names no run is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError } from '../base/errors.js';
import { REDACTED } from '../base/redact.js';
import { SPEC_ANNOTATION } from './names.js';
import { resultsLocation } from './results.js';

const job = (
  spec: unknown,
  status: unknown,
  annotations?: Record<string, string>,
): Record<string, unknown> => ({
  metadata: { name: 'j', namespace: 'ns', ...(annotations ? { annotations } : {}) },
  spec,
  status,
});

test('under the outputLocation: that store, the folder and run id as the run, its non-secret parameters', () => {
  const location = resultsLocation(
    job(
      {
        outputLocation: {
          storageUri: 's3://bench@us-east-1/experiments/',
          parameters: { aws_region: 'us-east-1', aws_secret_access_key: REDACTED },
        },
      },
      { results: 's3://bench@us-east-1/experiments/exp/run-1' },
    ),
  );
  assert.deepEqual(location, {
    storeUri: 's3://bench@us-east-1/experiments',
    run: 'exp/run-1',
    parameters: { aws_region: 'us-east-1' },
  });
});

test('elsewhere: the parent folder and the last segment; the annotation is read for the outputLocation', () => {
  assert.deepEqual(resultsLocation(job({}, { results: 'file:///data/runs/run-2/' })), {
    storeUri: 'file:///data/runs',
    run: 'run-2',
    parameters: {},
  });
  const annotated = job(
    {},
    { results: 'gs://b/p/f/run-3' },
    { [SPEC_ANNOTATION]: JSON.stringify({ outputLocation: { storageUri: 'gs://b/p' } }) },
  );
  assert.deepEqual(resultsLocation(annotated), { storeUri: 'gs://b/p', run: 'f/run-3', parameters: {} });
});

test('no results yet, or a results URI that names no run, is said in words', () => {
  assert.throws(
    () => resultsLocation(job({}, { state: 'Running' })),
    /benchmarkjob ns\/j has no results yet \(state Running\)/,
  );
  assert.throws(() => resultsLocation(job({}, undefined)), /no results yet \(state no status yet\)/);
  for (const results of ['s3://bucket', 'run-only', 'file:///a/..']) {
    assert.throws(
      () => resultsLocation(job({}, { results })),
      (error: unknown) => error instanceof ValidationError && /status\.results/.test(error.message),
      results,
    );
  }
});
