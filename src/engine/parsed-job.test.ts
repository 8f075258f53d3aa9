/**
 * The engine trusts the validated job: it runs the scenarios and judges the SLOs the
 * validator parsed, and refuses nothing it is given (no "unvalidated" path is left).
 * The job's strings are changed after validation on purpose, to show which values the
 * run reads; run.json still records the BenchmarkJob alone.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { spawnSimulator } from '../sim/spawn.js';
import { jobFromCli, resolveEndpoint } from '../spec/load-job.js';
import { jobDocument, type ValidatedJob } from '../spec/validated-job.js';
import { executeRun } from './run.js';

test('a run reads the parsed scenarios and SLOs, never their strings', { timeout: 60_000 }, async () => {
  const sim = await spawnSimulator({ seed: 3, ttftMs: 5, ttftPerInputTokenMs: 0, itlMs: 1, itlJitterMs: 0 });
  const outRoot = await mkdtemp(join(tmpdir(), 'infermark-parsed-'));
  try {
    const validated = jobFromCli({
      url: sim.url,
      model: 'sim',
      scenarios: ['D(12,6)'],
      slos: ['p99_e2e_latency_ms<=60000'],
      maxRequests: 3,
      maxTimeMinutes: 1,
      seed: 1,
    });
    // Strings a parser would refuse; before, the engine parsed them again and threw "unvalidated".
    const job: ValidatedJob = {
      ...validated,
      spec: { ...validated.spec, slos: ['not an SLO'], trafficScenarios: ['not a scenario'] },
    };
    const result = await executeRun({ job, jobFile: null, endpoint: resolveEndpoint(job, {}), outRoot });
    assert.equal(result.status, 'complete');
    const summary = result.summaries[0];
    assert.ok(summary);
    assert.equal(summary.scenario, 'D(12,6)', 'the plan takes the parsed text');
    assert.deepEqual(
      summary.goodput?.slos.map((slo) => slo.text),
      ['p99_e2e_latency_ms<=60000'],
      'SLOs are judged as parsed',
    );
    const records = (await readFile(join(result.dir, 'iterations', '000', 'requests.jsonl'), 'utf8'))
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as { input_tokens: number });
    assert.equal(records.length, 3);
    for (const record of records) assert.equal(record.input_tokens, 12, 'prompts of the parsed length');

    const runJson = JSON.parse(await readFile(join(result.dir, 'run.json'), 'utf8')) as { job: unknown };
    assert.deepEqual(runJson.job, JSON.parse(JSON.stringify(jobDocument(job))));
    assert.equal(Object.hasOwn(runJson.job as object, 'parsed'), false);
  } finally {
    await sim.close();
    await rm(outRoot, { recursive: true, force: true });
  }
});
