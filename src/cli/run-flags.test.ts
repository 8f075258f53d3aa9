// `run` and `demo` flags, parsed by their one definition: defaults, repeatables and negations as the commands read them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Command } from 'commander';
import {
  DEFAULT_OUT,
  defineDemoCommand,
  defineRunCommand,
  type DemoFlags,
  type RunFlags,
} from './run-flags.js';

function parseRun(args: string[]): { job: string | undefined; flags: RunFlags } {
  let seen: { job: string | undefined; flags: RunFlags } | undefined;
  const program = new Command().exitOverride();
  defineRunCommand(program.command('run')).action((job, flags) => {
    seen = { job, flags };
  });
  program.parse(['run', ...args], { from: 'user' });
  assert.ok(seen);
  return seen;
}

function parseDemo(args: string[]): DemoFlags {
  let seen: DemoFlags | undefined;
  const program = new Command().exitOverride();
  defineDemoCommand(program.command('demo')).action((flags) => {
    seen = flags;
  });
  program.parse(['demo', ...args], { from: 'user' });
  assert.ok(seen);
  return seen;
}

describe('run flags', () => {
  it('defaults: the run folder root, loopback hot metrics, streaming, EOS ignored, preflight on', () => {
    const { job, flags } = parseRun([]);
    assert.equal(job, undefined);
    assert.deepEqual(flags, {
      out: DEFAULT_OUT,
      metricsHost: '127.0.0.1',
      stream: true,
      ignoreEos: true,
      preflight: true,
    });
  });

  it('repeatable flags collect in order; negations read false; values stay text', () => {
    const { job, flags } = parseRun([
      'job.yaml',
      '--scenario',
      'D(1,2)',
      '--scenario',
      'D(3,4)',
      '--slo',
      'p99_ttft_ms<=500',
      '--param',
      'temperature=0',
      '--concurrency',
      '1,4',
      '--no-stream',
      '--no-preflight',
      '--no-warehouse',
      '--max-error-rate',
      '0.2',
      '--json',
    ]);
    assert.equal(job, 'job.yaml');
    assert.deepEqual(flags.scenario, ['D(1,2)', 'D(3,4)']);
    assert.deepEqual(flags.slo, ['p99_ttft_ms<=500']);
    assert.deepEqual(flags.param, ['temperature=0']);
    assert.equal(flags.concurrency, '1,4');
    assert.equal(flags.stream, false);
    assert.equal(flags.preflight, false);
    assert.equal(flags.warehouse, false);
    assert.equal(flags.maxErrorRate, '0.2');
    assert.equal(flags.json, true);
  });

  it('--telemetry is repeatable, each [role=]url kept as written', () => {
    const { flags } = parseRun([
      '--telemetry',
      'gpu=http://127.0.0.1:9400/metrics',
      '--telemetry',
      'http://127.0.0.1:8000/metrics',
    ]);
    assert.deepEqual(flags.telemetry, ['gpu=http://127.0.0.1:9400/metrics', 'http://127.0.0.1:8000/metrics']);
  });

  it('--warehouse takes a path', () => {
    assert.equal(parseRun(['--warehouse', 'w.duckdb']).flags.warehouse, 'w.duckdb');
  });
});

describe('demo flags', () => {
  it('are run output flags, with the same defaults', () => {
    assert.deepEqual(parseDemo([]), { out: DEFAULT_OUT, metricsHost: '127.0.0.1' });
    assert.deepEqual(parseDemo(['--no-warehouse', '--quiet', '--metrics-port', '0']), {
      out: DEFAULT_OUT,
      metricsHost: '127.0.0.1',
      warehouse: false,
      quiet: true,
      metricsPort: '0',
    });
  });

  it('refuses a run-only flag', () => {
    const program = new Command().exitOverride().configureOutput({ writeErr: () => undefined });
    defineDemoCommand(program.command('demo')).action(() => undefined);
    assert.throws(() => program.parse(['demo', '--scenario', 'D(1,2)'], { from: 'user' }), /unknown option/);
  });
});
