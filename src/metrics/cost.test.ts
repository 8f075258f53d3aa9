// Cost per request and per million input and output tokens from a price per hour, and where the price comes from.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pricePerHour, servingCosts } from './cost.js';

test('price per second over the throughputs', () => {
  // $36/h is 1 cent a second: at 2 req/s half a cent a request, at 500 tokens/s $20 per million.
  assert.deepEqual(
    servingCosts(36, {
      request_throughput_rps: 2,
      input_throughput_tokens_per_s: 2000,
      output_throughput_tokens_per_s: 500,
    }),
    {
      cost_per_request_usd: 0.005,
      cost_per_million_input_tokens_usd: 5,
      cost_per_million_output_tokens_usd: 20,
    },
  );
});

test('no price, or a throughput missing or 0, gives no cost', () => {
  const none = {
    cost_per_request_usd: null,
    cost_per_million_input_tokens_usd: null,
    cost_per_million_output_tokens_usd: null,
  };
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
    ...none,
    cost_per_request_usd: 0.0025,
  });
});

test('the price: costPerHourUsd wins, then gpuHourUsd × gpuCount, then the table entry × gpuCount', () => {
  const serviceMetadata = { engine: 'vLLM', version: '0.6', gpuType: 'H100', gpuCount: 8 } as const;
  const table = { H100: 2.5, A100: 1.2 };
  assert.equal(
    pricePerHour({ costPerHourUsd: 30, cost: { gpuHourUsd: 2 }, serviceMetadata }, table)?.per_hour_usd,
    30,
  );
  assert.deepEqual(pricePerHour({ cost: { gpuHourUsd: 2 }, serviceMetadata }, table), {
    per_hour_usd: 16,
    source: 'gpuHourUsd 2 × gpuCount 8',
  });
  assert.deepEqual(pricePerHour({ cost: { priceTable: 'prices.yaml' }, serviceMetadata }, table), {
    per_hour_usd: 20,
    source: 'priceTable prices.yaml H100 2.5 × gpuCount 8',
  });
  assert.equal(pricePerHour({}, table), null);
  assert.equal(pricePerHour({ cost: { gpuHourUsd: 2 } }, null), null);
});
