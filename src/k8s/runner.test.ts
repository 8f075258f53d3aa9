/**
 * `infermark run` as a BenchmarkJob's runner, end to end against the simulator, with the
 * Kubernetes API played by a raw HTTP stand-in on 127.0.0.1 (testing/api-stand-in.ts; the
 * real API server is in runner-status.k8s.test.ts, which runs only under `npm run test:k8s`):
 * run.json's `kubernetes` block and the warehouse's job_uid, pod_uid, node_name (NULL for a
 * run outside a pod); the status the run writes; spec.cancel ending the run as Ctrl-C does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cli, runFolderUnder, simulatorFixture } from '../cli/testing/harness.js';
import { COORDINATOR_TOKEN_ENV, shardToken } from '../engine/shard-protocol.js';
import { verifyRunFolder } from '../evidence/verify.js';
import { Warehouse } from '../warehouse/warehouse.js';
import { ENV, SPEC_ANNOTATION } from './names.js';
import type { RunnerStatus } from './runner-status.js';
import { startApiStandIn, type ApiStandIn } from './testing/api-stand-in.js';
import { freePort, untilListening } from '../base/testing/free-port.js';
import { shardProcess } from '../cli/testing/shard-process.js';

const API_KEY = 'sk-runner-test-0123456789abcdef';
const TOKEN = 'sa-token-runner-test-abcdef0123456789';

// Each request takes about 50 + 5 × 50 = 300 ms: an iteration of 30 lasts about 9 s.
const { sim, tmp } = simulatorFixture('infermark-runner-', {
  ttftMs: 50,
  ttftPerInputTokenMs: 0,
  itlMs: 50,
  itlJitterMs: 0,
  batchSlowdown: 0,
});

async function jobFile(
  name: string,
  requests: number,
  scenarios: string[],
  concurrency = 1,
): Promise<string> {
  const path = join(tmp(), `${name}.yaml`);
  await writeFile(
    path,
    [
      'apiVersion: ome.io/v1beta1',
      'kind: BenchmarkJob',
      `metadata: { name: ${name}, namespace: team }`,
      'spec:',
      `  endpoint: { endpoint: { url: '${sim().url}', apiFormat: openai, modelName: m } }`,
      '  task: text-to-text',
      `  trafficScenarios: [${scenarios.map((s) => `'${s}'`).join(', ')}]`,
      `  numConcurrency: [${concurrency}]`,
      '  maxTimePerIteration: 1',
      `  maxRequestsPerIteration: ${requests}`,
      `  outputLocation: { storageUri: 'file://${join(tmp(), `store-${name}`)}' }`,
      '  apiKey: { env: RUNNER_TEST_KEY }',
      '',
    ].join('\n'),
  );
  return path;
}

function podEnv(api: ApiStandIn, kubeconfig: string, job: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    KUBECONFIG: kubeconfig,
    RUNNER_TEST_KEY: API_KEY,
    [ENV.benchmarkJob]: job,
    [ENV.namespace]: 'team',
    [ENV.jobUid]: 'job-uid-1',
    [ENV.podUid]: 'pod-uid-1',
    [ENV.podName]: `${job}-abcde`,
    [ENV.nodeName]: 'node-a',
  };
}

function statuses(api: ApiStandIn): RunnerStatus[] {
  return api.requests
    .filter((r) => r.method === 'PATCH')
    .map((r) => (r.body as { status: RunnerStatus }).status);
}

/** The status as the API server would hold it: every merge patch applied in order. */
function merged(api: ApiStandIn): RunnerStatus {
  return Object.assign({}, ...statuses(api)) as RunnerStatus;
}

test("in a BenchmarkJob's pod: run.json and the warehouse name the job, pod and node; the status follows the run; the key is nowhere", async () => {
  const api = await startApiStandIn();
  try {
    const kubeconfig = join(tmp(), 'kubeconfig');
    await writeFile(kubeconfig, api.kubeconfigYaml(TOKEN));
    api.object = { spec: {}, metadata: {} };
    const warehouse = join(tmp(), 'wh.duckdb');
    const out = join(tmp(), 'runs-pod');
    const file = await jobFile('pod-run', 3, ['D(16,6)', 'D(16,4)']);
    const result = await cli(['run', file, '--out', out, '--quiet', '--warehouse', warehouse], {
      env: podEnv(api, kubeconfig, 'pod-run'),
      timeoutMs: 60_000,
    });
    assert.equal(result.code, 0, result.stderr);
    const dir = await runFolderUnder(out);
    const run = JSON.parse(await readFile(join(dir, 'run.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(run.kubernetes, {
      namespace: 'team',
      benchmark_job: 'pod-run',
      job_uid: 'job-uid-1',
      pod_uid: 'pod-uid-1',
      pod_name: 'pod-run-abcde',
      node_name: 'node-a',
    });
    const report = await verifyRunFolder(dir);
    const status = merged(api);
    assert.equal(status.runId, run.run_id);
    assert.equal(status.artifactManifestDigest, report.artifact_manifest_digest);
    assert.equal(status.results, `file://${join(tmp(), 'store-pod-run')}/${String(run.run_id)}`);
    assert.deepEqual(status.outcome, { result: 'succeeded' });
    assert.equal(status.iterations?.length, 2);
    for (const line of status.iterations ?? []) {
      assert.equal(line.requests, 3);
      assert.equal(line.errors, 0);
      assert.equal(line.concurrency, 1);
      assert.ok((line.ttftP50Ms ?? 0) >= 40, `ttft p50 ${line.ttftP50Ms}`);
      assert.ok((line.outputTokensPerS ?? 0) > 0);
    }
    // Iterations this short end within one throttle interval: each end is written at once.
    const details = statuses(api).map((s) => s.details);
    assert.ok(
      details.includes('Finished iteration 1/2: D(16,6) concurrency=1, 3 requests, 0 errors'),
      details.join('\n'),
    );
    assert.equal(details[details.length - 1], 'Succeeded');
    const everything = JSON.stringify(api.requests) + result.stderr + result.stdout;
    assert.ok(!everything.includes(API_KEY), 'the API key reached the status or the output');
    assert.ok(!result.stderr.includes(TOKEN));

    // A run outside a pod (as every folder from before): no block, NULL in the warehouse.
    const plainOut = join(tmp(), 'runs-plain');
    const plain = await cli(['run', file, '--out', plainOut, '--quiet', '--warehouse', warehouse], {
      env: { ...process.env, RUNNER_TEST_KEY: API_KEY },
      timeoutMs: 60_000,
    });
    assert.equal(plain.code, 0, plain.stderr);
    const plainRun = JSON.parse(await readFile(join(await runFolderUnder(plainOut), 'run.json'), 'utf8')) as {
      run_id: string;
      kubernetes?: unknown;
    };
    assert.equal(plainRun.kubernetes, undefined);
    await Warehouse.using(warehouse, {}, async (w) => {
      const rows = await w.all(
        'SELECT run_id, job_uid, pod_uid, node_name FROM benchmark_run_fact ORDER BY job_uid NULLS LAST',
      );
      assert.deepEqual(
        rows.map((r) => ({ ...r })),
        [
          { run_id: run.run_id, job_uid: 'job-uid-1', pod_uid: 'pod-uid-1', node_name: 'node-a' },
          { run_id: plainRun.run_id, job_uid: null, pod_uid: null, node_name: null },
        ],
      );
    });
  } finally {
    await api.close();
  }
});

test('spec.cancel mid-run: the iteration under way stops, the finished one is kept, sealed and uploaded; exit 130; outcome cancelled', async () => {
  const api = await startApiStandIn();
  try {
    const kubeconfig = join(tmp(), 'kubeconfig-cancel');
    await writeFile(kubeconfig, api.kubeconfigYaml(TOKEN));
    api.object = { spec: {}, metadata: {} };
    const out = join(tmp(), 'runs-cancel');
    const file = await jobFile('cancel-run', 30, ['D(16,6)', 'D(16,5)', 'D(16,4)']);
    let cancelledAtMs = 0;
    const live = (d: string | undefined): boolean =>
      d?.startsWith('Running iteration 2/3: D(16,5) concurrency=1, ') === true &&
      /, \d+\/30 requests done$/.test(d);
    const watcher = setInterval(() => {
      // Once the status shows the second iteration under way, the user sets spec.cancel (kept in the annotation).
      if (cancelledAtMs === 0 && statuses(api).some((s) => live(s.details))) {
        cancelledAtMs = Date.now();
        api.object = { spec: {}, metadata: { annotations: { [SPEC_ANNOTATION]: '{"cancel":true}' } } };
      }
    }, 50);
    const result = await cli(['run', file, '--out', out, '--quiet', '--no-warehouse'], {
      env: podEnv(api, kubeconfig, 'cancel-run'),
      timeoutMs: 90_000,
    }).finally(() => clearInterval(watcher));
    assert.equal(result.code, 130, result.stderr);
    assert.ok(
      cancelledAtMs > 0,
      `the second iteration never showed live in the status:\n${statuses(api)
        .map((st) => st.details)
        .join('\n')}`,
    );
    const dir = await runFolderUnder(out);
    const report = await verifyRunFolder(dir);
    assert.equal(report.sealed, true);
    const summary = JSON.parse(await readFile(join(dir, 'summary.json'), 'utf8')) as {
      status: string;
      iterations_completed: number;
      iterations: Array<{ ended_by: string }>;
    };
    assert.equal(summary.status, 'interrupted');
    assert.equal(summary.iterations_completed, 1);
    assert.equal(summary.iterations[1]?.ended_by, 'interrupted');
    const status = merged(api);
    assert.deepEqual(status.outcome, { result: 'cancelled', reason: 'cancelled: spec.cancel is true' });
    assert.equal(status.artifactManifestDigest, report.artifact_manifest_digest);
    assert.ok(status.results?.startsWith('file://'), String(status.results));
  } finally {
    await api.close();
  }
});

/** `infermark shard` as a shard pod runs it: the run pod's environment, its own pod, its shard's token. */
function shardPod(env: NodeJS.ProcessEnv, url: string, index: number, token: string) {
  const pod = { ...env, [ENV.podUid]: `shard-pod-uid-${index}`, [ENV.podName]: `split-shard-${index}` };
  return shardProcess(url, index, token, { env: pod, timeoutMs: 90_000 });
}

test('a split run in pods: spec.cancel reaches the shards too; the merged run keeps the finished iteration and names the run pod', async () => {
  const api = await startApiStandIn();
  try {
    const kubeconfig = join(tmp(), 'kubeconfig-split');
    await writeFile(kubeconfig, api.kubeconfigYaml(TOKEN));
    api.object = { spec: {}, metadata: {} };
    const out = join(tmp(), 'runs-split');
    // Two shards of one slot each: 60 requests take about 9 s an iteration.
    const file = await jobFile('split', 60, ['D(16,6)', 'D(16,5)', 'D(16,4)'], 2);
    const env = podEnv(api, kubeconfig, 'split');
    const runToken = 'run-token-split-0123456789abcdef';
    const port = await freePort();
    const run = cli(
      [
        'run',
        file,
        '--workers',
        '2',
        '--coordinator-listen',
        `127.0.0.1:${port}`,
        '--out',
        out,
        '--quiet',
        '--no-warehouse',
      ],
      { env: { ...env, [COORDINATOR_TOKEN_ENV]: runToken }, timeoutMs: 90_000 },
    );
    await untilListening(port, 30_000);
    const url = `http://127.0.0.1:${port}`;
    const shards = [0, 1].map((i) => shardPod(env, url, i, shardToken(runToken, i)));
    let cancelledAtMs = 0;
    const watcher = setInterval(() => {
      if (
        cancelledAtMs === 0 &&
        statuses(api).some((s) => /^Running iteration 2\/3: .*requests done/.test(s.details ?? ''))
      ) {
        cancelledAtMs = Date.now();
        api.object = { spec: { cancel: true }, metadata: {} };
      }
    }, 50);
    const [result, ...ended] = await Promise.all([run, ...shards]).finally(() => clearInterval(watcher));
    assert.ok(
      cancelledAtMs > 0,
      statuses(api)
        .map((s) => s.details)
        .join('\n'),
    );
    assert.equal(result.code, 130, result.stderr);
    for (const [i, shard] of ended.entries()) assert.equal(shard.code, 130, `shard ${i}: ${shard.stderr}`);
    // Iteration 2 interrupted, not run to its end: the shards saw spec.cancel themselves.
    const dir = await runFolderUnder(out);
    const report = await verifyRunFolder(dir);
    assert.equal(report.sealed, true);
    const summary = JSON.parse(await readFile(join(dir, 'summary.json'), 'utf8')) as {
      status: string;
      iterations_completed: number;
      iterations: Array<{ ended_by: string }>;
    };
    assert.equal(summary.iterations_completed, 1);
    assert.equal(summary.iterations[1]?.ended_by, 'interrupted');
    const runJson = JSON.parse(await readFile(join(dir, 'run.json'), 'utf8')) as {
      kubernetes: { pod_uid: string };
    };
    assert.equal(runJson.kubernetes.pod_uid, 'pod-uid-1');
    const shard1 = JSON.parse(await readFile(join(dir, 'shards', '001', 'run.json'), 'utf8')) as {
      kubernetes: { pod_uid: string; pod_name: string };
    };
    assert.deepEqual(
      [shard1.kubernetes.pod_uid, shard1.kubernetes.pod_name],
      ['shard-pod-uid-1', 'split-shard-1'],
    );
    const status = merged(api);
    assert.equal(status.outcome?.result, 'cancelled');
    assert.equal(status.artifactManifestDigest, report.artifact_manifest_digest);
  } finally {
    await api.close();
  }
});

test('a job the runner refuses (exit 2) still ends its BenchmarkJob failed, with the reason', async () => {
  const api = await startApiStandIn();
  try {
    const kubeconfig = join(tmp(), 'kubeconfig-refused');
    await writeFile(kubeconfig, api.kubeconfigYaml(TOKEN));
    api.object = { spec: {}, metadata: {} };
    const file = await jobFile('refused', 3, ['D(16,6)']);
    await writeFile(
      file,
      (await readFile(file, 'utf8')).replace('maxRequestsPerIteration: 3', 'maxRequestsPerIteration: -3'),
    );
    const result = await cli(
      ['run', file, '--out', join(tmp(), 'runs-refused'), '--quiet', '--no-warehouse'],
      {
        env: podEnv(api, kubeconfig, 'refused'),
      },
    );
    assert.equal(result.code, 2, result.stderr);
    const outcome = merged(api).outcome as { result: string; reason: string };
    assert.equal(outcome.result, 'failed');
    assert.match(outcome.reason, /spec\.maxRequestsPerIteration: -3/);
  } finally {
    await api.close();
  }
});
