/**
 * Tests of the simulated node-exporter on a real simulator on 127.0.0.1: it parses, has
 * every CPU in every mode, its CPU seconds grow with real time and add up to it, user time
 * grows with load, and the uname info names the node.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NODE_CPUS } from './node-exporter.js';
import { startSimulator } from './server.js';
import { sampleValue, scrape } from './testing/prom-text.js';
import { streamChat } from './testing/requests.js';

test('/sim/nodes/<node>/node-exporter: CPU seconds by cpu and mode, load1, uname info', async () => {
  const sim = await startSimulator({ nodes: 2, ttftMs: 0, itlMs: 20, itlJitterMs: 0, capacity: 1 });
  try {
    const url = `${sim.url}/sim/nodes/sim-node-1/node-exporter`;
    const first = await scrape(url);
    assert.equal(first.get('node_cpu_seconds_total')?.type, 'counter');
    assert.equal(first.get('node_cpu_seconds_total')?.samples.length, NODE_CPUS * 3);
    assert.equal(sampleValue(first, 'node_uname_info', { nodename: 'sim-node-1' }), 1);
    assert.ok(sampleValue(first, 'node_load1') >= 0);
    const cpu0 = (families: typeof first) =>
      Object.fromEntries(
        ['idle', 'user', 'system'].map((mode) => [
          mode,
          sampleValue(families, 'node_cpu_seconds_total', { cpu: '0', mode }),
        ]),
      );
    const before = cpu0(first);
    await streamChat(sim.url, 'to-node-0', 2);
    await streamChat(sim.url, 'to-node-1', 15);
    const after = cpu0(await scrape(url));
    const wall_s = ['idle', 'user', 'system'].reduce((sum, mode) => sum + (after[mode] as number), 0);
    const elapsed_s =
      wall_s - ['idle', 'user', 'system'].reduce((sum, mode) => sum + (before[mode] as number), 0);
    assert.ok(elapsed_s > 0.2, JSON.stringify({ before, after }));
    for (const mode of ['idle', 'user', 'system'])
      assert.ok((after[mode] as number) >= (before[mode] as number));
    // A busy batch (capacity 1, full for ~0.3 s) adds user time beyond the background share.
    assert.ok(
      (after.user as number) - (before.user as number) > 0.02 * elapsed_s + 0.05,
      JSON.stringify({ before, after }),
    );
    assert.equal((await fetch(`${sim.url}/sim/nodes/sim-node-2/node-exporter`)).status, 404);
  } finally {
    await sim.close();
  }
});
