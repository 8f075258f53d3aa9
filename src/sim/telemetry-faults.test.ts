/**
 * Tests of the faults that are a node's state or an event in time (throttled clocks, a
 * queue, a slow node, an engine restart, CPU-throttled preprocessing): each one's node
 * condition, and on a real simulator on 127.0.0.1 its effect both in what the simulator
 * wrote when (the write log) and in the telemetry family a diagnosis reads. Timing is
 * compared with a baseline simulator or with the simulator's own log, never with the
 * nominal settings alone, and with room for a loaded host.
 */
import { test } from 'node:test';
import { performance } from 'node:perf_hooks';
import assert from 'node:assert/strict';
import { resolveSimulatorOptions } from './options.js';
import { startSimulator, type SimulatorHandle, type SimulatorOptions } from './server.js';
import { nodeCondition, THROTTLE_REASON } from './telemetry-faults.js';
import { sampleValue, scrape, type PromFamily } from './testing/prom-text.js';
import { streamChat, waitFor } from './testing/requests.js';
import { writesById, type RequestWrites } from './write-log.js';

const STEADY: Partial<SimulatorOptions> = {
  ttftMs: 30,
  ttftPerInputTokenMs: 0,
  itlMs: 20,
  itlJitterMs: 0,
  batchSlowdown: 0,
  writeLogRequests: 32,
};

async function withSim(options: Partial<SimulatorOptions>, body: (sim: SimulatorHandle) => Promise<void>) {
  const sim = await startSimulator(options);
  try {
    await body(sim);
  } finally {
    await sim.close();
  }
}

function logOf(sim: SimulatorHandle): Map<string, RequestWrites> {
  const log = sim.writeLog();
  assert.ok(log, 'the write log is on');
  return writesById(log);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/** Gaps between the content events the simulator wrote. */
function gaps(writes: RequestWrites): number[] {
  return writes.token_ms.slice(1).map((t, i) => t - (writes.token_ms[i] as number));
}

/** From entering the batch to the first content event. */
function prefill(writes: RequestWrites): number {
  return (writes.token_ms[0] as number) - (writes.admitted_ms as number);
}

function histogramMean(families: Map<string, PromFamily>, name: string): number {
  return sampleValue(families, `${name}_sum`) / sampleValue(families, `${name}_count`);
}

function gpu(families: Map<string, PromFamily>, name: string, node: string): number {
  return sampleValue(families, name, { Hostname: node, gpu: '0' });
}

test('node conditions: healthy by default; throttle on every node; the slow node alone; both combine', () => {
  const healthy = nodeCondition(resolveSimulatorOptions({}), 0);
  assert.deepEqual(healthy, {
    faults: [],
    slowdown: 1,
    sm_clock_MHz: 1980,
    minTemperature_C: 0,
    throttleReasons: 0,
    pcieReplaysPerS: 0,
  });
  const throttled = resolveSimulatorOptions({ throttle: 0.5, nodes: 2 });
  for (const index of [0, 1]) {
    const c = nodeCondition(throttled, index);
    assert.deepEqual([c.faults, c.slowdown, c.sm_clock_MHz, c.minTemperature_C], [['throttle'], 2, 990, 87]);
    assert.equal(c.throttleReasons, THROTTLE_REASON.hwSlowdown | THROTTLE_REASON.hwThermalSlowdown);
    assert.equal(c.throttleReasons, 0x48);
  }
  const slow = resolveSimulatorOptions({ nodes: 3, slowNode: 2, slowNodeFactor: 4 });
  assert.equal(nodeCondition(slow, 0).slowdown, 1);
  const c = nodeCondition(slow, 2);
  assert.deepEqual([c.faults, c.slowdown, c.sm_clock_MHz], [['slowNode'], 4, 495]);
  assert.ok(c.pcieReplaysPerS > 0 && c.minTemperature_C > 0);
  const both = nodeCondition(resolveSimulatorOptions({ nodes: 2, slowNode: 1, throttle: 0.5 }), 1);
  assert.deepEqual([both.slowdown, both.sm_clock_MHz, both.minTemperature_C], [4, 495, 87]);
  assert.equal(both.throttleReasons, 0x48 | 0x20);
});

test('throttle: prefill and decode gaps stretch (write log), ITL rises and the SM clock drops (telemetry)', async () => {
  const run = async (throttle: number) => {
    let result: { gap_ms: number; prefill_ms: number; itl_s: number; log_itl_s: number } | undefined;
    let dcgm: Map<string, PromFamily> | undefined;
    // A long prefill, so a loaded host's delays (which only add) stay small beside it.
    await withSim({ ...STEADY, ttftMs: 120, throttle }, async (sim) => {
      for (let i = 0; i < 2; i++) assert.equal((await streamChat(sim.url, `t${i}`, 8)).status, 200);
      const log = logOf(sim);
      const writes = [log.get('t0'), log.get('t1')] as RequestWrites[];
      const logGaps = writes.flatMap(gaps);
      const metrics = await scrape(`${sim.url}/metrics`);
      result = {
        gap_ms: median(logGaps),
        prefill_ms: Math.min(...writes.map(prefill)),
        itl_s: histogramMean(metrics, 'vllm:inter_token_latency_seconds'),
        log_itl_s: logGaps.reduce((a, b) => a + b, 0) / logGaps.length / 1000,
      };
      dcgm = await scrape(`${sim.url}/sim/dcgm`);
    });
    return { ...(result as NonNullable<typeof result>), dcgm: dcgm as Map<string, PromFamily> };
  };
  const base = await run(1);
  const slow = await run(0.5);
  const detail = JSON.stringify({ base: { ...base, dcgm: 0 }, slow: { ...slow, dcgm: 0 } });
  assert.ok(slow.gap_ms >= 1.5 * base.gap_ms, detail);
  assert.ok(slow.prefill_ms >= 1.5 * base.prefill_ms, detail);
  assert.ok(slow.itl_s >= 1.5 * base.itl_s, detail);
  // The server's ITL histogram is what it actually wrote.
  for (const r of [base, slow])
    assert.ok(Math.abs(r.itl_s - r.log_itl_s) < 0.005 + 0.1 * r.log_itl_s, detail);
  assert.equal(gpu(base.dcgm, 'DCGM_FI_DEV_SM_CLOCK', 'sim-node-0'), 1980);
  assert.equal(gpu(slow.dcgm, 'DCGM_FI_DEV_SM_CLOCK', 'sim-node-0'), 990);
  assert.equal(gpu(base.dcgm, 'DCGM_FI_DEV_CLOCK_THROTTLE_REASONS', 'sim-node-0'), 0);
  assert.equal(gpu(slow.dcgm, 'DCGM_FI_DEV_CLOCK_THROTTLE_REASONS', 'sim-node-0'), 0x48);
  assert.ok(gpu(base.dcgm, 'DCGM_FI_DEV_GPU_TEMP', 'sim-node-0') < 87);
  assert.equal(gpu(slow.dcgm, 'DCGM_FI_DEV_GPU_TEMP', 'sim-node-0'), 87);
});

test('queue (capacity): requests wait per node, in the write log and in num_requests_waiting and queue time', async () => {
  await withSim({ ...STEADY, itlMs: 50, nodes: 2, capacity: 1 }, async (sim) => {
    const all = Promise.all([0, 1, 2, 3].map((i) => streamChat(sim.url, `q${i}`, 6)));
    let perNode: number[] = [];
    await waitFor('one request waiting on each node', async () => {
      perNode = [];
      for (const node of ['sim-node-0', 'sim-node-1']) {
        perNode.push(
          sampleValue(await scrape(`${sim.url}/sim/nodes/${node}/metrics`), 'vllm:num_requests_waiting'),
        );
      }
      return perNode.every((w) => w === 1);
    });
    const whole = await scrape(`${sim.url}/metrics`);
    assert.ok(sampleValue(whole, 'vllm:num_requests_waiting') >= 1);
    assert.ok((await all).every((o) => o.status === 200));
    const log = logOf(sim);
    for (const node of ['sim-node-0', 'sim-node-1']) {
      const writes = [...log.values()].filter((w) => w.node === node);
      assert.equal(writes.length, 2);
      const waited_s = writes.map((w) => ((w.admitted_ms as number) - w.arrived_ms) / 1000);
      // The second one waited for the first one's whole stream (6 tokens, 50 ms apart).
      assert.ok(Math.max(...waited_s) >= 0.2, JSON.stringify(waited_s));
      const metrics = await scrape(`${sim.url}/sim/nodes/${node}/metrics`);
      const queued_s = sampleValue(metrics, 'vllm:request_queue_time_seconds_sum');
      const logged_s = waited_s.reduce((a, b) => a + b, 0);
      assert.ok(
        Math.abs(queued_s - logged_s) < 0.01,
        `${node}: metrics ${queued_s} s, write log ${logged_s} s`,
      );
    }
  });
});

test('slow node: its decode gaps stretch and only its GPUs show a low clock, heat, a throttle reason and PCIe replays', async () => {
  await withSim({ ...STEADY, nodes: 2, slowNode: 1, slowNodeFactor: 2 }, async (sim) => {
    for (let i = 0; i < 4; i++) {
      const outcome = await streamChat(sim.url, `s${i}`, 8);
      assert.equal(outcome.node, `sim-node-${i % 2}`);
    }
    const log = logOf(sim);
    const gapOf = (node: string) => median([...log.values()].filter((w) => w.node === node).flatMap(gaps));
    assert.ok(
      gapOf('sim-node-1') >= 1.5 * gapOf('sim-node-0'),
      `${gapOf('sim-node-1')} vs ${gapOf('sim-node-0')}`,
    );
    const itl = async (node: string) =>
      histogramMean(await scrape(`${sim.url}/sim/nodes/${node}/metrics`), 'vllm:inter_token_latency_seconds');
    assert.ok((await itl('sim-node-1')) >= 1.5 * (await itl('sim-node-0')));
    const dcgm = await scrape(`${sim.url}/sim/dcgm`);
    assert.equal(gpu(dcgm, 'DCGM_FI_DEV_SM_CLOCK', 'sim-node-0'), 1980);
    assert.equal(gpu(dcgm, 'DCGM_FI_DEV_SM_CLOCK', 'sim-node-1'), 990);
    assert.ok(
      gpu(dcgm, 'DCGM_FI_DEV_GPU_TEMP', 'sim-node-1') > gpu(dcgm, 'DCGM_FI_DEV_GPU_TEMP', 'sim-node-0'),
    );
    assert.equal(gpu(dcgm, 'DCGM_FI_DEV_CLOCK_THROTTLE_REASONS', 'sim-node-0'), 0);
    assert.equal(
      gpu(dcgm, 'DCGM_FI_DEV_CLOCK_THROTTLE_REASONS', 'sim-node-1'),
      THROTTLE_REASON.swThermalSlowdown,
    );
    assert.equal(gpu(dcgm, 'DCGM_FI_DEV_PCIE_REPLAY_COUNTER', 'sim-node-0'), 0);
    assert.ok(gpu(dcgm, 'DCGM_FI_DEV_PCIE_REPLAY_COUNTER', 'sim-node-1') > 0);
    assert.equal(gpu(dcgm, 'DCGM_FI_DEV_XID_ERRORS', 'sim-node-1'), 0);
  });
});

test('restart: a request arriving in the downtime waits for it (no error), the metrics start again from zero', async () => {
  const downtime_ms = 500;
  await withSim(
    { ...STEADY, ttftMs: 10, itlMs: 10, nodes: 2, restartAfterRequests: 2, restartDowntimeMs: downtime_ms },
    async (sim) => {
      assert.equal((await streamChat(sim.url, 'before', 4)).status, 200);
      const before = await scrape(`${sim.url}/metrics`);
      assert.equal(sampleValue(before, 'vllm:e2e_request_latency_seconds_count'), 1);
      const started_s = sampleValue(before, 'process_start_time_seconds');
      // The second admitted request triggers the restart; it was in flight and finishes.
      assert.equal((await streamChat(sim.url, 'trigger', 4)).status, 200);
      const late = streamChat(sim.url, 'late', 4);
      await waitFor('the late request waiting for the engine', async () => {
        return sampleValue(await scrape(`${sim.url}/metrics`), 'vllm:num_requests_waiting') === 1;
      });
      assert.equal((await late).status, 200);

      const log = logOf(sim);
      const trigger = log.get('trigger') as RequestWrites;
      const waited = log.get('late') as RequestWrites;
      assert.equal(waited.outcome, 'completed');
      // The engine came back downtime_ms after the restart, which followed the trigger's admission.
      assert.ok(
        (waited.admitted_ms as number) >= (trigger.admitted_ms as number) + downtime_ms - 2,
        JSON.stringify({ trigger, waited }),
      );

      const after = await scrape(`${sim.url}/metrics`);
      assert.ok(sampleValue(after, 'process_start_time_seconds') > started_s);
      // A new process: only what finished after the restart (the trigger and the late one), not 'before'.
      assert.equal(sampleValue(after, 'vllm:e2e_request_latency_seconds_count'), 2);
      assert.equal(sim.stats().completed, 3);
      assert.ok(sampleValue(after, 'vllm:request_queue_time_seconds_sum') >= (downtime_ms - 150) / 1000);
      const cluster = await scrape(`${sim.url}/sim/cluster`);
      for (const pod of ['sim-pod-0', 'sim-pod-1']) {
        assert.equal(sampleValue(cluster, 'kube_pod_container_status_restarts_total', { pod }), 1);
      }
      assert.equal(sim.stats().restarts, 2);
      assert.deepEqual(
        sim.stats().nodes.map((n) => n.restarts),
        [1, 1],
      );
    },
  );
});

test('CPU throttle: requests reach the batch late (write log) while the GPU idles and CFS throttling rises', async () => {
  const delay_ms = 600;
  const run = async (options: Partial<SimulatorOptions>) => {
    let seen: Record<string, number> = {};
    await withSim({ ...STEADY, capacity: 2, itlMs: 10, ...options }, async (sim) => {
      const request = streamChat(sim.url, 'c', 4);
      await new Promise((resolve) => setTimeout(resolve, 250));
      const during = await scrape(`${sim.url}/metrics`);
      const dcgm = await scrape(`${sim.url}/sim/nodes/sim-node-0/dcgm`);
      assert.equal((await request).status, 200);
      const writes = logOf(sim).get('c') as RequestWrites;
      const cluster = await scrape(`${sim.url}/sim/cluster`);
      const metrics = await scrape(`${sim.url}/metrics`);
      const pod = { pod: 'sim-pod-0' };
      seen = {
        running: sampleValue(during, 'vllm:num_requests_running'),
        util: sampleValue(dcgm, 'DCGM_FI_DEV_GPU_UTIL'),
        reached_ms: (writes.admitted_ms as number) - writes.arrived_ms,
        throttled: sampleValue(cluster, 'container_cpu_cfs_throttled_periods_total', pod),
        periods: sampleValue(cluster, 'container_cpu_cfs_periods_total', pod),
        queue_s: sampleValue(metrics, 'vllm:request_queue_time_seconds_sum'),
        e2e_s: sampleValue(metrics, 'vllm:e2e_request_latency_seconds_sum'),
      };
    });
    return seen;
  };
  // The baseline's prefill lasts as long as the fault's preprocessing, so both are in flight when scraped.
  const base = await run({ ttftMs: delay_ms });
  const slow = await run({ cpuThrottleMs: delay_ms });
  const detail = JSON.stringify({ base, slow });
  assert.ok((base.reached_ms as number) < 50 && (slow.reached_ms as number) >= delay_ms - 1, detail);
  assert.equal(base.running, 1, detail);
  assert.equal(slow.running, 0, detail);
  assert.ok((base.util as number) > 0 && slow.util === 0, detail);
  assert.equal(base.throttled, 0, detail);
  assert.ok(
    (slow.throttled as number) >= 4 && (slow.throttled as number) <= (slow.periods as number),
    detail,
  );
  // Preprocessing is not server queue time, but it is part of the request's latency.
  assert.ok((slow.queue_s as number) < 0.05 && (slow.e2e_s as number) >= delay_ms / 1000, detail);
});

test('a client gone during preprocessing never reaches the batch; closing during a restart does not wait for it', async () => {
  const sim = await startSimulator({
    ...STEADY,
    cpuThrottleMs: 300,
    restartAfterRequests: 1,
    restartDowntimeMs: 60_000,
  });
  const controller = new AbortController();
  const request = fetch(`${sim.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true }),
    signal: controller.signal,
  });
  await waitFor('the request in preprocessing', async () => sim.stats().requests === 1);
  controller.abort();
  await assert.rejects(request);
  await waitFor('the cancellation', async () => sim.stats().cancelled === 1);
  await new Promise((resolve) => setTimeout(resolve, 400));
  const stats = sim.stats();
  assert.deepEqual([stats.running, stats.waiting, stats.completed, stats.restarts], [0, 0, 0, 1]);
  const started_ms = performance.now();
  await sim.close();
  assert.ok(performance.now() - started_ms < 5000, 'close did not wait for the 60 s downtime');
});
