// The plan takes scenarios parsed by the validator: each iteration carries its workload, the recorded plan is unchanged.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jobFromCli } from '../spec/cli-job.js';
import { buildPlan, planIterations } from './build-plan.js';

describe('planIterations', () => {
  it('gives each iteration the parsed scenario it runs, and the trace its path', () => {
    const job = jobFromCli({
      url: 'http://h',
      model: 'm',
      scenarios: ['D(10,20)', 'U(5,9)'],
      concurrency: [1, 4],
      rates: [2],
      trace: 'traces/day.jsonl',
    });
    const planned = planIterations(job);
    assert.deepEqual(
      planned.map(({ plan, workload }) => [plan.index, plan.scenario, plan.mode, workload]),
      [
        [0, 'D(10,20)', 'concurrency', { kind: 'scenario', scenario: { kind: 'D', input: 10, output: 20 } }],
        [1, 'D(10,20)', 'concurrency', { kind: 'scenario', scenario: { kind: 'D', input: 10, output: 20 } }],
        [2, 'D(10,20)', 'rate', { kind: 'scenario', scenario: { kind: 'D', input: 10, output: 20 } }],
        ...[3, 4].map((index) => [
          index,
          'U(5,9)',
          'concurrency',
          {
            kind: 'scenario',
            scenario: { kind: 'U', minInput: 1, maxInput: 5, minOutput: 1, maxOutput: 9, oneGroup: true },
          },
        ]),
        [
          5,
          'U(5,9)',
          'rate',
          {
            kind: 'scenario',
            scenario: { kind: 'U', minInput: 1, maxInput: 5, minOutput: 1, maxOutput: 9, oneGroup: true },
          },
        ],
        [6, 'trace:traces/day.jsonl', 'trace', { kind: 'trace', path: 'traces/day.jsonl' }],
      ],
    );
    // What run.json records is the plan alone, exactly as buildPlan gives it.
    assert.deepEqual(
      planned.map((p) => p.plan),
      buildPlan(job),
    );
    assert.deepEqual(Object.keys(buildPlan(job)[0] ?? {}), [
      'index',
      'scenario',
      'mode',
      'concurrency',
      'max_requests',
      'max_time_s',
      'warmup',
      'max_in_flight',
    ]);
  });
});
