/**
 * Tests of the simulated dcgm-exporter on a real simulator on 127.0.0.1: per node and all
 * together, every family with dcgm-exporter's label set, each GPU once, and values that
 * follow the load (utilisation, memory, power).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { framebufferOf } from './dcgm.js';
import { startSimulator } from './server.js';
import { sampleValue, scrape } from './testing/prom-text.js';
import { streamChat } from './testing/requests.js';

const FAMILIES = [
  'DCGM_FI_DEV_SM_CLOCK',
  'DCGM_FI_DEV_GPU_TEMP',
  'DCGM_FI_DEV_POWER_USAGE',
  'DCGM_FI_DEV_PCIE_REPLAY_COUNTER',
  'DCGM_FI_DEV_GPU_UTIL',
  'DCGM_FI_DEV_FB_FREE',
  'DCGM_FI_DEV_FB_USED',
  'DCGM_FI_DEV_XID_ERRORS',
  'DCGM_FI_DEV_CLOCK_THROTTLE_REASONS',
];

test('/sim/dcgm and /sim/nodes/<node>/dcgm: every family, every GPU, dcgm-exporter labels', async () => {
  const sim = await startSimulator({
    nodes: 2,
    gpusPerNode: 2,
    gpuModel: 'NVIDIA A100-SXM4-40GB',
    driverVersion: '535.1',
  });
  try {
    const all = await scrape(`${sim.url}/sim/dcgm`);
    assert.deepEqual([...all.keys()], FAMILIES);
    assert.equal(all.get('DCGM_FI_DEV_PCIE_REPLAY_COUNTER')?.type, 'counter');
    const uuids = new Set<string>();
    for (const name of FAMILIES) {
      const samples = all.get(name)?.samples ?? [];
      assert.equal(samples.length, 4, name);
      for (const s of samples) {
        assert.deepEqual(Object.keys(s.labels).sort(), [
          'DCGM_FI_DRIVER_VERSION',
          'Hostname',
          'UUID',
          'device',
          'gpu',
          'modelName',
          'pci_bus_id',
        ]);
        assert.equal(s.labels.modelName, 'NVIDIA A100-SXM4-40GB');
        assert.equal(s.labels.DCGM_FI_DRIVER_VERSION, '535.1');
        assert.equal(s.labels.device, `nvidia${s.labels.gpu}`);
        assert.match(s.labels.UUID ?? '', /^GPU-[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$/);
        uuids.add(s.labels.UUID as string);
      }
    }
    assert.equal(uuids.size, 4);
    const one = await scrape(`${sim.url}/sim/nodes/sim-node-1/dcgm`);
    const hosts = new Set(one.get('DCGM_FI_DEV_SM_CLOCK')?.samples.map((s) => s.labels.Hostname));
    assert.deepEqual([...hosts], ['sim-node-1']);
    const labels = { Hostname: 'sim-node-1', gpu: '1' };
    assert.equal(sampleValue(one, 'DCGM_FI_DEV_SM_CLOCK', labels), 1980);
    assert.equal(sampleValue(one, 'DCGM_FI_DEV_XID_ERRORS', labels), 0);
    assert.equal(sampleValue(one, 'DCGM_FI_DEV_CLOCK_THROTTLE_REASONS', labels), 0);
    assert.equal(
      sampleValue(one, 'DCGM_FI_DEV_FB_USED', labels) + sampleValue(one, 'DCGM_FI_DEV_FB_FREE', labels),
      framebufferOf('NVIDIA A100-SXM4-40GB'),
    );
  } finally {
    await sim.close();
  }
});

test('GPU utilisation, memory and power rise while the batch is busy', async () => {
  const sim = await startSimulator({ ttftMs: 0, itlMs: 30, itlJitterMs: 0, capacity: 2 });
  try {
    const url = `${sim.url}/sim/nodes/sim-node-0/dcgm`;
    const idle = await scrape(url);
    assert.equal(sampleValue(idle, 'DCGM_FI_DEV_GPU_UTIL'), 0);
    const requests = Promise.all([streamChat(sim.url, 'a', 20), streamChat(sim.url, 'b', 20)]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const busy = await scrape(url);
    await requests;
    const detail = JSON.stringify([...busy.values()].map((f) => [f.name, f.samples[0]?.value]));
    assert.ok(sampleValue(busy, 'DCGM_FI_DEV_GPU_UTIL') > 0, detail);
    assert.ok(sampleValue(busy, 'DCGM_FI_DEV_FB_USED') > sampleValue(idle, 'DCGM_FI_DEV_FB_USED'), detail);
    assert.ok(
      sampleValue(busy, 'DCGM_FI_DEV_POWER_USAGE') > sampleValue(idle, 'DCGM_FI_DEV_POWER_USAGE'),
      detail,
    );
    assert.ok(sampleValue(busy, 'DCGM_FI_DEV_GPU_TEMP') >= sampleValue(idle, 'DCGM_FI_DEV_GPU_TEMP'), detail);
  } finally {
    await sim.close();
  }
});

test('framebuffer size from the model name', () => {
  assert.equal(framebufferOf('NVIDIA H100 80GB HBM3'), 81_559);
  assert.equal(framebufferOf('no size here'), 81_559);
  assert.equal(framebufferOf('NVIDIA A100-SXM4-40GB'), 40 * 1024 - 361);
});
