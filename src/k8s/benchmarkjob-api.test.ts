// The object `k8s submit` creates from a job file: OME's fields in spec, infermark's additions
// in the infermark.io/spec annotation, only the metadata a create takes, and an exported
// object (with the annotation already) split the same way again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { benchmarkJobResource } from './benchmarkjob-api.js';
import { SPEC_ANNOTATION } from './names.js';

const spec = {
  task: 'text-to-text',
  numConcurrency: [1, 4],
  maxTimePerIteration: 1,
  maxRequestsPerIteration: 5,
};

test('additions go to the annotation; OME fields stay in spec; the namespace is the one given', () => {
  const { resource, additions } = benchmarkJobResource(
    {
      apiVersion: 'ome.io/v1beta1',
      kind: 'BenchmarkJob',
      metadata: { name: 'j', namespace: 'file-ns', labels: { team: 'a' }, uid: 'u', resourceVersion: '9' },
      spec: { ...spec, workers: 2, seed: 7 },
      status: { state: 'Completed' },
    },
    'default',
  );
  assert.deepEqual(additions, ['workers', 'seed']);
  assert.deepEqual(resource, {
    apiVersion: 'ome.io/v1beta1',
    kind: 'BenchmarkJob',
    metadata: {
      name: 'j',
      namespace: 'default',
      labels: { team: 'a' },
      annotations: { [SPEC_ANNOTATION]: JSON.stringify({ workers: 2, seed: 7 }) },
    },
    spec,
  });
});

test('an OME-only job gets no annotation; an exported object round-trips', () => {
  const plain = benchmarkJobResource({ metadata: { name: 'j' }, spec }, 'ns');
  assert.deepEqual(plain.additions, []);
  assert.equal((plain.resource.metadata as Record<string, unknown>).annotations, undefined);
  const exported = benchmarkJobResource(
    {
      metadata: { name: 'j', annotations: { [SPEC_ANNOTATION]: '{"workers":3}', note: 'kept' } },
      spec: { ...spec, workers: 1 },
    },
    'ns',
  );
  // The annotation's value wins (it is what survived pruning), and other annotations stay.
  assert.deepEqual((exported.resource.metadata as { annotations: unknown }).annotations, {
    note: 'kept',
    [SPEC_ANNOTATION]: '{"workers":3}',
  });
  assert.deepEqual(exported.resource.spec, spec);
});
