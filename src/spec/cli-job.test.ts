// Jobs from CLI flags: same schema and rules as files, errors named after the flags.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatIssue, ValidationError } from '../base/errors.js';
import { jobFromCli } from './cli-job.js';

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ValidationError);
    return error.issues.map(formatIssue);
  }
  assert.fail('expected a ValidationError');
}

describe('jobFromCli', () => {
  it('--prefix-tokens and --prefix-groups set spec.sharedPrefix; errors name the flags; a trace refuses it', () => {
    const base = { url: 'http://127.0.0.1:8000', model: 'm' };
    assert.deepEqual(jobFromCli({ ...base, prefixTokens: 512 }).spec.sharedPrefix, {
      tokens: 512,
      groups: 1,
    });
    assert.deepEqual(jobFromCli({ ...base, prefixTokens: 64, prefixGroups: 8 }).spec.sharedPrefix, {
      tokens: 64,
      groups: 8,
    });
    const bad = issuesOf(() => jobFromCli({ ...base, prefixTokens: 0, prefixGroups: 2.5 }));
    assert.ok(
      bad.some((i) => i.includes('--prefix-tokens')),
      bad.join('\n'),
    );
    assert.ok(
      bad.some((i) => i.includes('--prefix-groups')),
      bad.join('\n'),
    );
    const withTrace = issuesOf(() => jobFromCli({ ...base, prefixTokens: 64, trace: 't.jsonl' }));
    assert.ok(
      withTrace.some((i) => /--prefix-tokens.*a trace replays its own shared prefixes/.test(i)),
      withTrace.join('\n'),
    );
  });

  it('builds a valid job with quick defaults', () => {
    const job = jobFromCli({ url: 'http://127.0.0.1:8000', model: 'meta-llama/Llama-3.1-8B-Instruct' });
    assert.equal(job.metadata.name, 'meta-llama-llama-3.1-8b-instruct');
    assert.deepEqual(job.spec.numConcurrency, [1]);
    assert.equal(job.spec.task, 'text-to-text');
    assert.equal(job.spec.maxRequestsPerIteration, 100);
    assert.equal(job.spec.maxTimePerIteration, 10);
    assert.equal(job.spec.endpoint.endpoint?.modelName, 'meta-llama/Llama-3.1-8B-Instruct');
    assert.equal(job.spec.outputLocation, undefined);
    assert.equal(job.spec.trafficScenarios.length, 5);
  });

  it('passes every option through', () => {
    const job = jobFromCli({
      url: 'http://127.0.0.1:8000/v1/chat/completions',
      model: 'm',
      name: 'my-run',
      scenarios: ['D(10,20)', 'U(100,200)'],
      concurrency: [1, 8],
      rates: [2],
      maxRequests: 50,
      maxTimeMinutes: 2,
      seed: 1,
      arrival: 'gamma',
      burstiness: 2,
      warmupRequests: 5,
      slos: ['p99_ttft_ms<=500'],
      tokenizer: 'cl100k_base',
      repeats: 2,
      stream: false,
      timeoutSeconds: 30,
      ignoreEos: false,
      api: 'chat',
      apiKeyEnv: 'OPENAI_API_KEY',
      metricsUrl: 'http://127.0.0.1:8000/metrics',
      params: { temperature: '0' },
      output: 'file:///tmp/out',
    });
    assert.equal(job.metadata.name, 'my-run');
    assert.deepEqual(job.spec.trafficScenarios, ['D(10,20)', 'U(100,200)']);
    assert.deepEqual(job.spec.numConcurrency, [1, 8]);
    assert.deepEqual(job.spec.requestRates, [2]);
    assert.deepEqual(job.spec.arrival, { distribution: 'gamma', burstiness: 2 });
    assert.deepEqual(job.spec.warmup, { requests: 5 });
    assert.deepEqual(job.spec.apiKey, { env: 'OPENAI_API_KEY' });
    assert.equal(job.spec.outputLocation?.storageUri, 'file:///tmp/out');
  });

  it('rates alone: no concurrency iterations', () => {
    const job = jobFromCli({ url: 'http://h', model: 'm', rates: [1, 2] });
    assert.deepEqual(job.spec.numConcurrency, []);
  });

  it('names flags in errors, with indices', () => {
    const lines = issuesOf(() =>
      jobFromCli({
        url: 'localhost:8000',
        model: 'm',
        scenarios: ['D(100,100)', 'N(1,2)'],
        concurrency: [0],
        rates: [-1],
        maxRequests: 0,
        task: 'chat',
        slos: ['ttft<5'],
      }),
    );
    const expected = [
      'command line: --url: "localhost:8000": must start with http:// or https://',
      'command line: --task: "chat": expected one of "text-to-text", "text-to-embeddings", "image-to-text", "image-to-embeddings"',
      'command line: --concurrency[0]: 0: must be ≥ 1',
      'command line: --max-requests: 0: must be ≥ 1',
      'command line: --rate[0]: -1: must be > 0',
      'command line: --scenario[1]: "N(1,2)": expected N(mean_input,stddev_input)/(mean_output,stddev_output)',
      'command line: --slo[0]: "ttft<5": unknown SLO metric "ttft" (did you mean ttft_ms?): expected one of ttft_ms, ttfb_ms, ttfo_ms, tpot_ms, itl_ms, e2e_latency_ms',
    ];
    for (const line of expected)
      assert.ok(lines.includes(line), `missing:\n  ${line}\ngot:\n  ${lines.join('\n  ')}`);
    assert.equal(lines.length, expected.length, lines.join('\n'));
  });

  it('refuses limits beyond what a Node timer can hold (they would fire at once)', () => {
    assert.deepEqual(
      issuesOf(() =>
        jobFromCli({
          url: 'http://h',
          model: 'm',
          maxTimeMinutes: 40000,
          timeoutSeconds: 3_000_000,
          warmupSeconds: 3_000_000,
        }),
      ),
      [
        'command line: --max-time: 40000: must be ≤ 35791',
        'command line: --warmup-seconds: 3000000: must be ≤ 2147483',
        'command line: --timeout: 3000000: must be ≤ 2147483',
      ],
    );
  });

  it('two API key sources name both flags', () => {
    assert.deepEqual(
      issuesOf(() => jobFromCli({ url: 'http://h', model: 'm', apiKeyEnv: 'K', apiKeyFile: '/k' })),
      [
        'command line: --api-key-env/--api-key-file: expected exactly one of env, file or secretRef, got env and file',
      ],
    );
  });
});
