// Cost per request and per million output tokens from a price per hour.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { servingCosts } from './cost.js';

test('price per second over the throughputs', () => {
  // $36/h is 1 cent a second: at 2 req/s half a cent a request, at 500 tokens/s $20 per million.
  assert.deepEqual(servingCosts(36, { request_throughput_rps: 2, output_throughput_tokens_per_s: 500 }), {
    cost_per_request_usd: 0.005,
    cost_per_million_output_tokens_usd: 20,
  });
});

test('no price, or a throughput missing or 0, gives no cost', () => {
  const none = { cost_per_request_usd: null, cost_per_million_output_tokens_usd: null };
  assert.deepEqual(
    servingCosts(null, { request_throughput_rps: 2, output_throughput_tokens_per_s: 5 }),
    none,
  );
  assert.deepEqual(
    servingCosts(36, { request_throughput_rps: 0, output_throughput_tokens_per_s: null }),
    none,
  );
  assert.deepEqual(servingCosts(36, {}), none);
  assert.deepEqual(servingCosts(36, { request_throughput_rps: 4 }), {
    cost_per_request_usd: 0.0025,
    cost_per_million_output_tokens_usd: null,
  });
});
