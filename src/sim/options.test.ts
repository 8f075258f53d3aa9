/**
 * Tests of simulator option validation, the `simulate` CLI flag parsing, the
 * deadline scheduler and the seeded distributions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { ValidationError } from '../base/errors.js';
import { parseSimulateFlags, registerSimulateCommand } from '../cli/simulate.js';
import { DEFAULT_SIMULATOR_OPTIONS, resolveSimulatorOptions, validateSimulatorOptions } from './options.js';
import { Prng } from '../base/prng.js';
import { lognormalWithMoments, normalAtLeastZero } from './random.js';
import { DeadlineScheduler, type Scheduled } from './scheduler.js';

test('defaults look like a small model and validate', () => {
  assert.equal(DEFAULT_SIMULATOR_OPTIONS.host, '127.0.0.1');
  assert.equal(DEFAULT_SIMULATOR_OPTIONS.model, 'infermark-sim');
  assert.deepEqual(validateSimulatorOptions({ ...DEFAULT_SIMULATOR_OPTIONS }), []);
  assert.equal(resolveSimulatorOptions({ itlMs: 5 }).itlMs, 5);
});

test('every bad option is reported at once', () => {
  const issues = validateSimulatorOptions({
    capacity: 0,
    errorRate: 2,
    tokensPerChunk: 1.5,
    itlDistribution: 'x' as never,
  });
  assert.deepEqual(issues.map((i) => i.path).sort(), [
    'capacity',
    'errorRate',
    'itlDistribution',
    'tokensPerChunk',
  ]);
  assert.throws(() => resolveSimulatorOptions({ stallMs: -1 }), ValidationError);
  assert.equal(validateSimulatorOptions({ errorRate: 0.6, rate429: 0.6 }).length, 1);
  assert.equal(validateSimulatorOptions({ bogus: 1 } as never)[0]?.message, 'unknown simulator option');
});

test('close after response: a switch and a delay, validated', () => {
  assert.deepEqual(parseSimulateFlags({ closeAfterResponse: true, closeDelayMs: '5' }), {
    closeAfterResponse: true,
    closeDelayMs: 5,
  });
  assert.deepEqual(parseSimulateFlags({}), {});
  assert.equal(resolveSimulatorOptions({}).closeAfterResponse, false);
  assert.deepEqual(
    validateSimulatorOptions({ closeAfterResponse: 'yes' as never, closeDelayMs: -1 }).map((i) => i.path),
    ['closeAfterResponse', 'closeDelayMs'],
  );
  assert.throws(() => parseSimulateFlags({ closeDelayMs: 'soon' }), ValidationError);
});

test('simulate flags: parsed to options, bad ones all listed with their flag names', () => {
  assert.deepEqual(
    parseSimulateFlags({
      port: '0',
      ttftMs: '200',
      rate429: '0.1',
      model: 'm',
      itlDistribution: 'lognormal',
    }),
    {
      port: 0,
      ttftMs: 200,
      rate429: 0.1,
      model: 'm',
      itlDistribution: 'lognormal',
    },
  );
  try {
    parseSimulateFlags({ port: '70000', itlMs: 'abc', capacity: '0', errorRate: '1.5' });
    assert.fail('should throw');
  } catch (error) {
    assert.ok(error instanceof ValidationError);
    assert.equal(error.exitCode, 2);
    assert.equal(error.issues.length, 4);
    assert.match(error.message, /--itl-ms: "abc": must be a number >= 0/);
    assert.match(error.message, /--port: "70000": must be an integer from 0 to 65535/);
  }
});

test('nodes, GPUs and the state faults: defaults keep one healthy node; bounds; flags in kebab-case', () => {
  const d = DEFAULT_SIMULATOR_OPTIONS;
  assert.deepEqual(
    [d.nodes, d.gpusPerNode, d.gpuModel, d.driverVersion],
    [1, 1, 'NVIDIA H100 80GB HBM3', '550.54.15'],
  );
  assert.deepEqual(
    [d.throttle, d.slowNode, d.slowNodeFactor, d.restartAfterRequests, d.restartDowntimeMs, d.cpuThrottleMs],
    [1, -1, 2, 0, 2000, 0],
  );
  assert.deepEqual(
    validateSimulatorOptions({
      nodes: 0,
      gpusPerNode: 9,
      throttle: 0,
      slowNodeFactor: 0.5,
      restartAfterRequests: 1.5,
      cpuThrottleMs: -1,
      gpuModel: '',
      driverVersion: 'x'.repeat(200),
    }).map((i) => i.path),
    [
      'nodes',
      'gpusPerNode',
      'throttle',
      'slowNodeFactor',
      'restartAfterRequests',
      'cpuThrottleMs',
      'gpuModel',
      'driverVersion',
    ],
  );
  assert.match(validateSimulatorOptions({ throttle: 1.5 })[0]?.message ?? '', /> 0 and <= 1/);
  // The slow node must be one of the nodes.
  assert.deepEqual(
    validateSimulatorOptions({ slowNode: 1 }).map((i) => [i.path, i.message]),
    [['slowNode', 'must be -1 or a node index below nodes (1)']],
  );
  assert.deepEqual(validateSimulatorOptions({ nodes: 2, slowNode: 1 }), []);
  assert.deepEqual(
    parseSimulateFlags({
      nodes: '2',
      gpusPerNode: '4',
      gpuModel: 'NVIDIA A100-SXM4-40GB',
      driverVersion: '535.1',
      throttle: '0.5',
      slowNode: '1',
      slowNodeFactor: '3',
      restartAfterRequests: '100',
      restartDowntimeMs: '500',
      cpuThrottleMs: '20',
    }),
    {
      nodes: 2,
      gpusPerNode: 4,
      gpuModel: 'NVIDIA A100-SXM4-40GB',
      driverVersion: '535.1',
      throttle: 0.5,
      slowNode: 1,
      slowNodeFactor: 3,
      restartAfterRequests: 100,
      restartDowntimeMs: 500,
      cpuThrottleMs: 20,
    },
  );
  assert.throws(
    () => parseSimulateFlags({ throttle: '0' }),
    /--throttle: "0": must be a number > 0 and <= 1/,
  );
  assert.throws(() => parseSimulateFlags({ slowNode: '3', nodes: '2' }), /slowNode/);
  assert.throws(() => parseSimulateFlags({ gpuModel: ' ' }), /--gpu-model: " ": must not be empty/);
});

test('registerSimulateCommand adds simulate with a flag for every option', () => {
  const program = new Command();
  registerSimulateCommand(program);
  const simulate = program.commands.find((c) => c.name() === 'simulate');
  assert.ok(simulate);
  const flags = simulate.options.map((o) => o.long);
  for (const flag of [
    '--port',
    '--host',
    '--ttft-ms',
    '--ttft-per-input-token-ms',
    '--itl-ms',
    '--itl-jitter-ms',
    '--capacity',
    '--batch-slowdown',
    '--tokens-per-chunk',
    '--reasoning-tokens',
    '--eos-probability',
    '--error-rate',
    '--rate-429',
    '--disconnect-rate',
    '--stall-rate',
    '--stall-ms',
    '--malformed-rate',
    '--seed',
    '--model',
    '--nodes',
    '--gpus-per-node',
    '--gpu-model',
    '--driver-version',
    '--throttle',
    '--slow-node',
    '--slow-node-factor',
    '--restart-after-requests',
    '--restart-downtime-ms',
    '--cpu-throttle-ms',
  ]) {
    assert.ok(flags.includes(flag), flag);
  }
  // commander's camel-casing must match the option keys parseSimulateFlags reads.
  simulate.action(() => undefined);
  program.parse(['node', 'x', 'simulate', '--rate-429', '0.5', '--ttft-per-input-token-ms', '2']);
  assert.deepEqual(parseSimulateFlags(simulate.opts()), {
    port: 8000,
    host: '127.0.0.1',
    rate429: 0.5,
    ttftPerInputTokenMs: 2,
  });
});

test('scheduler steps items at their deadlines, in order, once per tick', async () => {
  const scheduler = new DeadlineScheduler();
  const order: string[] = [];
  const start = performance.now();
  const item = (name: string, delay: number, steps: number): Scheduled => {
    let left = steps;
    return {
      deadline_ms: start + delay,
      heapIndex: -1,
      step(_now) {
        order.push(`${name}@${(performance.now() - start).toFixed(2)}`);
        if (--left === 0) return false;
        this.deadline_ms += 20;
        return true;
      },
    };
  };
  const b = item('b', 45, 1);
  scheduler.add(item('a', 10, 2));
  scheduler.add(b);
  scheduler.add(item('c', 0, 1));
  const removed = item('d', 5, 1);
  scheduler.add(removed);
  scheduler.remove(removed);
  await new Promise((resolve) => setTimeout(resolve, 80));
  scheduler.close();
  assert.deepEqual(
    order.map((s) => s.split('@')[0]),
    ['c', 'a', 'a', 'b'],
  );
  // Never early by more than the scheduler's 0.5 ms margin; lateness is the machine's business.
  const times = order.map((s) => Number(s.split('@')[1]));
  const deadlines = [0, 10, 30, 45];
  times.forEach((t, i) => assert.ok(t >= (deadlines[i] as number) - 1, order.join(' ')));
});

test('distributions: seeded, truncated normal never negative, lognormal has the asked mean', () => {
  const a = new Prng(5);
  const b = new Prng(5);
  assert.equal(a.nextFloat(), b.nextFloat());
  const rng = new Prng(1);
  let sum = 0;
  for (let i = 0; i < 20000; i++) {
    assert.ok(normalAtLeastZero(rng, 1, 5) >= 0);
    sum += lognormalWithMoments(rng, 15, 3);
  }
  assert.ok(Math.abs(sum / 20000 - 15) < 0.2);
});
