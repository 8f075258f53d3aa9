/**
 * Whole runs in each API format against the real simulator on 127.0.0.1: a job with
 * apiFormat cohere (chat, and rerank as R under text-to-embeddings), one with oci-cohere
 * (signed with a key pair made here, the simulator holding the public key), and an
 * OpenAI-format R job that reranks at /v1/rerank. Each run completes, every request is ok
 * with the server's token counts, and its run folder verifies.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { executeRun } from '../engine/run.js';
import { verifyRunFolder } from '../evidence/verify.js';
import type { RequestRecord } from '../metrics/record.js';
import { startSimulator, type SimulatorHandle } from '../sim/server.js';
import type { CliJobOptions } from '../spec/cli-job.js';
import { jobFromCli, resolveEndpoint } from '../spec/load-job.js';
import { makeOciConfig, type OciTestConfig } from './testing/oci-config.js';

const REQUESTS = 6;

let outRoot: string;
let oci: OciTestConfig;
let sim: SimulatorHandle;
before(async () => {
  outRoot = await mkdtemp(join(tmpdir(), 'infermark-formats-run-'));
  oci = await makeOciConfig();
  sim = await startSimulator({ ttftMs: 10, itlMs: 1, itlJitterMs: 0, ociPublicKey: oci.publicKeyFile });
});
after(async () => {
  await sim.close();
  await oci.remove();
  await rm(outRoot, { recursive: true, force: true });
});

/** Runs the job the flags describe; returns its records, its run.json and the verify report. */
async function run(options: Partial<CliJobOptions>) {
  const job = jobFromCli({
    url: sim.url,
    model: 'sim-model',
    concurrency: [2],
    maxRequests: REQUESTS,
    maxTimeMinutes: 1,
    seed: 3,
    ...options,
  });
  const result = await executeRun({ job, jobFile: null, endpoint: resolveEndpoint(job, {}), outRoot });
  assert.equal(result.status, 'complete', JSON.stringify(result.failure));
  const text = await readFile(join(result.dir, 'iterations', '000', 'requests.jsonl'), 'utf8');
  const records = text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as RequestRecord);
  const runJson = JSON.parse(await readFile(join(result.dir, 'run.json'), 'utf8')) as {
    endpoint: { backend: string };
  };
  const report = await verifyRunFolder(result.dir);
  assert.equal(report.status, 'complete', JSON.stringify(report.problems));
  assert.equal(records.length, REQUESTS);
  for (const r of records) assert.equal(r.status, 'ok', `${r.request_id}: ${r.error_message}`);
  return { records, backend: runJson.endpoint.backend, summary: result.summaries[0] };
}

test('apiFormat cohere: a chat run, tokens from message-end, folder verifies', async () => {
  const before = sim.stats();
  const { records, backend, summary } = await run({ apiFormat: 'cohere', scenarios: ['D(20,10)'] });
  assert.equal(backend, 'cohere-chat');
  for (const r of records) {
    assert.deepEqual(
      [r.output_tokens, r.output_tokens_source, r.input_tokens_source],
      [10, 'server', 'server'],
    );
    assert.equal(r.chunk_times_us.length, 10);
  }
  const served = sim.stats();
  assert.equal(
    records.reduce((sum, r) => sum + r.input_tokens, 0),
    served.promptTokens - before.promptTokens,
  );
  assert.ok(summary && summary.requests.completed === REQUESTS);
});

test('apiFormat cohere with R under text-to-embeddings: /v2/rerank, the workload count', async () => {
  const { records, backend } = await run({
    apiFormat: 'cohere',
    task: 'text-to-embeddings',
    scenarios: ['R(16,8)'],
  });
  assert.equal(backend, 'cohere-embed');
  for (const r of records) assert.equal(r.input_tokens_source, 'workload');
});

test('apiFormat openai, R: a real /v1/rerank request with the server usage', async () => {
  const before = sim.stats();
  const { records, backend } = await run({ task: 'text-to-embeddings', scenarios: ['R(16,8)'] });
  assert.equal(backend, 'openai-embeddings');
  for (const r of records) assert.equal(r.input_tokens_source, 'server');
  assert.equal(
    records.reduce((sum, r) => sum + r.input_tokens, 0),
    sim.stats().promptTokens - before.promptTokens,
  );
});

test('apiFormat oci-cohere: signed chat requests verify, folder verifies', async () => {
  const { records, backend } = await run({
    apiFormat: 'oci-cohere',
    ociConfigFile: oci.configFile,
    ociCompartment: 'ocid1.compartment.oc1..infermarktest',
    scenarios: ['D(20,10)'],
  });
  assert.equal(backend, 'oci-cohere-chat');
  for (const r of records) assert.deepEqual([r.output_tokens, r.output_tokens_source], [10, 'server']);
});
