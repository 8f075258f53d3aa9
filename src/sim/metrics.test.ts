/**
 * Tests of the simulator's vLLM families beyond the basic counts (server.test.ts has
 * those): preemptions, prefix-cache lookups, prefill, decode and inter-token histograms
 * observed from what the simulator actually wrote, and the process start time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startSimulator } from './server.js';
import { sampleValue, scrape } from './testing/prom-text.js';
import { streamChat } from './testing/requests.js';
import type { RequestWrites } from './write-log.js';

test('/metrics: phase and inter-token histograms agree with the write log; prefix cache; preemptions; start time', async () => {
  const opened_s = Date.now() / 1000;
  const sim = await startSimulator({
    ttftMs: 20,
    ttftPerInputTokenMs: 0,
    itlMs: 10,
    itlJitterMs: 0,
    writeLogRequests: 4,
  });
  try {
    const tokens = 6;
    assert.equal((await streamChat(sim.url, 'one', tokens)).status, 200);
    const m = await scrape(`${sim.url}/metrics`);
    const writes = sim.writeLog()?.requests[0] as RequestWrites;
    const admitted_ms = writes.admitted_ms as number;
    const first_ms = writes.token_ms[0] as number;
    const last_ms = writes.token_ms[tokens - 1] as number;
    // Observed when the step began, logged when its write was handed to the socket: a loaded
    // host can put a few milliseconds between the two.
    const near = (metric: number, logged_ms: number, what: string) =>
      assert.ok(
        Math.abs(metric - logged_ms / 1000) < 0.015 + 0.1 * (logged_ms / 1000),
        `${what}: ${metric} s vs ${logged_ms} ms written`,
      );
    assert.equal(sampleValue(m, 'vllm:request_prefill_time_seconds_count'), 1);
    near(sampleValue(m, 'vllm:request_prefill_time_seconds_sum'), first_ms - admitted_ms, 'prefill');
    near(sampleValue(m, 'vllm:request_decode_time_seconds_sum'), last_ms - first_ms, 'decode');
    assert.equal(sampleValue(m, 'vllm:inter_token_latency_seconds_count'), tokens - 1);
    near(sampleValue(m, 'vllm:inter_token_latency_seconds_sum'), last_ms - first_ms, 'itl');
    assert.equal(m.get('vllm:inter_token_latency_seconds')?.type, 'histogram');
    assert.equal(sampleValue(m, 'vllm:num_preemptions_total'), 0);
    assert.equal(
      sampleValue(m, 'vllm:prefix_cache_queries_total'),
      sampleValue(m, 'vllm:prompt_tokens_total'),
    );
    assert.equal(sampleValue(m, 'vllm:prefix_cache_hits_total'), 0);
    const start_s = sampleValue(m, 'process_start_time_seconds');
    assert.ok(start_s >= opened_s - 1 && start_s <= Date.now() / 1000, String(start_s));
    assert.equal(m.get('process_start_time_seconds')?.type, 'gauge');
  } finally {
    await sim.close();
  }
});
