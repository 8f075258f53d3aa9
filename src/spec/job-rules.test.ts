// The rules issue 19 adds to a job: spec.cost needs the GPUs it prices, spec.search bounds in order and a listed scenario.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError } from '../base/errors.js';
import { parseJobText } from './load-job.js';

const job = (spec: string[]): string =>
  [
    'apiVersion: ome.io/v1beta1',
    'kind: BenchmarkJob',
    'metadata: { name: j }',
    'spec:',
    "  endpoint: { endpoint: { url: 'http://127.0.0.1:1/v1/chat/completions', apiFormat: openai, modelName: m } }",
    '  task: text-to-text',
    "  trafficScenarios: ['D(10,10)']",
    '  maxTimePerIteration: 1',
    '  maxRequestsPerIteration: 10',
    ...spec.map((line) => `  ${line}`),
  ].join('\n');

const problems = (spec: string[]): string => {
  try {
    parseJobText(job(spec), 'job.yaml');
  } catch (error) {
    assert.ok(error instanceof ValidationError);
    return error.message;
  }
  return '';
};

test('spec.cost needs serviceMetadata: the field it lacks is named', () => {
  assert.match(
    problems(['cost: { gpuHourUsd: 2 }']),
    /job\.yaml: spec\.serviceMetadata\.gpuCount: required by spec\.cost\.gpuHourUsd/,
  );
  const table = problems(['cost: { priceTable: prices.yaml }']);
  assert.match(table, /spec\.serviceMetadata\.gpuCount: required by spec\.cost\.priceTable/);
  assert.match(table, /spec\.serviceMetadata\.gpuType: required by spec\.cost\.priceTable/);
  assert.match(problems(['cost: {}']), /spec\.cost: expected gpuHourUsd or priceTable/);
  // 0 GPUs would price every point at $0, read as free rather than unknown.
  assert.match(
    problems([
      'serviceMetadata: { engine: vLLM, version: "1", gpuType: H100, gpuCount: 0 }',
      'cost: { gpuHourUsd: 2 }',
    ]),
    /spec\.serviceMetadata\.gpuCount: 0: must be at least 1 when spec\.cost\.gpuHourUsd prices/,
  );
  assert.equal(problems(['costPerHourUsd: 9', 'cost: { gpuHourUsd: 2 }']), '');
  assert.equal(
    problems([
      'serviceMetadata: { engine: vLLM, version: "1", gpuType: H100, gpuCount: 8 }',
      'cost: { gpuHourUsd: 2 }',
    ]),
    '',
  );
});

test('spec.search: min at most max, a scenario the job lists, defaults filled', () => {
  assert.match(
    problems(['search: { min: 10, max: 5 }']),
    /spec\.search\.max: 5: must be at least spec\.search\.min \(10\)/,
  );
  assert.match(
    problems(["search: { scenario: 'D(1,1)' }"]),
    /spec\.search\.scenario: .*expected one of spec\.trafficScenarios \(D\(10,10\)\)/,
  );
  assert.match(problems(['search: { by: load }']), /spec\.search\.by/);
  const parsed = parseJobText(job(['search: { min: 2 }']), 'job.yaml');
  assert.deepEqual(parsed.spec.search, { by: 'rate', min: 2, maxProbes: 12, precisionPercent: 5 });
});

test('an oci-cohere job takes no API key: its requests are signed, and a key would travel to Oracle beside the signature', () => {
  const oci = (extra: string[]): string =>
    problems(['oci: { auth: config-file, compartmentId: c }', ...extra]).replace(/\s+/g, ' ');
  const text = job(['oci: { auth: config-file, compartmentId: c }', 'apiKey: { env: MY_KEY }'])
    .replace('apiFormat: openai, modelName: m } }', 'apiFormat: oci-cohere, modelName: m } }')
    .replace('/v1/chat/completions', '');
  let message = '';
  try {
    parseJobText(text, 'job.yaml');
  } catch (error) {
    message = (error as Error).message;
  }
  assert.match(
    message,
    /spec\.apiKey: .*apiFormat oci-cohere signs its requests \(spec\.oci\): it sends no API key/,
  );
  // Under openai, spec.oci is what is refused (the key is fine).
  assert.match(oci(['apiKey: { env: MY_KEY }']), /spec\.oci: .*applies only to apiFormat oci-cohere/);
});
