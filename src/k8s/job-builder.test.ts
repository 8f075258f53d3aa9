import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { validateJob } from '../spec/job-validate.js';
import { shardToken } from '../engine/shard-protocol.js';
import {
  configMapFor,
  coordinatorSecretFor,
  runJobFor,
  shardJobFor,
  type BuildInput,
} from './job-builder.js';

function input(spec: Record<string, unknown>, workers = 1): BuildInput {
  const document = {
    apiVersion: 'ome.io/v1beta1',
    kind: 'BenchmarkJob',
    metadata: { name: 'bench', namespace: 'perf' },
    spec: {
      endpoint: { endpoint: { url: 'http://m:8080/v1/completions', apiFormat: 'openai', modelName: 'm' } },
      task: 'text-to-text',
      numConcurrency: [1],
      maxTimePerIteration: 1,
      maxRequestsPerIteration: 10,
      ...spec,
    },
  };
  const validated = validateJob(document);
  assert.ok(validated.ok, JSON.stringify(!validated.ok && validated.issues));
  return {
    owner: { name: 'bench', namespace: 'perf', uid: 'uid-1' },
    job: validated.job,
    document,
    image: 'img:1',
    workers,
  };
}

test('the run Job: one attempt, owned by the BenchmarkJob, the job file mounted, identity from the downward API', () => {
  const built = runJobFor(
    input({
      apiKey: { secretRef: { name: 'keys', key: 'openai' } },
      huggingFaceSecretReference: { name: 'hf' },
      outputLocation: { storageUri: 'pvc://results/runs' },
    }),
  );
  assert.equal(built.metadata?.name, 'bench');
  assert.equal(built.spec?.backoffLimit, 0);
  assert.deepEqual(built.metadata?.ownerReferences?.[0], {
    apiVersion: 'ome.io/v1beta1',
    kind: 'BenchmarkJob',
    name: 'bench',
    uid: 'uid-1',
    controller: true,
    blockOwnerDeletion: true,
  });
  const pod = built.spec!.template.spec!;
  const container = pod.containers[0]!;
  assert.equal(container.name, 'benchmark');
  assert.deepEqual(container.args?.slice(0, 2), ['run', '/etc/infermark/job.yaml']);
  const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]));
  assert.deepEqual(env.INFERMARK_API_KEY, { secretKeyRef: { name: 'keys', key: 'openai' } });
  assert.deepEqual(env.HF_TOKEN, { secretKeyRef: { name: 'hf', key: 'token' } });
  assert.deepEqual(env.INFERMARK_POD_UID, { fieldRef: { fieldPath: 'metadata.uid' } });
  assert.deepEqual(env.INFERMARK_NODE_NAME, { fieldRef: { fieldPath: 'spec.nodeName' } });
  assert.equal(env.INFERMARK_JOB_UID, 'uid-1');
  assert.equal(env.INFERMARK_PVC_ROOT, '/mnt/pvc');
  assert.ok(pod.volumes?.some((v) => v.persistentVolumeClaim?.claimName === 'results'));
  assert.ok(container.volumeMounts?.some((m) => m.mountPath === '/mnt/pvc/results'));
  assert.equal(pod.serviceAccountName, 'infermark-runner');
  // The API key itself is nowhere in what the controller writes.
  assert.doesNotMatch(JSON.stringify(built), /sk-/);
});

test('podOverride merges by name: image, resources and affinity replace; env and volumes by name; tolerations add', () => {
  const built = runJobFor(
    input({
      podOverride: {
        image: 'mine:2',
        resources: { requests: { cpu: '4' } },
        env: [
          { name: 'EXTRA', value: '1' },
          { name: 'HF_HOME', value: '/cache' },
          { name: 'HF_HOME', value: '/models' },
        ],
        tolerations: [{ key: 'gpu', operator: 'Exists' }],
        nodeSelector: { pool: 'bench' },
        volumes: [{ name: 'data', emptyDir: {} }],
        volumeMounts: [{ name: 'data', mountPath: '/data' }],
      },
    }),
  );
  const pod = built.spec!.template.spec!;
  const container = pod.containers[0]!;
  assert.equal(container.image, 'mine:2');
  assert.deepEqual(container.resources, { requests: { cpu: '4' } });
  const env = container.env ?? [];
  assert.equal(env.filter((e) => e.name === 'HF_HOME').length, 1);
  assert.equal(env.find((e) => e.name === 'HF_HOME')?.value, '/models', 'by name, the last wins');
  assert.ok(env.some((e) => e.name === 'EXTRA'));
  assert.deepEqual(pod.tolerations, [{ key: 'gpu', operator: 'Exists' }]);
  assert.deepEqual(pod.nodeSelector, { pool: 'bench' });
  assert.ok(pod.volumes?.some((v) => v.name === 'job') && pod.volumes.some((v) => v.name === 'data'));
  assert.ok(container.volumeMounts?.some((m) => m.mountPath === '/data'));
});

test('a split run: the coordinator listens, each shard Job names its own index and token, no Indexed Job', () => {
  const split = input({ workers: 3 }, 3);
  const run = runJobFor(split);
  assert.deepEqual(run.spec!.template.spec!.containers[0]!.args?.slice(-4), [
    '--workers',
    '3',
    '--coordinator-listen',
    '0.0.0.0:7700',
  ]);
  const shard = shardJobFor(split, 2, '127.0.0.1');
  assert.equal(shard.metadata?.name, 'bench-shard-2');
  assert.equal(shard.spec?.completionMode, undefined);
  const container = shard.spec!.template.spec!.containers[0]!;
  assert.deepEqual(container.args, ['shard', '--coordinator', 'http://127.0.0.1:7700', '--shard', '2']);
  const token = container.env?.find((e) => e.name === 'INFERMARK_COORDINATOR_TOKEN');
  assert.deepEqual(token?.valueFrom?.secretKeyRef, { name: 'bench-coordinator', key: 'shard-2' });
  assert.equal(
    shardJobFor(split, 0, '::1').spec!.template.spec!.containers[0]!.args?.[2],
    'http://[::1]:7700',
  );
  const secret = coordinatorSecretFor(split, 'run-token');
  assert.equal(secret.stringData?.token, 'run-token');
  assert.equal(secret.stringData?.['shard-2'], shardToken('run-token', 2));
});

test('the ConfigMap holds the job document as YAML', () => {
  const built = input({ additionalRequestParams: { temperature: '0.0' } });
  const map = configMapFor(built);
  assert.equal(map.metadata?.name, 'bench-job');
  const job = parse(map.data!['job.yaml']!) as { spec: { additionalRequestParams: unknown } };
  assert.deepEqual(job.spec.additionalRequestParams, { temperature: '0.0' });
});

test('podOverride cannot change who the pod is: the BenchmarkJob it reports to, its tokens', () => {
  const built = runJobFor(
    input({
      podOverride: {
        env: [
          { name: 'INFERMARK_BENCHMARKJOB', value: 'someone-else' },
          { name: 'INFERMARK_COORDINATOR_TOKEN', value: 'forged' },
          { name: 'AWS_REGION', value: 'us-east-1' },
        ],
      },
    }),
  );
  const env = built.spec!.template.spec!.containers[0]!.env ?? [];
  assert.equal(env.find((e) => e.name === 'INFERMARK_BENCHMARKJOB')?.value, 'bench');
  assert.equal(
    env.find((e) => e.name === 'INFERMARK_COORDINATOR_TOKEN'),
    undefined,
  );
  assert.equal(env.find((e) => e.name === 'AWS_REGION')?.value, 'us-east-1');
});
