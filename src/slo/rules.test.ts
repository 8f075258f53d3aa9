/**
 * The exported rules as Prometheus reads them: `promtool check rules` parses them, and
 * `promtool test rules` replays input series through them and checks which alerts fire:
 * the fast-burn page fires when half the requests miss the SLO, the slow-burn ticket
 * when a few percent do for hours (a page at 8%: the 6h/30m pair), neither when the misses stay within the budget, and
 * the page stops once the burning does.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { stringify } from 'yaml';
import { parseSlo } from '../spec/slo.js';
import type { Slo } from '../spec/slo-types.js';
import { leMatcher, planExport, type ExportPlan } from './export-plan.js';
import { alertRules, recordingRules, rulesYaml } from './rules.js';
import { promtool, scratch } from './testing/promtool.js';

const slo = (text: string): Slo => {
  const parsed = parseSlo(text);
  assert.ok(parsed.ok, text);
  return parsed.slo;
};

const plan = planExport([slo('p99_ttft_ms<=100'), slo('p99_e2e_latency_ms<=1000')], {
  engine: 'vllm',
  model: 'm',
  availability: 0.999,
});

/** The alerts the rules would raise for `name`, with the labels and annotations promtool expects. */
function expected(
  p: ExportPlan,
  name: string,
): { exp_labels: Record<string, string>; exp_annotations: Record<string, string> } {
  const rule = alertRules(p).find((a) => a.alert === name);
  assert.ok(rule, name);
  return { exp_labels: { alertname: name, ...rule.labels }, exp_annotations: rule.annotations };
}

test('promtool check rules accepts the rules of every engine that has a histogram', () => {
  const { dir, done } = scratch('infermark-rules-');
  try {
    for (const engine of ['vllm', 'sglang', 'tgi'] as const) {
      const p = planExport([slo('p99_ttft_ms<=500'), slo('p95_e2e_latency_ms<=2000')], {
        engine,
        model: 'meta-llama/Llama-3.1-8B-Instruct',
        selector: 'namespace="prod"',
        ...(engine === 'sglang' ? {} : { availability: 0.999 }),
      });
      const file = `${engine}.yaml`;
      writeFileSync(join(dir, file), rulesYaml(p, ['header']));
      const result = promtool(['check', 'rules', file], dir);
      assert.equal(result.code, 0, `${engine}: ${result.output}`);
      const count = recordingRules(p).length + alertRules(p).length;
      assert.match(result.output, new RegExp(`SUCCESS: ${count} rules found`), result.output);
    }
  } finally {
    done();
  }
});

test('the SLI counts up to the bucket at or below the threshold, and says when it is not a boundary', () => {
  const p = planExport([slo('p99_ttft_ms<=100'), slo('p99_ttft_ms<=241'), slo('p99_ttfb_ms<=10')], {
    engine: 'vllm',
    model: 'm',
  });
  assert.deepEqual(
    p.targets.map((t) => [t.slo, t.le_s, t.note === null]),
    [
      ['p99_ttft_ms<=100', 0.1, true],
      ['p99_ttft_ms<=241', 0.1, false],
    ],
  );
  assert.match(p.targets[1]?.note ?? '', /a threshold of 250 ms would be measured exactly/);
  assert.match(p.skipped[0] ?? '', /ttfb_ms: no serving engine exposes a per-request histogram/);
  assert.equal(leMatcher(1), 'le=~"1(\\\\.0)?"');
  assert.equal(leMatcher(0.25), 'le=~"0\\\\.25"');
  assert.throws(
    () => planExport([slo('p99_ttft_ms<=500')], { engine: 'llamacpp', model: 'm' }),
    /no SLO can be exported/,
  );
  assert.throws(
    () => planExport([slo('p99_ttft_ms<=500')], { engine: 'vllm', model: 'm', selector: 'x' }),
    /--selector/,
  );
});

test('promtool test rules: the alerts fire when the SLI burns, and not otherwise', () => {
  const { dir, done } = scratch('infermark-rules-test-');
  try {
    writeFileSync(join(dir, 'rules.yaml'), rulesYaml(plan));
    const ttft = (le: string): string => `vllm:time_to_first_token_seconds_bucket{model_name="m",le="${le}"}`;
    const e2e = (le: string): string => `vllm:e2e_request_latency_seconds_bucket{model_name="m",le="${le}"}`;
    const tests = [
      {
        // 100 requests a minute. TTFT: all within 100 ms for an hour, then half of them slower for
        // two hours, then all fast again. E2E (le written "1.0", as Python's client does): 0.5% slow
        // throughout, half the 1% budget. Aborts: none.
        interval: '1m',
        input_series: [
          { series: ttft('0.1'), values: '0+100x60 6050+50x119 12050+100x60' },
          { series: 'vllm:time_to_first_token_seconds_count{model_name="m"}', values: '0+100x240' },
          { series: e2e('1.0'), values: '0+99.5x240' },
          { series: 'vllm:e2e_request_latency_seconds_count{model_name="m"}', values: '0+100x240' },
          {
            series: 'vllm:request_success_total{model_name="m",finished_reason="stop"}',
            values: '0+100x240',
          },
          { series: 'vllm:request_success_total{model_name="m",finished_reason="abort"}', values: '0+0x240' },
        ],
        alert_rule_test: [
          // Within budget: nothing.
          { eval_time: '50m', alertname: 'InfermarkTtftSloFastBurn', exp_alerts: [] },
          { eval_time: '50m', alertname: 'InfermarkTtftSloSlowBurn', exp_alerts: [] },
          // Half the requests miss for 40 minutes: 1h and 5m windows both above 14.4 × 1%.
          {
            eval_time: '100m',
            alertname: 'InfermarkTtftSloFastBurn',
            exp_alerts: [expected(plan, 'InfermarkTtftSloFastBurn')],
          },
          {
            eval_time: '100m',
            alertname: 'InfermarkTtftSloSlowBurn',
            exp_alerts: [expected(plan, 'InfermarkTtftSloSlowBurn')],
          },
          // Half an hour after the misses stopped both short windows (5m, 30m) are clean: the page ends.
          { eval_time: '215m', alertname: 'InfermarkTtftSloFastBurn', exp_alerts: [] },
          // E2E misses stay at half the budget: never an alert.
          { eval_time: '100m', alertname: 'InfermarkE2eSloFastBurn', exp_alerts: [] },
          { eval_time: '230m', alertname: 'InfermarkE2eSloSlowBurn', exp_alerts: [] },
          { eval_time: '230m', alertname: 'InfermarkAvailabilitySloFastBurn', exp_alerts: [] },
          // The SLO's bucket is there: its guard is quiet.
          { eval_time: '100m', alertname: 'InfermarkTtftSliBucketMissing', exp_alerts: [] },
        ],
        promql_expr_test: [
          {
            expr: 'infermark:slo_errors_per_request:ratio_rate5m{sli="ttft"}',
            eval_time: '100m',
            exp_samples: [
              {
                labels:
                  'infermark:slo_errors_per_request:ratio_rate5m{model="m",slo="p99_ttft_ms<=100",sli="ttft"}',
                value: 0.5,
              },
            ],
          },
          {
            expr: 'infermark:slo_errors_per_request:ratio_rate5m{sli="e2e"}',
            eval_time: '100m',
            exp_samples: [
              {
                labels:
                  'infermark:slo_errors_per_request:ratio_rate5m{model="m",slo="p99_e2e_latency_ms<=1000",sli="e2e"}',
                value: 1 - 0.995,
              },
            ],
          },
        ],
      },
      {
        // 4% of requests slow for hours (4 × the budget): a ticket (3× over 1d and 2h), not a page.
        interval: '1m',
        input_series: [
          { series: ttft('0.1'), values: '0+96x300' },
          { series: 'vllm:time_to_first_token_seconds_count{model_name="m"}', values: '0+100x300' },
        ],
        alert_rule_test: [
          { eval_time: '250m', alertname: 'InfermarkTtftSloFastBurn', exp_alerts: [] },
          {
            eval_time: '250m',
            alertname: 'InfermarkTtftSloSlowBurn',
            exp_alerts: [expected(plan, 'InfermarkTtftSloSlowBurn')],
          },
        ],
      },
      {
        // 8% slow for hours: below the 14.4× of the 1h pair, above the 6× of 6h and 30m: a page.
        interval: '1m',
        input_series: [
          { series: ttft('0.1'), values: '0+92x300' },
          { series: 'vllm:time_to_first_token_seconds_count{model_name="m"}', values: '0+100x300' },
        ],
        alert_rule_test: [
          {
            eval_time: '250m',
            alertname: 'InfermarkTtftSloFastBurn',
            exp_alerts: [expected(plan, 'InfermarkTtftSloFastBurn')],
          },
        ],
      },
      {
        // An engine whose TTFT buckets have no 0.1 s boundary (another version's): the burn
        // alerts cannot see anything, so the guard says so instead of staying silent.
        interval: '1m',
        input_series: [
          { series: ttft('0.25'), values: '0+50x120' },
          { series: 'vllm:time_to_first_token_seconds_count{model_name="m"}', values: '0+100x120' },
        ],
        alert_rule_test: [
          { eval_time: '90m', alertname: 'InfermarkTtftSloFastBurn', exp_alerts: [] },
          {
            eval_time: '90m',
            alertname: 'InfermarkTtftSliBucketMissing',
            exp_alerts: [expected(plan, 'InfermarkTtftSliBucketMissing')],
          },
        ],
      },
      {
        // 2% of requests aborted against a 0.1% availability budget: 20×, a page.
        interval: '1m',
        input_series: [
          { series: 'vllm:request_success_total{model_name="m",finished_reason="stop"}', values: '0+98x120' },
          { series: 'vllm:request_success_total{model_name="m",finished_reason="abort"}', values: '0+2x120' },
        ],
        alert_rule_test: [
          {
            eval_time: '90m',
            alertname: 'InfermarkAvailabilitySloFastBurn',
            exp_alerts: [expected(plan, 'InfermarkAvailabilitySloFastBurn')],
          },
        ],
      },
    ];
    writeFileSync(
      join(dir, 'rules.test.yaml'),
      stringify({ rule_files: ['rules.yaml'], evaluation_interval: '1m', tests }, { lineWidth: 0 }),
    );
    const result = promtool(['test', 'rules', 'rules.test.yaml'], dir);
    assert.equal(result.code, 0, result.output);
    assert.match(result.output, /SUCCESS/);
  } finally {
    done();
  }
});

test('promtool test rules fails when an alert is expected that the rules do not raise (the check can fail)', () => {
  const { dir, done } = scratch('infermark-rules-neg-');
  try {
    writeFileSync(join(dir, 'rules.yaml'), rulesYaml(plan));
    const tests = [
      {
        interval: '1m',
        input_series: [
          { series: 'vllm:time_to_first_token_seconds_bucket{model_name="m",le="0.1"}', values: '0+100x120' },
          { series: 'vllm:time_to_first_token_seconds_count{model_name="m"}', values: '0+100x120' },
        ],
        alert_rule_test: [
          {
            eval_time: '90m',
            alertname: 'InfermarkTtftSloFastBurn',
            exp_alerts: [expected(plan, 'InfermarkTtftSloFastBurn')],
          },
        ],
      },
    ];
    writeFileSync(
      join(dir, 't.yaml'),
      stringify({ rule_files: ['rules.yaml'], evaluation_interval: '1m', tests }),
    );
    const result = promtool(['test', 'rules', 't.yaml'], dir);
    assert.notEqual(result.code, 0, result.output);
  } finally {
    done();
  }
});
