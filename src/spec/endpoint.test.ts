// Endpoint resolution: InferenceService → cluster URL, direct URLs split into base + OpenAI path, overrides.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ValidationError, formatIssue } from '../base/errors.js';
import { resolveEndpoint, splitEndpointUrl } from './endpoint.js';
import { parseJobText } from './load-job.js';

function job(endpoint: string): ReturnType<typeof parseJobText> {
  return parseJobText(
    `apiVersion: ome.io/v1beta1
kind: BenchmarkJob
metadata: {name: j}
spec:
  endpoint:
${endpoint}
  task: text-to-text
  numConcurrency: [1]
  maxTimePerIteration: 1
  maxRequestsPerIteration: 10
`,
    'job.yaml',
  );
}

const svcJob = job('    inferenceService: {name: llama-3-1-70b-instruct, namespace: llama-ns}');

describe('resolveEndpoint', () => {
  it('an InferenceService resolves to its cluster-local URL, model = service name', () => {
    assert.deepEqual(resolveEndpoint(svcJob), {
      baseUrl: 'http://llama-3-1-70b-instruct.llama-ns.svc.cluster.local',
      path: null,
      model: 'llama-3-1-70b-instruct',
      apiFormat: 'openai',
    });
  });

  it('override.url replaces the URL for runs outside the cluster; override.model the model', () => {
    assert.deepEqual(
      resolveEndpoint(svcJob, { url: 'http://127.0.0.1:8000/v1/chat/completions', model: 'meta/llama' }),
      {
        baseUrl: 'http://127.0.0.1:8000',
        path: '/v1/chat/completions',
        model: 'meta/llama',
        apiFormat: 'openai',
      },
    );
  });

  it('a direct endpoint keeps its modelName and OpenAI path', () => {
    const j = job(
      '    endpoint: {url: "http://my-model-service:8080/v1/completions", apiFormat: openai, modelName: llama-3}',
    );
    assert.deepEqual(resolveEndpoint(j), {
      baseUrl: 'http://my-model-service:8080',
      path: '/v1/completions',
      model: 'llama-3',
      apiFormat: 'openai',
    });
  });

  it('a direct endpoint without modelName needs --model', () => {
    const j = job('    endpoint: {url: "http://m:8080", apiFormat: openai}');
    assert.throws(
      () => resolveEndpoint(j),
      (error: unknown) =>
        error instanceof ValidationError &&
        formatIssue(error.issues[0]!) ===
          'spec.endpoint.endpoint.modelName: the model name is required for apiFormat openai (set modelName or pass --model)',
    );
    assert.equal(resolveEndpoint(j, { model: 'm1' }).model, 'm1');
  });

  it('a bad override URL is reported against --url', () => {
    assert.throws(
      () => resolveEndpoint(svcJob, { url: 'localhost:8000' }),
      (error: unknown) =>
        error instanceof ValidationError &&
        formatIssue(error.issues[0]!) ===
          'command line: --url: "localhost:8000": must start with http:// or https://',
    );
  });
});

describe('splitEndpointUrl', () => {
  const cases: [string, string, string | null][] = [
    ['http://h:8080/v1/completions', 'http://h:8080', '/v1/completions'],
    ['http://h:8080/v1/chat/completions', 'http://h:8080', '/v1/chat/completions'],
    ['https://h/v1/embeddings/', 'https://h', '/v1/embeddings'],
    [
      'https://gw.example.com/proxy/v1/chat/completions',
      'https://gw.example.com/proxy',
      '/v1/chat/completions',
    ],
    ['http://h:8000', 'http://h:8000', null],
    ['http://h:8000/', 'http://h:8000', null],
    ['http://h:8000/v1', 'http://h:8000', null],
    ['http://h:8000/openai/v1/', 'http://h:8000/openai', null],
  ];
  for (const [url, baseUrl, path] of cases) {
    it(url, () => assert.deepEqual(splitEndpointUrl(url), { baseUrl, path }));
  }

  it('rejects credentials in the URL', () => {
    assert.throws(() => splitEndpointUrl('http://u:p@h/v1'), /credentials in the URL are not supported/);
  });
});
