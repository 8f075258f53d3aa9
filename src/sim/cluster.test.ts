/**
 * Tests of the simulated cluster endpoint on a real simulator on 127.0.0.1: it parses as
 * Prometheus text, names one pod per node with cAdvisor's and kube-state-metrics' labels,
 * and its CFS periods count real time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CFS_PERIOD_MS } from './cluster.js';
import { startSimulator } from './server.js';
import { sampleValue, scrape } from './testing/prom-text.js';

test('/sim/cluster: one pod per node, its periods, throttled periods, restarts and node', async () => {
  const sim = await startSimulator({ nodes: 2 });
  try {
    const first = await scrape(`${sim.url}/sim/cluster`);
    assert.deepEqual(
      [...first.keys()],
      [
        'container_cpu_cfs_periods_total',
        'container_cpu_cfs_throttled_periods_total',
        'kube_pod_container_status_restarts_total',
        'kube_pod_info',
      ],
    );
    assert.equal(first.get('container_cpu_cfs_periods_total')?.type, 'counter');
    assert.deepEqual(
      first.get('kube_pod_info')?.samples.map((s) => s.labels),
      [
        { namespace: 'default', pod: 'sim-pod-0', node: 'sim-node-0' },
        { namespace: 'default', pod: 'sim-pod-1', node: 'sim-node-1' },
      ],
    );
    const labels = { namespace: 'default', pod: 'sim-pod-1', container: 'server' };
    assert.equal(sampleValue(first, 'kube_pod_container_status_restarts_total', labels), 0);
    assert.equal(sampleValue(first, 'container_cpu_cfs_throttled_periods_total', labels), 0);
    const before = sampleValue(first, 'container_cpu_cfs_periods_total', labels);
    await new Promise((resolve) => setTimeout(resolve, 3 * CFS_PERIOD_MS));
    const after = sampleValue(
      await scrape(`${sim.url}/sim/cluster`),
      'container_cpu_cfs_periods_total',
      labels,
    );
    assert.ok(after - before >= 2, `${before} -> ${after}`);
  } finally {
    await sim.close();
  }
});
