// spec.multiTurn's cross-field rules: what a multi-turn job needs, each refusal naming its field.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseJobText } from './load-job.js';

function job(spec: string[], url = 'http://127.0.0.1:8000/v1/chat/completions'): string {
  return [
    'apiVersion: ome.io/v1beta1',
    'kind: BenchmarkJob',
    'metadata: {name: chat, namespace: default}',
    'spec:',
    `  endpoint: {endpoint: {url: '${url}', apiFormat: openai, modelName: m}}`,
    '  maxTimePerIteration: 1',
    '  maxRequestsPerIteration: 10',
    ...spec.map((line) => `  ${line}`),
    '',
  ].join('\n');
}

function refusal(text: string): string {
  try {
    parseJobText(text, 'job.yaml');
  } catch (error) {
    return (error as Error).message;
  }
  return assert.fail('the job was accepted');
}

describe('spec.multiTurn', () => {
  it('accepts a synthetic scenario with turns, and a dataset without', () => {
    const synthetic = parseJobText(
      job([
        'task: text-to-text',
        "trafficScenarios: ['D(100,20)']",
        'multiTurn: {turns: 4, thinkTimeSeconds: 0.5}',
      ]),
      'job.yaml',
    );
    assert.deepEqual(synthetic.spec.multiTurn, { turns: 4, thinkTimeSeconds: 0.5, assistantTurns: 'server' });
    const dataset = parseJobText(
      job([
        'task: text-to-text',
        "trafficScenarios: ['dataset']",
        'datasetFile: chats.jsonl',
        'multiTurn: {assistantTurns: dataset}',
      ]),
      'job.yaml',
    );
    assert.equal(dataset.spec.multiTurn?.assistantTurns, 'dataset');
  });

  it('needs turns with a synthetic scenario, and replies for assistantTurns: dataset', () => {
    const message = refusal(
      job(['task: text-to-text', "trafficScenarios: ['D(100,20)']", 'multiTurn: {assistantTurns: dataset}']),
    );
    assert.match(message, /job\.yaml: spec\.multiTurn\.turns: required with a synthetic scenario/);
    assert.match(message, /spec\.multiTurn\.assistantTurns: "dataset": needs the dataset scenario/);
  });

  it('needs the chat API: completions and embeddings endpoints are refused, naming the field', () => {
    assert.match(
      refusal(job(['task: text-to-text', 'multiTurn: {turns: 2}'], 'http://127.0.0.1:8000/v1/completions')),
      /spec\.multiTurn: multi-turn needs the chat API: spec\.endpoint\.endpoint\.url's path is \/v1\/completions/,
    );
    assert.match(
      refusal(
        job(['task: text-to-text', 'api: completions', 'multiTurn: {turns: 2}'], 'http://127.0.0.1:8000'),
      ),
      /spec\.multiTurn: multi-turn needs the chat API: spec\.api is "completions"/,
    );
    assert.match(
      refusal(
        job(['task: text-to-embeddings', 'multiTurn: {turns: 2}'], 'http://127.0.0.1:8000/v1/embeddings'),
      ),
      /spec\.multiTurn: multi-turn needs the chat API: task text-to-embeddings/,
    );
  });
});
