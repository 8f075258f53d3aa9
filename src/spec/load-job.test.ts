// Job files: the seed examples validate unchanged; malformed jobs fail with file, path, value and reason.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { formatIssue, ValidationError } from '../base/errors.js';
import { loadJobFile, parseJobText } from './load-job.js';

const examples = new URL('../../../examples/', import.meta.url);
const seedS3 = new URL('seed-s3.yaml', examples);
const seedOci = new URL('seed-oci-llama.yaml', examples);

/** Run `fn`, expect a ValidationError, return its issue lines. */
function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ValidationError, `expected ValidationError, got ${String(error)}`);
    assert.equal(error.exitCode, 2);
    return error.issues.map(formatIssue);
  }
  assert.fail('expected a ValidationError');
}

type Job = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function baseJob(): Job {
  return {
    apiVersion: 'ome.io/v1beta1',
    kind: 'BenchmarkJob',
    metadata: { name: 'model-benchmark-s3', namespace: 'default' },
    spec: {
      endpoint: {
        endpoint: {
          url: 'http://my-model-service:8080/v1/completions',
          apiFormat: 'openai',
          modelName: 'llama-3',
        },
      },
      task: 'text-to-text',
      numConcurrency: [1, 4, 8, 16],
      maxTimePerIteration: 10,
      maxRequestsPerIteration: 100,
    },
  };
}

function issuesFor(mutate: (job: Job) => void): string[] {
  const job = baseJob();
  mutate(job);
  return issuesOf(() => parseJobText(stringify(job), 'job.yaml'));
}

describe('seed examples', () => {
  it('seed-s3.yaml validates unchanged, with defaults filled in', async () => {
    const job = await loadJobFile(seedS3.pathname);
    assert.equal(job.metadata.name, 'model-benchmark-s3');
    assert.deepEqual(job.spec.numConcurrency, [1, 4, 8, 16]);
    // No trafficScenarios in the seed: genai-bench's text-to-text defaults.
    assert.deepEqual(job.spec.trafficScenarios, [
      'N(480,240)/(300,150)',
      'D(100,100)',
      'D(100,1000)',
      'D(2000,200)',
      'D(7800,200)',
    ]);
    assert.equal(job.spec.outputLocation?.storageUri, 's3://my-benchmarks@us-east-1/experiments/2024');
    assert.equal(job.spec.seed, 42);
    assert.equal(job.spec.tokenizer, 'o200k_base');
    assert.equal(job.spec.repeats, 1);
    assert.equal(job.spec.stream, true);
    assert.equal(job.spec.ignoreEos, true);
    assert.equal(job.spec.requestTimeoutSeconds, 600);
    assert.deepEqual(job.spec.arrival, { distribution: 'poisson' });
  });

  it('seed-oci-llama.yaml validates unchanged', async () => {
    const job = await loadJobFile(seedOci.pathname);
    assert.equal(job.spec.endpoint.inferenceService?.name, 'llama-3-1-70b-instruct');
    assert.equal(job.spec.trafficScenarios.length, 5);
    assert.deepEqual(job.spec.numConcurrency, [1, 2, 4, 8, 16, 32, 64, 128, 256]);
    assert.equal(job.spec.additionalRequestParams?.temperature, '0.0');
    assert.equal(job.spec.podOverride?.image, 'ghcr.io/sgl-project/genai-bench:0.1.127');
  });

  it('the seed files are byte-identical to the ones in the OME doc', async () => {
    const doc = await readFile(new URL('../../../../shared/seeds/benchmarkjob.md', examples), 'utf8').catch(
      () => null,
    );
    if (doc === null) return; // the shared folder is not part of every checkout
    assert.ok(doc.includes(await readFile(seedS3, 'utf8')));
    assert.ok(doc.includes(await readFile(seedOci, 'utf8')));
  });
});

describe('malformed jobs', () => {
  // [name, mutation, expected formatted line (exact)]
  const cases: [string, (j: Job) => void, string][] = [
    [
      'wrong apiVersion',
      (j) => (j.apiVersion = 'ome.io/v1'),
      'job.yaml: apiVersion: "ome.io/v1": expected "ome.io/v1beta1"',
    ],
    ['wrong kind', (j) => (j.kind = 'Job'), 'job.yaml: kind: "Job": expected "BenchmarkJob"'],
    [
      'bad metadata.name',
      (j) => (j.metadata.name = 'My_Job'),
      `job.yaml: metadata.name: "My_Job": must be a lowercase RFC 1123 name: a-z, 0-9, '-' and '.', starting and ending alphanumeric`,
    ],
    [
      'missing metadata.name',
      (j) => delete j.metadata.name,
      'job.yaml: metadata.name: required field is missing (expected a string)',
    ],
    [
      'unknown task',
      (j) => (j.spec.task = 'text-to-image'),
      'job.yaml: spec.task: "text-to-image": expected one of "text-to-text", "text-to-embeddings", "image-to-text", "image-to-embeddings"',
    ],
    [
      'missing task',
      (j) => delete j.spec.task,
      'job.yaml: spec.task: required field is missing (expected one of "text-to-text", "text-to-embeddings", "image-to-text", "image-to-embeddings")',
    ],
    [
      'zero maxTimePerIteration',
      (j) => (j.spec.maxTimePerIteration = 0),
      'job.yaml: spec.maxTimePerIteration: 0: must be ≥ 1',
    ],
    [
      'fractional maxTimePerIteration',
      (j) => (j.spec.maxTimePerIteration = 1.5),
      'job.yaml: spec.maxTimePerIteration: 1.5: expected an integer, got 1.5',
    ],
    [
      'string maxRequestsPerIteration',
      (j) => (j.spec.maxRequestsPerIteration = '100'),
      'job.yaml: spec.maxRequestsPerIteration: "100": expected an integer, got a string',
    ],
    [
      'missing maxRequestsPerIteration',
      (j) => delete j.spec.maxRequestsPerIteration,
      'job.yaml: spec.maxRequestsPerIteration: required field is missing (expected an integer)',
    ],
    [
      'zero concurrency',
      (j) => (j.spec.numConcurrency = [1, 0]),
      'job.yaml: spec.numConcurrency[1]: 0: must be ≥ 1',
    ],
    [
      'duplicate concurrency',
      (j) => (j.spec.numConcurrency = [4, 8, 4]),
      'job.yaml: spec.numConcurrency[2]: 4: duplicate concurrency level (same as [0])',
    ],
    [
      'bad scenario',
      (j) => (j.spec.trafficScenarios = ['D(100,100)', 'D(100,1000)', 'N(480,-1)/(300,150)']),
      'job.yaml: spec.trafficScenarios[2]: "N(480,-1)/(300,150)": standard deviation must be > 0 (input standard deviation is -1)',
    ],
    [
      'scenario does not fit the task',
      (j) => (j.spec.trafficScenarios = ['E(64)']),
      'job.yaml: spec.trafficScenarios[0]: "E(64)": a E(...) scenario does not fit task text-to-text (expected D(in,out), N(μin,σin)/(μout,σout), U(...), dataset)',
    ],
    [
      'dataset scenario without a dataset',
      (j) => (j.spec.trafficScenarios = ['dataset']),
      'job.yaml: spec.trafficScenarios[0]: "dataset": the dataset scenario needs spec.datasetFile (a local JSONL file)',
    ],
    [
      'dataset scenario with only a storage dataset',
      (j) => {
        j.spec.trafficScenarios = ['dataset'];
        j.spec.dataset = { storageUri: 's3://bucket/prompts.jsonl' };
      },
      'job.yaml: spec.trafficScenarios[0]: "dataset": the dataset scenario needs spec.datasetFile: reading spec.dataset from storage is not supported yet (download it and set spec.datasetFile)',
    ],
    [
      'storage dataset and no scenarios (dataset mode by default)',
      (j) => {
        delete j.spec.trafficScenarios;
        j.spec.dataset = { storageUri: 's3://bucket/prompts.jsonl' };
      },
      'job.yaml: spec.dataset: reading a dataset from storage is not supported yet: download it and set spec.datasetFile (or list trafficScenarios)',
    ],
    [
      'both endpoints',
      (j) => (j.spec.endpoint.inferenceService = { name: 'svc', namespace: 'ns' }),
      'job.yaml: spec.endpoint: set exactly one of inferenceService or endpoint, not both',
    ],
    [
      'no endpoint',
      (j) => (j.spec.endpoint = {}),
      'job.yaml: spec.endpoint: expected inferenceService{name,namespace} or endpoint{url,apiFormat,modelName}',
    ],
    [
      'an OpenAI path with another apiFormat',
      (j) => (j.spec.endpoint.endpoint.apiFormat = 'cohere'),
      "job.yaml: spec.endpoint.endpoint.url: \"http://my-model-service:8080/v1/completions\": path /v1/completions is OpenAI's, not apiFormat cohere's (give the server's base URL)",
    ],
    [
      'oci-cohere without spec.oci',
      (j) => {
        j.spec.endpoint.endpoint.apiFormat = 'oci-cohere';
        j.spec.endpoint.endpoint.url = 'https://inference.generativeai.us-chicago-1.oci.oraclecloud.com';
      },
      'job.yaml: spec.oci: apiFormat oci-cohere needs spec.oci {auth: config-file or instance-principal, compartmentId} to sign its requests',
    ],
    [
      'spec.oci with apiFormat openai',
      (j) => (j.spec.oci = { auth: 'config-file', compartmentId: 'ocid1.compartment.oc1..x' }),
      'job.yaml: spec.oci: applies only to apiFormat oci-cohere (apiFormat is openai)',
    ],
    [
      'rerank with oci-cohere',
      (j) => {
        j.spec.endpoint.endpoint.apiFormat = 'oci-cohere';
        j.spec.endpoint.endpoint.url = 'https://inference.generativeai.us-chicago-1.oci.oraclecloud.com';
        j.spec.oci = { auth: 'instance-principal', compartmentId: 'c' };
        j.spec.task = 'text-to-embeddings';
        j.spec.trafficScenarios = ['E(64)', 'R(64,16)'];
      },
      'job.yaml: spec.trafficScenarios[1]: "R(64,16)": rerank (R) is not served for apiFormat oci-cohere (use cohere or openai)',
    ],
    [
      'a config file with instance-principal',
      (j) => {
        j.spec.endpoint.endpoint.apiFormat = 'oci-cohere';
        j.spec.endpoint.endpoint.url = 'https://inference.generativeai.us-chicago-1.oci.oraclecloud.com';
        j.spec.oci = { auth: 'instance-principal', configFile: 'x', compartmentId: 'c' };
      },
      'job.yaml: spec.oci.configFile: "x": applies only to auth config-file',
    ],
    [
      'spec.oci with an unknown auth',
      (j) => {
        j.spec.endpoint.endpoint.apiFormat = 'oci-cohere';
        j.spec.endpoint.endpoint.url = 'https://inference.generativeai.us-chicago-1.oci.oraclecloud.com';
        j.spec.oci = { auth: 'api-key', compartmentId: 'c' };
      },
      'job.yaml: spec.oci.auth: "api-key": expected one of "config-file", "instance-principal"',
    ],
    [
      'invalid apiFormat',
      (j) => (j.spec.endpoint.endpoint.apiFormat = 'anthropic'),
      'job.yaml: spec.endpoint.endpoint.apiFormat: "anthropic": expected one of "openai", "oci-cohere", "cohere"',
    ],
    [
      'url without scheme',
      (j) => (j.spec.endpoint.endpoint.url = 'my-model:8080/v1/completions'),
      'job.yaml: spec.endpoint.endpoint.url: "my-model:8080/v1/completions": must start with http:// or https://',
    ],
    [
      'url path for another task',
      (j) => (j.spec.endpoint.endpoint.url = 'http://m:8080/v1/embeddings'),
      'job.yaml: spec.endpoint.endpoint.url: "http://m:8080/v1/embeddings": path /v1/embeddings does not serve task text-to-text (expected /v1/chat/completions or /v1/completions)',
    ],
    [
      'url with a query string',
      (j) => (j.spec.endpoint.endpoint.url = 'http://m:8080/v1/completions?x=1'),
      // The refused URL is quoted with its query values redacted: a query may hold a key (`?code=`).
      'job.yaml: spec.endpoint.endpoint.url: "http://m:8080/v1/completions?x=%5Bredacted%5D": query strings and fragments are not supported in the endpoint URL',
    ],
    [
      'api contradicts the url',
      (j) => (j.spec.api = 'chat'),
      'job.yaml: spec.api: "chat": api "chat" contradicts the endpoint URL path /v1/completions',
    ],
    [
      'unquoted number in additionalRequestParams',
      (j) => (j.spec.additionalRequestParams = { temperature: 0 }),
      'job.yaml: spec.additionalRequestParams.temperature: 0: expected a string, got a number (write it in quotes)',
    ],
    [
      'typo in a spec field',
      (j) => (j.spec.trafficScenario = ['D(100,100)']),
      'job.yaml: spec.trafficScenario: unknown field "trafficScenario" (did you mean "trafficScenarios"?)',
    ],
    [
      'snake_case spec field',
      (j) => (j.spec.max_requests_per_iteration = 5),
      'job.yaml: spec.max_requests_per_iteration: 5: unknown field "max_requests_per_iteration" (did you mean "maxRequestsPerIteration"?)',
    ],
    [
      'unknown top-level field',
      (j) => (j.specs = {}),
      'job.yaml: specs: unknown field "specs" (did you mean "spec"?)',
    ],
    [
      'typo inside podOverride',
      (j) => (j.spec.podOverride = { imag: 'x' }),
      'job.yaml: spec.podOverride.imag: "x": unknown field "imag" (did you mean "image"?)',
    ],
    [
      'gpuType outside OME enum',
      (j) => (j.spec.serviceMetadata = { engine: 'vLLM', version: '0.6.0', gpuType: 'H200', gpuCount: 8 }),
      'job.yaml: spec.serviceMetadata.gpuType: "H200": expected one of "H100", "A100", "MI300", "A10"',
    ],
    [
      'outputLocation without storageUri',
      (j) => (j.spec.outputLocation = { parameters: { auth: 'instance_principal' } }),
      'job.yaml: spec.outputLocation.storageUri: required field is missing (expected a string)',
    ],
    [
      'zero request rate',
      (j) => (j.spec.requestRates = [0]),
      'job.yaml: spec.requestRates[0]: 0: must be > 0',
    ],
    [
      'unknown arrival distribution',
      (j) => (j.spec.arrival = { distribution: 'uniform' }),
      'job.yaml: spec.arrival.distribution: "uniform": expected one of "constant", "poisson", "gamma"',
    ],
    [
      'burstiness without gamma',
      (j) => (j.spec.arrival = { distribution: 'poisson', burstiness: 2 }),
      'job.yaml: spec.arrival.burstiness: 2: burstiness applies only to distribution gamma (distribution is poisson)',
    ],
    [
      'bad SLO',
      (j) => (j.spec.slos = ['p99_ttft_ms<=500', 'p99_ttft<=500']),
      'job.yaml: spec.slos[1]: "p99_ttft<=500": unknown SLO metric "ttft" (did you mean ttft_ms?): expected one of ttft_ms, ttfb_ms, ttfo_ms, tpot_ms, itl_ms, e2e_latency_ms',
    ],
    [
      'two API key sources',
      (j) => (j.spec.apiKey = { env: 'OPENAI_API_KEY', file: '/run/key' }),
      'job.yaml: spec.apiKey: expected exactly one of env, file or secretRef, got env and file',
    ],
    [
      'unknown tokenizer name',
      (j) => (j.spec.tokenizer = 'llama'),
      'job.yaml: spec.tokenizer: "llama": expected o200k_base or cl100k_base, or a path to a Hugging Face tokenizer.json',
    ],
    [
      'bad inferenceService name',
      (j) => (j.spec.endpoint = { inferenceService: { name: 'Llama_3', namespace: 'ns' } }),
      'job.yaml: spec.endpoint.inferenceService.name: "Llama_3": must be a lowercase RFC 1123 label: a-z, 0-9 and \'-\', at most 63 characters',
    ],
    ['negative seed', (j) => (j.spec.seed = -1), 'job.yaml: spec.seed: -1: must be ≥ 0'],
    [
      'stream as a string',
      (j) => (j.spec.stream = 'yes'),
      'job.yaml: spec.stream: "yes": expected true or false, got a string',
    ],
    [
      'empty trafficScenarios',
      (j) => (j.spec.trafficScenarios = []),
      'job.yaml: spec.trafficScenarios: must list at least one scenario (omit the field to use the task defaults)',
    ],
    [
      'api on an embeddings task',
      (j) => {
        j.spec.task = 'text-to-embeddings';
        j.spec.endpoint.endpoint.url = 'http://m/v1/embeddings';
        j.spec.api = 'chat';
      },
      'job.yaml: spec.api: "chat": api applies only to task text-to-text (task is text-to-embeddings)',
    ],
    [
      'label value not a string',
      (j) => (j.metadata.labels = { tier: 1 }),
      'job.yaml: metadata.labels.tier: 1: expected a string, got a number (write it in quotes)',
    ],
  ];

  for (const [name, mutate, expected] of cases) {
    it(name, () => {
      const lines = issuesFor(mutate);
      assert.ok(lines.includes(expected), `expected:\n  ${expected}\ngot:\n  ${lines.join('\n  ')}`);
      assert.equal(lines.length, 1, `expected exactly one issue, got:\n  ${lines.join('\n  ')}`);
    });
  }

  it('has at least 20 distinct malformed jobs', () => {
    assert.ok(new Set(cases.map((c) => c[2])).size >= 20);
  });
});

describe('error reporting', () => {
  it('reports every error in a file at once', () => {
    const lines = issuesFor((j) => {
      j.kind = 'Job';
      j.spec.trafficScenarios = ['D(100,100)', 'D(100, 100)', 'X(1)'];
      j.spec.numConcurrency = [1, 'two'];
      j.spec.endpoint.endpoint.apiFormat = 'oci-cohere';
      j.spec.maxTimePerIteration = 0;
      j.spec.extra = true;
    });
    const expected = [
      'job.yaml: kind: "Job": expected "BenchmarkJob"',
      'job.yaml: spec.numConcurrency[1]: "two": expected an integer, got a string',
      'job.yaml: spec.maxTimePerIteration: 0: must be ≥ 1',
      'job.yaml: spec.extra: true: unknown field "extra"',
      "job.yaml: spec.endpoint.endpoint.url: \"http://my-model-service:8080/v1/completions\": path /v1/completions is OpenAI's, not apiFormat oci-cohere's (give the server's base URL)",
      'job.yaml: spec.oci: apiFormat oci-cohere needs spec.oci {auth: config-file or instance-principal, compartmentId} to sign its requests',
      'job.yaml: spec.trafficScenarios[1]: "D(100, 100)": whitespace is not allowed in a traffic scenario (write "D(100,100)")',
    ];
    for (const line of expected)
      assert.ok(lines.includes(line), `missing:\n  ${line}\ngot:\n  ${lines.join('\n  ')}`);
    assert.ok(
      lines.some((l) => l.startsWith('job.yaml: spec.trafficScenarios[2]: "X(1)": unknown traffic scenario')),
    );
    assert.equal(lines.length, 8);
  });

  it('the error message lists every issue, one per line', () => {
    try {
      parseJobText('apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {}\n', 'pod.yaml');
      assert.fail('expected an error');
    } catch (error) {
      assert.ok(error instanceof ValidationError);
      assert.match(
        error.message,
        /^\d+ validation errors:\n {2}pod\.yaml: apiVersion: "v1": expected "ome\.io\/v1beta1"/,
      );
      assert.equal(error.code, 'E_VALIDATION');
    }
  });

  it('reports a YAML syntax error with line and column', () => {
    const text =
      'apiVersion: ome.io/v1beta1\nkind: BenchmarkJob\nspec:\n  task: [text-to-text\n  numConcurrency: 1\n';
    const lines = issuesOf(() => parseJobText(text, 'broken.yaml'));
    assert.ok(lines.length >= 1);
    assert.match(lines[0] ?? '', /^broken\.yaml: line \d+, column \d+: YAML syntax error: /);
  });

  it('reports a duplicate key with its line', () => {
    const text = 'apiVersion: ome.io/v1beta1\nkind: BenchmarkJob\nkind: BenchmarkJob\n';
    const lines = issuesOf(() => parseJobText(text, 'dup.yaml'));
    assert.match(lines[0] ?? '', /^dup\.yaml: line 3, column 1: YAML syntax error: .*unique/i);
  });

  it('reports a bad indentation error on the right line', () => {
    const text = 'apiVersion: ome.io/v1beta1\nkind: BenchmarkJob\nmetadata:\n  name: a\n    namespace: b\n';
    const lines = issuesOf(() => parseJobText(text, 'indent.yaml'));
    assert.match(lines[0] ?? '', /^indent\.yaml: line 4, column \d+: YAML syntax error/);
  });

  it('rejects an empty file, a list, and several documents', () => {
    assert.deepEqual(
      issuesOf(() => parseJobText('', 'e.yaml')),
      ['e.yaml: the file is empty: expected a BenchmarkJob'],
    );
    assert.deepEqual(
      issuesOf(() => parseJobText('- a\n', 'l.yaml')),
      ['l.yaml: ["a"]: expected a BenchmarkJob mapping (apiVersion, kind, metadata, spec)'],
    );
    assert.deepEqual(
      issuesOf(() => parseJobText('a: 1\n---\nb: 2\n', 'm.yaml')),
      ['m.yaml: line 2: expected one BenchmarkJob per file, found 2 YAML documents'],
    );
  });

  it('a missing file is a validation error naming it', async () => {
    await assert.rejects(loadJobFile('/nonexistent/job.yaml'), (error: unknown) => {
      assert.ok(error instanceof ValidationError);
      assert.equal(
        formatIssue(error.issues[0]!),
        '/nonexistent/job.yaml: cannot read the job file: no such file',
      );
      return true;
    });
  });
});

describe('defaults and extensions', () => {
  it('request rates alone run no closed-loop iterations', () => {
    const job = baseJob();
    delete job.spec.numConcurrency;
    job.spec.requestRates = [1, 2.5, 10];
    job.spec.arrival = { distribution: 'gamma', burstiness: 0.5 };
    const parsed = parseJobText(stringify(job), 'job.yaml');
    assert.deepEqual(parsed.spec.numConcurrency, []);
    assert.deepEqual(parsed.spec.requestRates, [1, 2.5, 10]);
    assert.deepEqual(parsed.spec.arrival, { distribution: 'gamma', burstiness: 0.5 });
  });

  it('no concurrency, rates or trace: genai-bench sweep', () => {
    const job = baseJob();
    delete job.spec.numConcurrency;
    assert.deepEqual(
      parseJobText(stringify(job), 'job.yaml').spec.numConcurrency,
      [1, 2, 4, 8, 16, 32, 64, 128, 256],
    );
  });

  it('scenarios default by task, and to dataset mode when a dataset is given', () => {
    const emb = baseJob();
    emb.spec.task = 'text-to-embeddings';
    emb.spec.endpoint.endpoint.url = 'http://m/v1/embeddings';
    assert.deepEqual(parseJobText(stringify(emb), 'job.yaml').spec.trafficScenarios, [
      'E(64)',
      'E(128)',
      'E(256)',
      'E(512)',
      'E(1024)',
    ]);
    const ds = baseJob();
    ds.spec.datasetFile = 'prompts.jsonl';
    assert.deepEqual(parseJobText(stringify(ds), 'job.yaml').spec.trafficScenarios, ['dataset']);
  });

  it('accepts every infermark addition together', () => {
    const job = baseJob();
    Object.assign(job.spec, {
      trafficScenarios: ['D(100,100)', 'dataset'],
      requestRates: [5],
      trace: 'traces/day.jsonl',
      warmup: { requests: 10, seconds: 5 },
      slos: ['p99_ttft_ms<=500', 'p50_tpot_ms<=40'],
      seed: 7,
      tokenizer: './tokenizers/llama/tokenizer.json',
      repeats: 3,
      stream: false,
      requestTimeoutSeconds: 30,
      ignoreEos: false,
      apiKey: { secretRef: { name: 'openai', key: 'token' } },
      metricsUrl: 'http://my-model-service:8080/metrics',
      datasetFile: 'data/prompts.jsonl',
      resultFolderName: 'run-1',
      huggingFaceSecretReference: { name: 'hf' },
      dataset: { storageUri: 'oci://n/ns/b/bucket/o/data' },
    });
    const parsed = parseJobText(stringify(job), 'job.yaml');
    assert.equal(parsed.spec.repeats, 3);
    assert.equal(parsed.spec.stream, false);
    assert.deepEqual(parsed.spec.warmup, { requests: 10, seconds: 5 });
  });

  it('accepts status and extra metadata keys from kubectl output', () => {
    const job = baseJob();
    job.metadata.uid = 'abc';
    job.metadata.creationTimestamp = '2024-01-01T00:00:00Z';
    job.metadata.labels = { 'app.kubernetes.io/name': 'bench' };
    job.status = { state: 'Completed' };
    assert.equal(parseJobText(stringify(job), 'job.yaml').metadata.name, 'model-benchmark-s3');
  });

  it('a label key with dots is quoted in the path', () => {
    const lines = issuesFor((j) => (j.metadata.labels = { 'app.kubernetes.io/name': 5 }));
    assert.deepEqual(lines, [
      'job.yaml: metadata.labels["app.kubernetes.io/name"]: 5: expected a string, got a number (write it in quotes)',
    ]);
  });
});
