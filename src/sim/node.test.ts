/**
 * Tests of the simulator's nodes on a real simulator on 127.0.0.1: requests go to them
 * round-robin (header, write log, stats), each node's vLLM metrics add up to the whole
 * server's, one node looks as before, and GPU identities follow the seed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gpuIdentity, NODE_HEADER } from './node.js';
import { startSimulator, type SimulatorHandle, type SimulatorOptions } from './server.js';
import { sampleValue, scrape } from './testing/prom-text.js';
import { streamChat } from './testing/requests.js';
import { writesById } from './write-log.js';

const QUICK: Partial<SimulatorOptions> = { ttftMs: 2, ttftPerInputTokenMs: 0, itlMs: 1, itlJitterMs: 0 };

async function withSim(options: Partial<SimulatorOptions>, body: (sim: SimulatorHandle) => Promise<void>) {
  const sim = await startSimulator(options);
  try {
    await body(sim);
  } finally {
    await sim.close();
  }
}

test('requests go to the nodes round-robin in arrival order: header, write log and stats agree', async () => {
  await withSim({ ...QUICK, nodes: 3, writeLogRequests: 16 }, async (sim) => {
    const outcomes = [];
    for (let i = 0; i < 7; i++) outcomes.push(await streamChat(sim.url, `r${i}`, 3 + i));
    assert.equal(NODE_HEADER, 'x-infermark-sim-node');
    assert.deepEqual(
      outcomes.map((o) => [o.status, o.node]),
      [0, 1, 2, 0, 1, 2, 0].map((i) => [200, `sim-node-${i}`]),
    );
    const log = writesById(sim.writeLog() ?? { limit: 0, dropped: 0, requests: [] });
    outcomes.forEach((o, i) => assert.equal(log.get(`r${i}`)?.node, o.node));
    const stats = sim.stats();
    assert.deepEqual(
      stats.nodes.map((n) => [n.name, n.requests, n.completed, n.restarts]),
      [
        ['sim-node-0', 3, 3, 0],
        ['sim-node-1', 2, 2, 0],
        ['sim-node-2', 2, 2, 0],
      ],
    );
    assert.equal(stats.completed, 7);
    assert.equal(stats.generationTokens, 3 + 4 + 5 + 6 + 7 + 8 + 9);

    // Each node's registry counts its own requests; the whole server's is their sum.
    const whole = await scrape(`${sim.url}/metrics`);
    let tokens = 0;
    let requests = 0;
    for (const node of stats.nodes) {
      const own = await scrape(`${sim.url}/sim/nodes/${node.name}/metrics`);
      tokens += sampleValue(own, 'vllm:generation_tokens_total');
      requests += sampleValue(own, 'vllm:e2e_request_latency_seconds_count');
      assert.equal(sampleValue(own, 'vllm:e2e_request_latency_seconds_count'), node.completed);
    }
    assert.equal(sampleValue(whole, 'vllm:generation_tokens_total'), tokens);
    assert.equal(sampleValue(whole, 'vllm:e2e_request_latency_seconds_count'), requests);
    assert.equal(tokens, stats.generationTokens);
    assert.equal((await fetch(`${sim.url}/sim/nodes/sim-node-3/metrics`)).status, 404);
  });
});

test('each node has its own batch of `capacity`: two nodes of capacity 1 run two requests at once', async () => {
  await withSim(
    { ttftMs: 0, ttftPerInputTokenMs: 0, itlMs: 40, itlJitterMs: 0, capacity: 1, nodes: 2 },
    async (sim) => {
      const both = Promise.all([streamChat(sim.url, 'a', 5), streamChat(sim.url, 'b', 5)]);
      await both;
      const stats = sim.stats();
      assert.equal(stats.peakRunning, 2, JSON.stringify(stats));
      assert.equal(stats.peakWaiting, 0);
    },
  );
});

test('one node by default: sim-node-0 in the header, the write log and stats; no restarts', async () => {
  await withSim({ ...QUICK, writeLogRequests: 2 }, async (sim) => {
    const outcome = await streamChat(sim.url, 'only', 4);
    assert.equal(outcome.node, 'sim-node-0');
    assert.equal(sim.writeLog()?.requests[0]?.node, 'sim-node-0');
    const stats = sim.stats();
    assert.equal(stats.restarts, 0);
    assert.deepEqual(
      stats.nodes.map((n) => n.name),
      ['sim-node-0'],
    );
    const statsOverHttp = (await (await fetch(`${sim.url}/sim/stats`)).json()) as { completed: number };
    assert.equal(statsOverHttp.completed, 1);
  });
});

test('GPU UUIDs follow the seed, node and GPU, in nvidia-smi form', () => {
  const a = gpuIdentity(42, 0, 0);
  assert.match(a.uuid, /^GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assert.deepEqual(gpuIdentity(42, 0, 0), a);
  const others = [gpuIdentity(43, 0, 0), gpuIdentity(42, 1, 0), gpuIdentity(42, 0, 1)].map((g) => g.uuid);
  assert.equal(new Set([a.uuid, ...others]).size, 4);
  assert.equal(a.device, 'nvidia0');
  assert.equal(a.pciBusId, '00000000:18:00.0');
  assert.equal(gpuIdentity(42, 0, 9).device, 'nvidia9');
});
