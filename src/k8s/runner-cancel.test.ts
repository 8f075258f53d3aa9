/**
 * spec.cancel reaches the runner: its BenchmarkJob read every few seconds through the real
 * client from a raw HTTP stand-in for the API server (testing/api-stand-in.ts), in the spec
 * or in the infermark.io/spec annotation that survives OME's CRD.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SPEC_ANNOTATION } from './names.js';
import { kubeStatusApi } from './runner-api.js';
import { watchCancel } from './runner-cancel.js';
import { startApiStandIn } from './testing/api-stand-in.js';

const TOKEN = 'runner-token-0123456789abcdef';
const TARGET = { name: 'bench', namespace: 'team' };

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

test('spec.cancel in the spec or in the infermark.io/spec annotation ends the watch once', async () => {
  const api = await startApiStandIn();
  try {
    api.object = { spec: { task: 'text-to-text' }, metadata: { annotations: {} } };
    let cancels = 0;
    const watch = watchCancel(kubeStatusApi(api.kubeConfig(TOKEN), TARGET), 'bench', () => cancels++, {
      intervalMs: 50,
    });
    await sleep(300);
    assert.equal(cancels, 0);
    const readsBefore = api.requests.length;
    assert.ok(readsBefore >= 2, `${readsBefore} reads`);
    assert.equal(api.requests[0]?.method, 'GET');
    assert.equal(api.requests[0]?.url, '/apis/ome.io/v1beta1/namespaces/team/benchmarkjobs/bench');
    // OME's CRD prunes spec.cancel: the annotation carries it.
    api.object = { spec: {}, metadata: { annotations: { [SPEC_ANNOTATION]: '{"cancel":true}' } } };
    for (let i = 0; i < 40 && cancels === 0; i++) await sleep(50);
    assert.equal(cancels, 1);
    const readsAtCancel = api.requests.length;
    await sleep(300);
    assert.equal(api.requests.length, readsAtCancel, 'no read after the cancel');
    watch.stop();
  } finally {
    await api.close();
  }
});
