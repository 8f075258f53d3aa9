/**
 * The runner against a real API server (etcd + kube-apiserver + kube-controller-manager
 * 1.20, control-plane.ts): the BenchmarkJob CRD installed from deploy/, a ServiceAccount
 * granted only RUNNER_RULES, and `infermark run` as a child process with that account's
 * kubeconfig and a pod's environment, against the simulator in its own process. It keeps
 * the status current while it runs, ends with the outcome (succeeded; failed with the
 * reason when every request fails; cancelled on spec.cancel, finished iterations kept),
 * never writes the API key, and uses no verb beyond the rules. Runs under `npm run test:k8s`.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  RbacAuthorizationV1Api,
  loadYaml,
  setHeaderOptions,
  type KubeConfig,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { verifyRunFolder } from '../evidence/verify.js';
import { spawnSimulator, type SpawnedSimulator } from '../sim/spawn.js';
import { ENV, GROUP, PLURAL, RUNNER_ACCOUNT, VERSION } from './names.js';
import { policyRules, RUNNER_RULES } from './rbac.js';
import type { RunnerStatus } from './runner-status.js';
import { startControlPlane, type ControlPlane } from './testing/control-plane.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MAIN = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const CRD_FILE = join(ROOT, 'deploy', 'crd', `${PLURAL}.${GROUP}.yaml`);
const NS = 'bench';
const API_KEY = 'sk-k8s-runner-0123456789abcdef';

let plane: ControlPlane;
let kc: KubeConfig;
let sim: SpawnedSimulator;
let failing: SpawnedSimulator;
let tmp: string;
let runnerKubeconfig: string;

/** Creates the CRD from deploy/ and waits until the API server serves it (Established). */
async function installCrd(config: KubeConfig): Promise<void> {
  const api = config.makeApiClient(ApiextensionsV1Api);
  const crd = loadYaml<V1CustomResourceDefinition>(await readFile(CRD_FILE, 'utf8'));
  await api.createCustomResourceDefinition({ body: crd });
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const read = await api.readCustomResourceDefinition({ name: crd.metadata?.name ?? '' });
    if (read.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail('the CRD was not Established in 30 s');
}

/** The runner's ServiceAccount with RUNNER_RULES only, and a kubeconfig with its token. */
async function runnerAccount(config: KubeConfig): Promise<string> {
  const core = config.makeApiClient(CoreV1Api);
  const rbac = config.makeApiClient(RbacAuthorizationV1Api);
  await core.createNamespacedServiceAccount({ namespace: NS, body: { metadata: { name: RUNNER_ACCOUNT } } });
  await rbac.createNamespacedRole({
    namespace: NS,
    body: { metadata: { name: RUNNER_ACCOUNT }, rules: policyRules(RUNNER_RULES) },
  });
  await rbac.createNamespacedRoleBinding({
    namespace: NS,
    body: {
      metadata: { name: RUNNER_ACCOUNT },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: RUNNER_ACCOUNT },
      subjects: [{ kind: 'ServiceAccount', name: RUNNER_ACCOUNT, namespace: NS }],
    },
  });
  // 1.20: the tokens controller makes a Secret for the account and lists it in `secrets`.
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const account = await core.readNamespacedServiceAccount({ name: RUNNER_ACCOUNT, namespace: NS });
    const secretName = account.secrets?.[0]?.name;
    if (secretName) {
      const secret = await core.readNamespacedSecret({ name: secretName, namespace: NS });
      const token = secret.data?.token;
      if (token) return plane.kubeconfigFor(Buffer.from(token, 'base64').toString('utf8'), 'runner');
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return assert.fail('no token Secret for the runner account in 30 s');
}

interface Job {
  name: string;
  url: string;
  scenarios: string[];
  requests: number;
}

/** The BenchmarkJob in the API server, and the same job as the file the run pod reads. */
async function createJob(job: Job): Promise<string> {
  const spec = {
    endpoint: { endpoint: { url: job.url, apiFormat: 'openai', modelName: 'm' } },
    task: 'text-to-text',
    trafficScenarios: job.scenarios,
    numConcurrency: [1],
    maxTimePerIteration: 1,
    maxRequestsPerIteration: job.requests,
    outputLocation: { storageUri: `file://${join(tmp, `store-${job.name}`)}` },
    apiKey: { env: 'K8S_TEST_KEY' },
  };
  const object = {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'BenchmarkJob',
    metadata: { name: job.name, namespace: NS },
    spec,
  };
  await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace: NS,
    plural: PLURAL,
    body: object,
  });
  const file = join(tmp, `${job.name}.json`);
  // JSON is YAML: the job file as the controller's ConfigMap would hold it.
  await writeFile(file, JSON.stringify(object));
  return file;
}

async function readStatus(name: string): Promise<RunnerStatus & Record<string, unknown>> {
  const object = (await kc
    .makeApiClient(CustomObjectsApi)
    .getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: NS, plural: PLURAL, name })) as {
    status?: RunnerStatus & Record<string, unknown>;
  };
  return object.status ?? {};
}

interface Ran {
  code: number | null;
  stderr: string;
  /** Every distinct `details` seen while it ran. */
  details: string[];
  out: string;
}

/** `infermark run` as the run pod runs it; polls the status every 250 ms while it goes. */
async function runPod(
  name: string,
  file: string,
  whileRunning?: (status: RunnerStatus) => Promise<void>,
): Promise<Ran> {
  const out = join(tmp, `runs-${name}`);
  const child = spawn(process.execPath, [MAIN, 'run', file, '--out', out, '--quiet', '--no-warehouse'], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      ...process.env,
      KUBECONFIG: runnerKubeconfig,
      K8S_TEST_KEY: API_KEY,
      [ENV.benchmarkJob]: name,
      [ENV.namespace]: NS,
      [ENV.jobUid]: `uid-${name}`,
      [ENV.podUid]: `pod-uid-${name}`,
      [ENV.podName]: `${name}-x1`,
      [ENV.nodeName]: 'node-1',
    },
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const killer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  let done = false;
  void exited.then(() => (done = true));
  const details: string[] = [];
  while (!done) {
    const status = await readStatus(name);
    if (status.details && details[details.length - 1] !== status.details) details.push(status.details);
    await whileRunning?.(status);
    await new Promise((r) => setTimeout(r, 250));
  }
  clearTimeout(killer);
  return { code: await exited, stderr, details, out };
}

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'infermark-k8s-runner-'));
  // Each request takes about 40 + 5 × 40 = 240 ms.
  const timing = {
    model: 'm',
    ttftMs: 40,
    ttftPerInputTokenMs: 0,
    itlMs: 40,
    itlJitterMs: 0,
    batchSlowdown: 0,
  };
  [plane, sim, failing] = await Promise.all([
    startControlPlane(),
    spawnSimulator(timing),
    spawnSimulator({ ...timing, errorRate: 1 }),
  ]);
  kc = plane.kubeConfig();
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: NS } } });
  await installCrd(kc);
  runnerKubeconfig = await runnerAccount(kc);
});

after(async () => {
  await Promise.allSettled([plane?.stop(), sim?.close(), failing?.close()]);
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test('a run keeps its BenchmarkJob status current and ends it succeeded, with runId, iterations, digest and results', async (t) => {
  const file = await createJob({ name: 'ok', url: sim.url, scenarios: ['D(16,6)', 'D(16,5)'], requests: 12 });
  const ran = await runPod('ok', file);
  t.diagnostic(`details seen: ${ran.details.join(' | ')}`);
  assert.equal(ran.code, 0, ran.stderr);
  assert.ok(
    ran.details.some((d) =>
      /^Running iteration [12]\/2: D\(16,[56]\) concurrency=1, \d+\/12 requests done/.test(d),
    ),
    ran.details.join('\n'),
  );
  assert.ok(ran.details.length >= 3, `details seen: ${ran.details.join(' | ')}`);
  const status = await readStatus('ok');
  const dir = join(ran.out, String(status.runId));
  const report = await verifyRunFolder(dir);
  assert.equal(report.status, 'complete');
  assert.equal(status.artifactManifestDigest, report.artifact_manifest_digest);
  assert.equal(status.results, `file://${join(tmp, 'store-ok')}/${String(status.runId)}`);
  assert.deepEqual(status.outcome, { result: 'succeeded' });
  assert.equal(status.details, 'Succeeded');
  assert.deepEqual(
    status.iterations?.map((i) => [i.index, i.scenario, i.concurrency, i.requests, i.errors]),
    [
      [0, 'D(16,6)', 1, 12, 0],
      [1, 'D(16,5)', 1, 12, 0],
    ],
  );
  for (const line of status.iterations ?? []) {
    // The simulator's first token comes after 40 ms: the client cannot see it sooner.
    assert.ok(
      (line.ttftP50Ms ?? 0) >= 40 && (line.ttftP99Ms ?? 0) >= (line.ttftP50Ms ?? 0),
      JSON.stringify(line),
    );
    assert.ok((line.outputTokensPerS ?? 0) > 0);
  }
  const runJson = JSON.parse(await readFile(join(dir, 'run.json'), 'utf8')) as { kubernetes: unknown };
  assert.deepEqual(runJson.kubernetes, {
    namespace: NS,
    benchmark_job: 'ok',
    job_uid: 'uid-ok',
    pod_uid: 'pod-uid-ok',
    pod_name: 'ok-x1',
    node_name: 'node-1',
  });
  assert.ok(!JSON.stringify(status).includes(API_KEY), 'the API key is in the status');
  assert.doesNotMatch(ran.stderr, /not updated|not read/);
  // The runner's account used only what RUNNER_RULES grant, and was never refused.
  const user = `system:serviceaccount:${NS}:${RUNNER_ACCOUNT}`;
  const used = (await plane.audit()).filter(
    (e) => e.user.username === user && e.stage === 'ResponseComplete',
  );
  const verbs = new Set(
    used.map(
      (e) =>
        `${e.verb} ${e.objectRef?.resource}${e.objectRef?.subresource ? `/${e.objectRef.subresource}` : ''} ${e.responseStatus?.code}`,
    ),
  );
  assert.deepEqual([...verbs].sort(), ['get benchmarkjobs 200', 'patch benchmarkjobs/status 200']);
});

test('a run whose every request fails ends failed, with the reason in the status', async (t) => {
  const file = await createJob({ name: 'bad', url: failing.url, scenarios: ['D(16,6)'], requests: 8 });
  const ran = await runPod('bad', file);
  assert.equal(ran.code, 1, ran.stderr);
  const status = await readStatus('bad');
  assert.equal(status.outcome?.result, 'failed');
  const reason = (status.outcome as { reason: string }).reason;
  t.diagnostic(`outcome: ${JSON.stringify(status.outcome)}`);
  assert.match(reason, /stopped early|no measured request completed|error rate/);
  assert.match(String(status.details), /^Failed: /);
  assert.ok(status.artifactManifestDigest, 'a failed run is sealed and uploaded too');
  assert.ok(!JSON.stringify(status).includes(API_KEY));
});

test('spec.cancel mid-run: exit 130, the finished iteration kept and sealed, outcome cancelled', async () => {
  const file = await createJob({
    name: 'stop',
    url: sim.url,
    scenarios: ['D(16,6)', 'D(16,5)', 'D(16,4)'],
    requests: 30,
  });
  let cancelled = false;
  const ran = await runPod('stop', file, async (status) => {
    // The second iteration is under way: the user sets spec.cancel (a merge patch of the spec).
    if (!cancelled && status.details?.startsWith('Running iteration 2/3')) {
      cancelled = true;
      await kc.makeApiClient(CustomObjectsApi).patchNamespacedCustomObject(
        {
          group: GROUP,
          version: VERSION,
          namespace: NS,
          plural: PLURAL,
          name: 'stop',
          body: { spec: { cancel: true } },
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    }
  });
  assert.ok(cancelled, `the second iteration never showed: ${ran.details.join(' | ')}`);
  assert.equal(ran.code, 130, ran.stderr);
  const status = await readStatus('stop');
  assert.deepEqual(status.outcome, { result: 'cancelled', reason: 'cancelled: spec.cancel is true' });
  assert.equal(status.iterations?.length, 2, JSON.stringify(status.iterations));
  const dir = join(ran.out, String(status.runId));
  const report = await verifyRunFolder(dir);
  assert.equal(report.sealed, true);
  assert.equal(status.artifactManifestDigest, report.artifact_manifest_digest);
  const summary = JSON.parse(await readFile(join(dir, 'summary.json'), 'utf8')) as {
    status: string;
    iterations_completed: number;
  };
  assert.equal(summary.status, 'interrupted');
  assert.equal(summary.iterations_completed, 1);
});
