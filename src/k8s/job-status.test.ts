// The summary and progress of a BenchmarkJob's status: read field by field from whatever the
// API server holds (wrong types are skipped, long strings and tables bounded), and the exit
// code of each final state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exitCodeOf, isTerminal, jobView, progressKey, progressLine, renderSummary } from './job-status.js';

const resource = (status: unknown): unknown => ({ metadata: { name: 'j', namespace: 'ns' }, status });

test('a finished job: state, run, results, an iterations table with — for what was not measured', () => {
  const view = jobView(
    resource({
      state: 'Completed',
      runId: 'r1',
      artifactManifestDigest: 'sha256:ab',
      results: 's3://b/exp/r1',
      iterations: [
        {
          index: 0,
          scenario: 'D(100,100)',
          concurrency: 4,
          requests: 10,
          errors: 0,
          ttftP50Ms: 12.34,
          ttftP99Ms: 20,
          outputTokensPerS: 1000,
        },
        {
          index: 1,
          scenario: 'D(100,100)',
          rateRps: 2.5,
          requests: 10,
          errors: 10,
          ttftP50Ms: null,
          ttftP99Ms: null,
          outputTokensPerS: null,
        },
      ],
    }),
  );
  const text = renderSummary(view);
  assert.match(text, /^benchmarkjob ns\/j: Completed\n/);
  assert.match(text, /run: r1\n/);
  assert.match(text, /results: s3:\/\/b\/exp\/r1\n/);
  assert.match(text, /0 {2}D\(100,100\) +4 +10 +0 +12\.3 +20\.0 +1000\.0\n/);
  assert.match(text, /1 {2}D\(100,100\) +2\.5 rps +10 +10 +— +— +—\n/);
  assert.doesNotMatch(text, /failed:/);
  assert.equal(exitCodeOf(view.state), 0);
});

test('a failed job shows its failure message, or the runner outcome reason when the controller gave none', () => {
  const withMessage = jobView(
    resource({ state: 'Failed', failureMessage: 'Job failed: BackoffLimitExceeded' }),
  );
  assert.match(renderSummary(withMessage), /failed: Job failed: BackoffLimitExceeded\n/);
  const withOutcome = jobView(
    resource({ state: 'Failed', outcome: { result: 'failed', reason: 'error rate 1.00 > 0.5' } }),
  );
  assert.match(renderSummary(withOutcome), /failed: error rate 1\.00 > 0\.5\n/);
  assert.equal(exitCodeOf('Failed'), 1);
  assert.equal(exitCodeOf('Cancelled'), 130);
  assert.ok(
    isTerminal('Cancelled') && isTerminal('Completed') && !isTerminal('Running') && !isTerminal(null),
  );
});

test('whatever the status holds, the view is bounded and typed', () => {
  const view = jobView(
    resource({
      state: 7,
      details: 'x'.repeat(10_000),
      iterations: Array.from({ length: 600 }, (_, i) => ({ index: i, scenario: 5, requests: 'many' })),
    }),
  );
  assert.equal(view.state, null);
  assert.equal(view.details!.length, 300);
  assert.equal(view.iterations.length, 500);
  assert.equal(view.moreIterations, 100);
  assert.equal(view.iterations[0]!.scenario, '?');
  assert.equal(view.iterations[0]!.requests, null);
  const text = renderSummary(view);
  assert.match(text, /no status yet/);
  assert.match(text, /iterations \(600\):/);
  assert.match(text, /… 100 more/);
  assert.ok(text.length < 100_000);
  assert.equal(jobView(null).name, '?');
  assert.equal(jobView({ metadata: {}, status: [] }).iterations.length, 0);
});

test('the progress line and what counts as a change', () => {
  const running = jobView(
    resource({ state: 'Running', details: 'Running iteration 2/6: D(100,100) concurrency=4' }),
  );
  assert.equal(
    progressLine(running, 41.4),
    'j: Running: Running iteration 2/6: D(100,100) concurrency=4 (41 s)',
  );
  assert.equal(progressLine(jobView(resource(undefined)), 0), 'j: no status yet (0 s)');
  const next = jobView(
    resource({ state: 'Running', details: 'Running iteration 3/6: D(100,100) concurrency=8' }),
  );
  assert.notEqual(progressKey(running), progressKey(next));
  assert.equal(
    progressKey(running),
    progressKey(jobView(resource({ state: 'Running', details: running.details, runId: 'r' }))),
  );
});
