// The validated job carries what its strings stand for: scenarios, SLOs and the storage URI, parsed once.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jobFromCli } from './cli-job.js';
import { parseJobText } from './load-job.js';
import { omeTasks, defaultScenariosByTask } from './tasks.js';
import { validateJob } from './job-validate.js';
import { jobDocument } from './validated-job.js';

const JOB = `apiVersion: ome.io/v1beta1
kind: BenchmarkJob
metadata: {name: parsed, namespace: default}
spec:
  endpoint: {endpoint: {url: 'http://127.0.0.1:8000/v1/chat/completions', apiFormat: openai, modelName: m}}
  task: text-to-text
  maxTimePerIteration: 1
  maxRequestsPerIteration: 10
  trafficScenarios: ['D(100,20)', 'N(480,240)/(300,150)', 'U(50,100)/(10,20)']
  slos: ['p99_ttft_ms<=500', 'tpot_ms < 40']
  outputLocation: {storageUri: 's3://results@eu-west-1/bench/runs'}
`;

describe('validated job', () => {
  it('carries each scenario, SLO and the output location, parsed, in the order written', () => {
    const job = parseJobText(JOB, 'job.yaml');
    assert.deepEqual(job.parsed.scenarios, [
      { text: 'D(100,20)', scenario: { kind: 'D', input: 100, output: 20 } },
      {
        text: 'N(480,240)/(300,150)',
        scenario: { kind: 'N', inputMean: 480, inputStd: 240, outputMean: 300, outputStd: 150 },
      },
      {
        text: 'U(50,100)/(10,20)',
        scenario: { kind: 'U', minInput: 50, maxInput: 100, minOutput: 10, maxOutput: 20, oneGroup: false },
      },
    ]);
    assert.deepEqual(
      job.parsed.scenarios.map((entry) => entry.text),
      job.spec.trafficScenarios,
    );
    assert.deepEqual(job.parsed.slos, [
      { text: 'p99_ttft_ms<=500', metric: 'ttft_ms', percentile: 99, op: '<=', threshold: 500 },
      { text: 'tpot_ms < 40', metric: 'tpot_ms', percentile: null, op: '<', threshold: 40 },
    ]);
    assert.deepEqual(job.parsed.outputLocation, {
      scheme: 's3',
      bucket: 'results',
      region: 'eu-west-1',
      prefix: 'bench/runs',
    });
  });

  it('parses the default scenarios of every task, in step with spec.trafficScenarios', () => {
    for (const task of omeTasks) {
      const url = task.endsWith('-embeddings') ? 'http://h/v1/embeddings' : 'http://h/v1/chat/completions';
      const job = jobFromCli({ url, model: 'm', task });
      assert.deepEqual(job.spec.trafficScenarios, defaultScenariosByTask[task], task);
      assert.deepEqual(
        job.parsed.scenarios.map((entry) => entry.text),
        job.spec.trafficScenarios,
        task,
      );
      for (const { text, scenario } of job.parsed.scenarios)
        assert.equal(text.startsWith(scenario.kind), true, text);
    }
    const dataset = jobFromCli({ url: 'http://h', model: 'm', datasetFile: 'prompts.jsonl' });
    assert.deepEqual(dataset.parsed.scenarios, [{ text: 'dataset', scenario: { kind: 'dataset' } }]);
  });

  it('has no SLOs and no output location when the job names none', () => {
    const job = jobFromCli({ url: 'http://h', model: 'm', scenarios: ['D(1,2)'] });
    assert.deepEqual(job.parsed, {
      scenarios: [{ text: 'D(1,2)', scenario: { kind: 'D', input: 1, output: 2 } }],
      slos: [],
      outputLocation: null,
    });
  });

  it('a file:// output location from the command line is parsed too', () => {
    const job = jobFromCli({ url: 'http://h', model: 'm', output: 'file:///srv/results' });
    assert.deepEqual(job.parsed.outputLocation, { scheme: 'file', path: '/srv/results' });
  });

  it('jobDocument is the BenchmarkJob alone, its fields in their order (as run.json writes it)', () => {
    const job = parseJobText(JOB, 'job.yaml');
    const document = jobDocument(job);
    assert.equal('parsed' in document, false);
    assert.deepEqual(
      Object.keys(document),
      Object.keys(job).filter((key) => key !== 'parsed'),
    );
    assert.equal(JSON.stringify(document), JSON.stringify({ ...job, parsed: undefined }));
  });

  it('writes a document that validates again, for a job of rates only or a trace only too', () => {
    const variants = [
      '',
      '  requestRates: [5, 10]\n',
      '  trace: traces/mooncake.jsonl\n',
      '  numConcurrency: [2]\n  requestRates: [5]\n',
    ];
    for (const extra of variants) {
      const job = parseJobText(JOB.replace('  slos:', `${extra}  slos:`), 'job.yaml');
      const again = validateJob(jobDocument(job));
      assert.equal(
        again.ok,
        true,
        `${extra || 'concurrency only'}: ${JSON.stringify(!again.ok && again.issues)}`,
      );
      if (again.ok) assert.deepEqual(again.job.spec, job.spec, 'the same job, defaults and all');
    }
  });
});
