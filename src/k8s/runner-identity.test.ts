/** Who the run pod is, from its environment: the BenchmarkJob and namespace decide; the rest may be missing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ENV } from './names.js';
import { identityFromEnv, runnerTarget } from './runner-identity.js';

test('without the BenchmarkJob and its namespace the process is no runner; with them, missing values are null', () => {
  assert.equal(runnerTarget({}), null);
  assert.equal(runnerTarget({ [ENV.benchmarkJob]: 'b' }), null);
  assert.equal(identityFromEnv({ [ENV.namespace]: 'ns', [ENV.benchmarkJob]: '  ' }), null);
  assert.deepEqual(runnerTarget({ [ENV.benchmarkJob]: 'b', [ENV.namespace]: 'ns' }), {
    name: 'b',
    namespace: 'ns',
  });
  assert.deepEqual(
    identityFromEnv({
      [ENV.benchmarkJob]: 'b',
      [ENV.namespace]: 'ns',
      [ENV.podUid]: 'u1',
      [ENV.nodeName]: '',
    }),
    { namespace: 'ns', benchmark_job: 'b', job_uid: null, pod_uid: 'u1', pod_name: null, node_name: null },
  );
});
