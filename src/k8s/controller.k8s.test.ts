/**
 * The controller against a real API server, kube-controller-manager (the real Job
 * controller and garbage collector) and the tests' kubelet, which runs each pod's
 * `infermark` as a local process against the simulator. The seed BenchmarkJobs apply as
 * OME users write them: only the endpoint (the simulator) and the output location (a
 * claim's folder, s3rver) are pointed at what runs here.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { ApiextensionsV1Api } from '@kubernetes/client-node';
import { startSimulator, type SimulatorHandle } from '../sim/server.js';
import { startS3rver, type S3rverHandle } from '../storage/testing/s3rver.js';
import { CONTROLLER_NAME, CONTROLLER_NAMESPACE, GROUP, PLURAL, VERSION } from './names.js';
import { CONTROLLER_LEASE_RULES, CONTROLLER_RULES } from './rbac.js';
import type { BenchmarkJobObject, State } from './resource.js';
import {
  MAIN,
  startBenchCluster,
  until,
  type BenchCluster,
  type ControllerProcess,
} from './testing/bench-cluster.js';
import { kubeBinDir } from './testing/control-plane.js';
import { freePort } from '../base/testing/free-port.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const skip = kubeBinDir() ? false : 'INFERMARK_KUBE_BIN is not set (run with `npm run test:k8s`)';

let cluster: BenchCluster;
let leader: ControllerProcess;
let follower: ControllerProcess;
const sims: SimulatorHandle[] = [];
let s3: S3rverHandle;

/** Fast as a server can be here: no prefill, no gaps, 64 tokens per event. */
const fast = {
  ttftMs: 0,
  ttftPerInputTokenMs: 0,
  itlMs: 0,
  itlJitterMs: 0,
  capacity: 512,
  tokensPerChunk: 64,
};

async function seed(file: string): Promise<BenchmarkJobObject> {
  return parse(await readFile(join(ROOT, 'examples', file), 'utf8')) as BenchmarkJobObject;
}

/** Every state and details the status went through, polled until a terminal state. */
async function follow(namespace: string, name: string, timeoutMs: number) {
  const states: State[] = [];
  const details: string[] = [];
  const last = await until(`${namespace}/${name} to finish`, timeoutMs, async () => {
    const bj = await cluster.get(namespace, name);
    const status = bj?.status;
    if (status?.state && states.at(-1) !== status.state) states.push(status.state);
    if (status?.details && details.at(-1) !== status.details) details.push(status.details);
    return status?.state && ['Completed', 'Failed', 'Cancelled'].includes(status.state) ? bj! : undefined;
  });
  return { states, details, last };
}

/** A BenchmarkJob in `default` against a simulator, its spec's load fields given. */
function simJob(
  name: string,
  simUrl: string,
  storageUri: string,
  load: Record<string, unknown>,
): BenchmarkJobObject {
  return {
    apiVersion: 'ome.io/v1beta1',
    kind: 'BenchmarkJob',
    metadata: { name, namespace: 'default', uid: '' },
    spec: {
      endpoint: { endpoint: { url: `${simUrl}/v1/completions`, apiFormat: 'openai', modelName: 'm' } },
      task: 'text-to-text',
      ...load,
      outputLocation: { storageUri },
    },
  };
}

/** Six iterations of about 2 s each (10 requests × 100 tokens × 2 ms, one at a time). */
const SIX_SLOW_ITERATIONS = {
  trafficScenarios: ['D(10,100)', 'D(11,100)', 'D(12,100)', 'D(13,100)', 'D(14,100)', 'D(15,100)'],
  numConcurrency: [1],
  maxTimePerIteration: 1,
  maxRequestsPerIteration: 10,
};

function verify(dir: string): { code: number | null; out: string } {
  const result = spawnSync(process.execPath, [MAIN, 'verify', dir], { encoding: 'utf8' });
  return { code: result.status, out: `${result.stdout}${result.stderr}` };
}

before(async () => {
  if (skip) return;
  cluster = await startBenchCluster({ coordinatorPort: await freePort() });
  s3 = await startS3rver({ bucket: 'benchmarks' });
  leader = cluster.controller('controller-a');
  await until('controller-a to lead', 20_000, async () =>
    leader.output().includes('leading') ? true : undefined,
  );
  follower = cluster.controller('controller-b');
});

after(async () => {
  if (skip) return;
  await cluster?.stop();
  await s3?.dispose();
  for (const sim of sims) await sim.close();
});

test(
  'seed 1 (an InferenceService endpoint, OCI output) runs: Pending → Running with live details → Completed, the run folder in the claim',
  { skip },
  async () => {
    const job = await seed('seed-oci-llama.yaml');
    const isvc = job.spec!.endpoint as { inferenceService: { name: string; namespace: string } };
    const sim = await startSimulator({ ...fast, model: isvc.inferenceService.name });
    sims.push(sim);
    await cluster.namespace(job.metadata.namespace);
    await cluster.namespace(isvc.inferenceService.namespace);
    // OME's InferenceService, as far as the controller reads it: Ready, with the URL it serves at.
    await cluster.kc.makeApiClient(ApiextensionsV1Api).createCustomResourceDefinition({
      body: {
        metadata: { name: 'inferenceservices.ome.io' },
        spec: {
          group: 'ome.io',
          names: { kind: 'InferenceService', plural: 'inferenceservices', singular: 'inferenceservice' },
          scope: 'Namespaced',
          versions: [
            {
              name: 'v1beta1',
              served: true,
              storage: true,
              schema: { openAPIV3Schema: { type: 'object', x_kubernetes_preserve_unknown_fields: true } },
            },
          ],
        },
      },
    });
    const isvcApi = {
      group: 'ome.io',
      version: 'v1beta1',
      plural: 'inferenceservices',
      namespace: isvc.inferenceService.namespace,
    };
    await until('the InferenceService CRD to serve', 20_000, () =>
      cluster.custom
        .createNamespacedCustomObject({
          ...isvcApi,
          body: {
            apiVersion: 'ome.io/v1beta1',
            kind: 'InferenceService',
            metadata: { name: isvc.inferenceService.name },
            status: { url: sim.url, conditions: [{ type: 'Ready', status: 'False' }] },
          },
        })
        .then(() => true),
    );
    job.spec!.outputLocation = { storageUri: 'pvc://results/seeds' };
    await cluster.apply(job);
    const { namespace, name } = job.metadata;
    // Not Ready yet: the controller waits and says so; no Job.
    await until('waiting for the InferenceService', 20_000, async () => {
      const bj = await cluster.get(namespace, name);
      return bj?.status?.details?.includes('to be Ready') ? true : undefined;
    });
    assert.equal((await cluster.jobs(namespace)).length, 0);
    const ready = (await cluster.custom.getNamespacedCustomObject({
      ...isvcApi,
      name: isvc.inferenceService.name,
    })) as Record<string, unknown>;
    (ready.status as { conditions: unknown[] }).conditions = [{ type: 'Ready', status: 'True' }];
    await cluster.custom.replaceNamespacedCustomObject({
      ...isvcApi,
      name: isvc.inferenceService.name,
      body: ready,
    });

    const { states, details, last } = await follow(namespace, name, 180_000);
    assert.deepEqual(states, ['Pending', 'Running', 'Completed'], JSON.stringify(last.status));
    // Live: the runner's details moved with the iterations (each takes well under a second here).
    assert.ok(
      details.filter((d) => /(Running|Finished) iteration \d+\/45/.test(d)).length >= 5,
      `live details: ${details.join(' | ')}`,
    );
    const status = last.status!;
    assert.match(status.runId ?? '', /\S/);
    assert.match(status.artifactManifestDigest ?? '', /^sha256:[0-9a-f]{64}$/);
    assert.ok(status.startTime && status.completionTime);
    assert.equal(status.iterations?.length, 45);
    // The run folder in the claim's folder, verified, with the digest the status shows.
    const folder = join(cluster.kubelet.pvcRoot, namespace, 'results', 'seeds', status.runId!);
    assert.ok(existsSync(join(folder, 'manifest.json')), folder);
    const verified = verify(folder);
    assert.equal(verified.code, 0, verified.out);
    const run = JSON.parse(await readFile(join(folder, 'run.json'), 'utf8')) as {
      kubernetes?: Record<string, string>;
    };
    assert.equal(run.kubernetes?.job_uid, last.metadata.uid);
    assert.equal(run.kubernetes?.node_name, cluster.kubelet.nodeName);
    // What the job asks of its requests reached them (OME's controller dropped these).
    const jobs = await cluster.jobs(namespace);
    assert.equal(jobs.length, 1, 'one Job');
    const configMap = await cluster.core.readNamespacedConfigMap({ namespace, name: `${name}-job` });
    assert.match(configMap.data!['job.yaml']!, /temperature: "0.0"/);
    const events = (await cluster.core.listNamespacedEvent({ namespace })).items.filter(
      (e) => e.involvedObject.name === name && e.involvedObject.kind === 'BenchmarkJob',
    );
    assert.ok(
      events.some((e) => e.reason === 'JobCreated'),
      events.map((e) => e.reason).join(','),
    );
    // Only the leader acted.
    assert.deepEqual([...new Set(events.map((e) => e.reportingInstance))], ['controller-a']);
    assert.doesNotMatch(follower.output(), /: leading/);
  },
);

test(
  'seed 2 (a direct URL, S3 output) runs to Completed with its run folder in s3rver, credentials from a Secret',
  { skip },
  async () => {
    const job = await seed('seed-s3.yaml');
    const endpoint = (job.spec!.endpoint as { endpoint: { url: string; modelName: string } }).endpoint;
    const sim = await startSimulator({ ...fast, model: endpoint.modelName });
    sims.push(sim);
    endpoint.url = `${sim.url}/v1/completions`;
    await cluster.namespace(job.metadata.namespace);
    await cluster.core.createNamespacedSecret({
      namespace: job.metadata.namespace,
      body: {
        metadata: { name: 's3-credentials' },
        stringData: { id: s3.accessKeyId, secret: s3.secretAccessKey },
      },
    });
    job.spec!.outputLocation = {
      storageUri: `s3://${s3.bucket}/experiments/2024`,
      parameters: { aws_region: 'us-east-1' },
    };
    job.spec!.podOverride = {
      env: [
        { name: 'AWS_ENDPOINT_URL', value: s3.endpoint },
        { name: 'AWS_ACCESS_KEY_ID', valueFrom: { secretKeyRef: { name: 's3-credentials', key: 'id' } } },
        {
          name: 'AWS_SECRET_ACCESS_KEY',
          valueFrom: { secretKeyRef: { name: 's3-credentials', key: 'secret' } },
        },
      ],
    };
    await cluster.apply(job);
    const { states, last } = await follow(job.metadata.namespace, job.metadata.name, 120_000);
    assert.deepEqual(states.at(-1), 'Completed', JSON.stringify(last.status));
    assert.ok(states.includes('Running'));
    const runId = last.status!.runId!;
    assert.match(last.status!.results ?? '', new RegExp(`^s3://${s3.bucket}/experiments/2024/${runId}`));
    // Fetched back from s3rver and verified, digest for digest.
    const into = join(cluster.plane.dir, 'downloaded');
    const fetched = spawnSync(
      process.execPath,
      [
        MAIN,
        'download',
        `s3://${s3.bucket}/experiments/2024`,
        runId,
        into,
        ...Object.entries(s3.parameters()).flatMap(([k, v]) => ['--param', `${k}=${v}`]),
      ],
      { encoding: 'utf8' },
    );
    assert.equal(fetched.status, 0, `${fetched.stdout}${fetched.stderr}`);
    assert.ok(existsSync(join(into, 'manifest.json')));
    assert.doesNotMatch(JSON.stringify(last.status), new RegExp(s3.secretAccessKey));
  },
);

test('a run whose every request fails ends Failed, saying why', { skip }, async () => {
  const sim = await startSimulator({ ...fast, model: 'm', errorRate: 1 });
  sims.push(sim);
  const job = await seed('seed-s3.yaml');
  job.metadata = { ...job.metadata, name: 'all-fail', namespace: 'default' };
  job.spec = {
    ...job.spec,
    endpoint: { endpoint: { url: `${sim.url}/v1/completions`, apiFormat: 'openai', modelName: 'm' } },
    numConcurrency: [2],
    maxRequestsPerIteration: 10,
    outputLocation: { storageUri: 'pvc://results/failing' },
  };
  await cluster.apply(job);
  const { last } = await follow('default', 'all-fail', 60_000);
  assert.equal(last.status?.state, 'Failed');
  assert.match(last.status?.failureMessage ?? '', /error|fail/i);
  const events = (await cluster.core.listNamespacedEvent({ namespace: 'default' })).items.filter(
    (e) => e.involvedObject.name === 'all-fail' && e.type === 'Warning',
  );
  assert.ok(events.length >= 1, 'a Warning event says it failed');
});

test('workers: 3 runs three shard pods and one merged, verifiable run', { skip }, async () => {
  const sim = await startSimulator({ ...fast, model: 'm' });
  sims.push(sim);
  const job = simJob('split', sim.url, 'pvc://results/split', {
    trafficScenarios: ['D(100,100)'],
    numConcurrency: [3, 6],
    maxTimePerIteration: 1,
    maxRequestsPerIteration: 60,
    workers: 3,
  });
  await cluster.apply(job);
  const { last } = await follow('default', 'split', 120_000);
  assert.equal(last.status?.state, 'Completed', JSON.stringify(last.status));
  const shardJobs = (await cluster.jobs('default')).filter((j) =>
    /^split-shard-\d$/.test(j.metadata?.name ?? ''),
  );
  assert.equal(shardJobs.length, 3);
  const shardPods = cluster.kubelet.pods().filter((p) => p.name.startsWith('split-shard-'));
  assert.equal(shardPods.length, 3, 'three shard pods ran');
  assert.ok(
    shardPods.every((p) => p.exitCode === 0),
    JSON.stringify(shardPods.map((p) => [p.name, p.exitCode, p.message])),
  );
  const folder = join(cluster.kubelet.pvcRoot, 'default', 'results', 'split', last.status!.runId!);
  assert.equal(verify(folder).code, 0, verify(folder).out);
  assert.deepEqual((await readdir(join(folder, 'shards'))).sort(), ['000', '001', '002']);
  const records = (await readFile(join(folder, 'iterations', '000', 'requests.jsonl'), 'utf8'))
    .trim()
    .split('\n');
  assert.equal(records.length, 60);
  assert.deepEqual(
    new Set(records.map((r) => (JSON.parse(r) as { shard_index: number }).shard_index)),
    new Set([0, 1, 2]),
  );
});

test(
  'the leader killed mid-run: the other replica takes over, no second Job, the status still advances',
  { skip },
  async () => {
    const sim = await startSimulator({ ...fast, itlMs: 1, tokensPerChunk: 1, model: 'm' });
    sims.push(sim);
    const job = simJob('failover', sim.url, 'pvc://results/failover', {
      trafficScenarios: ['D(10,200)'],
      numConcurrency: [1, 2, 4],
      maxTimePerIteration: 1,
      maxRequestsPerIteration: 20,
    });
    await cluster.apply(job);
    await until('failover Running', 60_000, async () =>
      (await cluster.get('default', 'failover'))?.status?.state === 'Running' ? true : undefined,
    );
    const jobUid = (await cluster.batch.readNamespacedJob({ namespace: 'default', name: 'failover' }))
      .metadata?.uid;
    await leader.kill();
    await until('controller-b to lead', 30_000, async () =>
      follower.output().includes(': leading') ? true : undefined,
    );
    // The crashed one comes back: it finds the Lease held and stands by.
    leader = cluster.controller('controller-a');
    const { last } = await follow('default', 'failover', 120_000);
    assert.equal(last.status?.state, 'Completed', JSON.stringify(last.status));
    const jobs = (await cluster.jobs('default')).filter((j) => j.metadata?.name === 'failover');
    assert.equal(jobs.length, 1);
    assert.equal(jobs[0]!.metadata?.uid, jobUid, 'the same Job: none was made again');
    const creates = (await cluster.plane.audit()).filter(
      (e) =>
        e.verb === 'create' &&
        e.objectRef?.resource === 'jobs' &&
        e.objectRef.name === 'failover' &&
        e.stage === 'ResponseComplete',
    );
    assert.equal(creates.length, 1, 'one create of the Job in the audit log');
    assert.doesNotMatch(leader.output(), /: leading/);
  },
);

test('spec.cancel ends the run cleanly, keeping its finished iterations', { skip }, async () => {
  const sim = await startSimulator({ ...fast, itlMs: 2, tokensPerChunk: 1, model: 'm' });
  sims.push(sim);
  const job = simJob('cancelled', sim.url, 'pvc://results/cancel', SIX_SLOW_ITERATIONS);
  await cluster.apply(job);
  await until('two iterations finished', 60_000, async () => {
    const bj = await cluster.get('default', 'cancelled');
    return (bj?.status?.iterations?.length ?? 0) >= 2 ? true : undefined;
  });
  await cluster.custom.patchNamespacedCustomObject(
    {
      group: GROUP,
      version: VERSION,
      plural: PLURAL,
      namespace: 'default',
      name: 'cancelled',
      body: { spec: { cancel: true } },
    },
    (await import('./kube.js')).mergePatch(),
  );
  const { last } = await follow('default', 'cancelled', 60_000);
  assert.equal(last.status?.state, 'Cancelled', JSON.stringify(last.status));
  const kept = last.status?.iterations?.length ?? 0;
  assert.ok(kept >= 2 && kept < 6, `iterations kept: ${kept}`);
  // Sealed as an interrupted run: partial (exit 3), not corrupt.
  const folder = join(cluster.kubelet.pvcRoot, 'default', 'results', 'cancel', last.status!.runId!);
  const verified = verify(folder);
  assert.equal(verified.code, 3, verified.out);
  assert.match(verified.out, /PARTIAL, sealed \(interrupted\)/);
});

test(
  'deleting a BenchmarkJob mid-run stops and removes its Job and pod; what was uploaded stays',
  { skip },
  async () => {
    const sim = await startSimulator({ ...fast, itlMs: 2, tokensPerChunk: 1, model: 'm' });
    sims.push(sim);
    const job = simJob('deleted', sim.url, 'pvc://results/deleted', SIX_SLOW_ITERATIONS);
    await cluster.apply(job);
    await until('one iteration finished', 60_000, async () => {
      const bj = await cluster.get('default', 'deleted');
      return (bj?.status?.iterations?.length ?? 0) >= 1 ? true : undefined;
    });
    await cluster.custom.deleteNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: PLURAL,
      namespace: 'default',
      name: 'deleted',
    });
    await until('the BenchmarkJob gone', 60_000, async () =>
      (await cluster.get('default', 'deleted')) === null ? true : undefined,
    );
    assert.equal((await cluster.jobs('default')).filter((j) => j.metadata?.name === 'deleted').length, 0);
    await until('its pod gone', 30_000, async () => {
      const pods = await cluster.core.listNamespacedPod({
        namespace: 'default',
        labelSelector: 'infermark.io/benchmarkjob=deleted',
      });
      return pods.items.length === 0 ? true : undefined;
    });
    // Stopped, not killed: the runner sealed and uploaded what it finished.
    const root = join(cluster.kubelet.pvcRoot, 'default', 'results', 'deleted');
    const runs = await readdir(root);
    assert.equal(runs.length, 1);
    const verified = verify(join(root, runs[0]!));
    assert.equal(verified.code, 3, `sealed as interrupted (partial), not corrupt: ${verified.out}`);
  },
);

test(
  "RBAC: the controller's roles grant exactly what it used in these runs, and nothing it needed was refused",
  { skip },
  async () => {
    const user = `system:serviceaccount:${CONTROLLER_NAMESPACE}:${CONTROLLER_NAME}`;
    const events = (await cluster.plane.audit()).filter(
      (e) => e.user.username === user && e.stage === 'ResponseComplete',
    );
    assert.ok(events.length > 50, `the controller's requests are in the audit log (${events.length})`);
    const refused = events.filter((e) => e.responseStatus?.code === 403);
    assert.deepEqual(
      refused.map((e) => `${e.verb} ${e.requestURI}`),
      [],
      'nothing the controller asked for was forbidden',
    );
    const key = (group: string, resource: string, verb: string): string =>
      `${group || 'core'} ${resource} ${verb}`;
    const used = new Set(
      events.map((e) =>
        key(
          e.objectRef?.apiGroup ?? '',
          `${e.objectRef?.resource ?? ''}${e.objectRef?.subresource ? `/${e.objectRef.subresource}` : ''}`,
          e.verb,
        ),
      ),
    );
    const granted = [...CONTROLLER_RULES, ...CONTROLLER_LEASE_RULES].flatMap((rule) =>
      rule.apiGroups.flatMap((group) =>
        rule.resources.flatMap((resource) => rule.verbs.map((verb) => key(group, resource, verb))),
      ),
    );
    // `bind` is checked when a RoleBinding is created, not requested: its use is that create.
    const unused = granted.filter((g) => !used.has(g) && !g.endsWith(' bind'));
    assert.deepEqual(unused, [], `granted but never used: ${unused.join('; ')}`);
    assert.ok(used.has(key('rbac.authorization.k8s.io', 'rolebindings', 'create')), 'the bind was exercised');
  },
);
