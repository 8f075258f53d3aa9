// `infermark k8s …` against a real API server (etcd + kube-apiserver + kube-controller-manager
// 1.20 on loopback, src/k8s/testing/control-plane.ts). The test plays the controller and the
// runner: it patches the BenchmarkJob's status as they would and creates the run pod; a small
// HTTPS server on loopback plays the kubelet's log endpoint, which the API server proxies
// `pods/log` to. The run folder `results` fetches is a real one: `infermark run` against the
// simulator, uploaded to a file:// outputLocation.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubernetesObjectApi,
  loadAllYaml,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type KubernetesObject,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { verifyRunFolder } from '../evidence/verify.js';
import { CONTAINER, GROUP, LABEL_JOB, LABEL_ROLE, PLURAL, SPEC_ANNOTATION, VERSION } from '../k8s/names.js';
import { startControlPlane, type ControlPlane } from '../k8s/testing/control-plane.js';
import { spawnSimulator, type SpawnedSimulator } from '../sim/spawn.js';
import { assertNoStack, cli, runFolderUnder, writeJobYaml, type CliResult } from './testing/harness.js';

let plane: ControlPlane;
let kc: KubeConfig;
let sim: SpawnedSimulator;
let tmp: string;
let manifests: KubernetesObject[];

const NS = 'default';
const custom = (): CustomObjectsApi => kc.makeApiClient(CustomObjectsApi);

/** Creates the CRD and returns once the API serves benchmarkjobs (what src/k8s/testing/crd.ts will do). */
async function installCrd(crd: V1CustomResourceDefinition): Promise<void> {
  const api = kc.makeApiClient(ApiextensionsV1Api);
  await api.createCustomResourceDefinition({ body: crd });
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await custom().listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, limit: 1 });
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'infermark-k8s-cli-'));
  [plane, sim] = await Promise.all([
    startControlPlane(),
    spawnSimulator({ model: 'm', ttftMs: 2, ttftPerInputTokenMs: 0, itlMs: 1, itlJitterMs: 0 }),
  ]);
  kc = plane.kubeConfig();
  const printed = await cli(['k8s', 'manifests'], { timeoutMs: 30_000 });
  assert.equal(printed.code, 0, printed.stderr);
  manifests = loadAllYaml(printed.stdout) as KubernetesObject[];
  await installCrd(
    manifests.find((m) => m.kind === 'CustomResourceDefinition') as V1CustomResourceDefinition,
  );
});

after(async () => {
  await Promise.all([plane?.stop(), sim?.close()]);
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const k8s = (args: string[], options: Parameters<typeof cli>[1] = {}): Promise<CliResult> =>
  cli(['k8s', ...args, '--kubeconfig', plane.kubeconfigPath], { timeoutMs: 60_000, ...options });

async function readJob(name: string): Promise<Record<string, unknown>> {
  return (await custom().getNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace: NS,
    plural: PLURAL,
    name,
  })) as Record<string, unknown>;
}

/** What the controller and the runner write, through the status subresource. */
async function patchStatus(name: string, status: Record<string, unknown>): Promise<void> {
  await custom().patchNamespacedCustomObjectStatus(
    { group: GROUP, version: VERSION, namespace: NS, plural: PLURAL, name, body: { status } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
}

async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeout_ms = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeout_ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function jobFile(name: string, spec: string[] = []): Promise<string> {
  return writeJobYaml(join(tmp, `${name}.yaml`), {
    name,
    url: sim.url,
    scenarios: ['D(16,6)'],
    concurrency: [1, 2],
    maxRequestsPerIteration: 4,
    spec,
  });
}

test('`k8s manifests` applies object by object: the CRD, RBAC and the Deployment are accepted', async () => {
  const objects = KubernetesObjectApi.makeApiClient(kc);
  const kinds: string[] = [];
  for (const manifest of manifests) {
    kinds.push(manifest.kind ?? '?');
    if (manifest.kind === 'CustomResourceDefinition') continue; // installed in before, from this output
    await objects.create(manifest);
  }
  assert.deepEqual(kinds, [
    'CustomResourceDefinition',
    'ClusterRole',
    'Namespace',
    'ServiceAccount',
    'ClusterRole',
    'ClusterRoleBinding',
    'Role',
    'RoleBinding',
    'Deployment',
  ]);
  const deployment = (await objects.read({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'infermark-controller', namespace: 'infermark-system' },
  })) as KubernetesObject & { spec: { replicas: number } };
  assert.equal(deployment.spec.replicas, 2);
  // The API server kept every rule as written (an unknown verb or field would be dropped or refused).
  const role = (await objects.read({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: 'infermark-controller' },
  })) as KubernetesObject & { rules: { verbs: string[] }[] };
  const printed = manifests.find(
    (m) => m.kind === 'ClusterRole' && m.metadata?.name === 'infermark-controller',
  ) as (KubernetesObject & { rules: { verbs: string[] }[] }) | undefined;
  assert.deepEqual(
    role.rules.map((r) => r.verbs),
    printed?.rules.map((r) => r.verbs),
  );
});

test('`k8s submit` creates the BenchmarkJob: OME fields in spec, additions in the annotation; a second submit exits 2', async () => {
  const file = await jobFile('with-workers', ['workers: 2', "slos: ['p99_ttft_ms<=500']"]);
  const created = await k8s(['submit', file]);
  assert.equal(created.code, 0, created.stderr);
  assert.match(created.stdout, /benchmarkjob\.ome\.io\/with-workers created in namespace default/);
  assert.match(created.stdout, /annotation infermark\.io\/spec: workers, slos/);
  const stored = await readJob('with-workers');
  const spec = stored.spec as Record<string, unknown>;
  assert.equal(spec.task, 'text-to-text');
  assert.deepEqual(spec.numConcurrency, [1, 2]);
  assert.equal(spec.maxRequestsPerIteration, 4);
  assert.equal((spec.endpoint as { endpoint: { modelName: string } }).endpoint.modelName, 'm');
  assert.equal(spec.workers, undefined, 'additions stay out of spec');
  const annotations = (stored.metadata as { annotations: Record<string, string> }).annotations;
  assert.deepEqual(JSON.parse(annotations[SPEC_ANNOTATION]!), { workers: 2, slos: ['p99_ttft_ms<=500'] });
  const again = await k8s(['submit', file]);
  assert.equal(again.code, 2, again.stderr);
  assertNoStack(again);
  assert.match(again.stderr, /benchmarkjob default\/with-workers already exists: pass --replace/);
});

test("`k8s submit` of a bad job exits 2 with `infermark validate`'s message and creates nothing", async () => {
  const file = await jobFile('bad-job', ['workers: 0']);
  const validate = await cli(['validate', file]);
  const submit = await k8s(['submit', file]);
  assert.equal(validate.code, 2);
  assert.equal(submit.code, 2);
  assertNoStack(submit);
  assert.equal(submit.stderr, validate.stderr);
  assert.match(submit.stderr, /spec\.workers/);
  await assert.rejects(readJob('bad-job'), (error: { code?: number }) => error.code === 404);
  // A namespace that disagrees with the file's, and a bad timeout: exit 2 before any request.
  const nsFile = join(tmp, 'ns.yaml');
  await writeFile(
    nsFile,
    (await readFile(await jobFile('ns-job'), 'utf8')).replace(
      'name: ns-job',
      'name: ns-job\n  namespace: team-a',
    ),
  );
  const clash = await k8s(['submit', nsFile, '-n', 'team-b']);
  assert.equal(clash.code, 2);
  assert.match(clash.stderr, /metadata\.namespace: "team-a": differs from --namespace "team-b"/);
  const timeout = await k8s(['submit', await jobFile('t-job'), '--wait', '--timeout', 'soon']);
  assert.equal(timeout.code, 2);
  assert.match(timeout.stderr, /--timeout: "soon": expected seconds/);
});

test('`k8s submit --wait` follows Pending → Running → Completed and prints the summary, exit 0', async () => {
  const file = await jobFile('follow-ok');
  let stderr = '';
  const running = k8s(['submit', file, '--wait', '--timeout', '60'], { onStderr: (text) => (stderr = text) });
  await until('the object', async () => (await readJob('follow-ok').catch(() => null)) !== null);
  await patchStatus('follow-ok', { state: 'Pending', lastReconcileTime: new Date().toISOString() });
  await until('the Pending line', () => /follow-ok: Pending/.test(stderr));
  await patchStatus('follow-ok', {
    state: 'Running',
    startTime: '2026-12-07T09:00:00Z',
    details: 'Running iteration 2/2: D(16,6) concurrency=2',
  });
  await until('the Running line', () =>
    /Running: Running iteration 2\/2: D\(16,6\) concurrency=2/.test(stderr),
  );
  await patchStatus('follow-ok', {
    state: 'Completed',
    completionTime: '2026-12-07T09:01:00Z',
    details: 'Completed 2/2 iterations',
    runId: 'run-20261207-abc',
    artifactManifestDigest: 'sha256:0123',
    results: 'file:///store/exp/run-20261207-abc',
    iterations: [
      {
        index: 0,
        scenario: 'D(16,6)',
        concurrency: 1,
        requests: 4,
        errors: 0,
        ttftP50Ms: 2.5,
        ttftP99Ms: 3.25,
        outputTokensPerS: 410.4,
      },
      {
        index: 1,
        scenario: 'D(16,6)',
        rateRps: 5,
        requests: 4,
        errors: 1,
        ttftP50Ms: null,
        ttftP99Ms: null,
        outputTokensPerS: null,
      },
    ],
    outcome: { result: 'succeeded' },
  });
  const result = await running;
  assert.equal(result.code, 0, result.stderr);
  // Not a terminal: a line per change, in order.
  const states = result.stderr
    .split('\n')
    .map((line) => /^follow-ok: (no status yet|\w+)/.exec(line)?.[1])
    .filter((state) => state !== undefined && state !== 'no status yet');
  assert.deepEqual(states, ['Pending', 'Running', 'Completed']);
  assert.match(result.stdout, /benchmarkjob default\/follow-ok: Completed/);
  assert.match(result.stdout, /run: run-20261207-abc/);
  assert.match(result.stdout, /results: file:\/\/\/store\/exp\/run-20261207-abc/);
  assert.match(
    result.stdout,
    /#\s+scenario\s+concurrency\s+requests\s+errors\s+TTFT p50 ms\s+TTFT p99 ms\s+output tok\/s/,
  );
  assert.match(result.stdout, /0\s+D\(16,6\)\s+1\s+4\s+0\s+2\.5\s+3\.3\s+410\.4/);
  assert.match(result.stdout, /1\s+D\(16,6\)\s+5 rps\s+4\s+1\s+—\s+—\s+—/);

  const json = await k8s(['status', 'follow-ok', '--json']);
  assert.equal(json.code, 0, json.stderr);
  const parsed = JSON.parse(json.stdout) as {
    name: string;
    namespace: string;
    status: Record<string, unknown>;
  };
  assert.equal(parsed.name, 'follow-ok');
  assert.equal(parsed.status.runId, 'run-20261207-abc');
  assert.equal((parsed.status.iterations as unknown[]).length, 2);
  const plain = await k8s(['status', 'follow-ok']);
  // The summary `submit --wait` ended with, after its "created" line.
  assert.equal(plain.stdout, result.stdout.slice(result.stdout.indexOf('\n') + 1));
  const missing = await k8s(['status', 'no-such-job']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /no benchmarkjob default\/no-such-job at https:\/\/127\.0\.0\.1:\d+/);
});

test('`k8s submit --wait`: Failed exits 1 with the reason, Cancelled 130, a timeout 124', async () => {
  const failing = k8s(['submit', await jobFile('follow-fail'), '--wait']);
  await until('the object', async () => (await readJob('follow-fail').catch(() => null)) !== null);
  await patchStatus('follow-fail', {
    state: 'Failed',
    failureMessage: 'error rate 1.00 is above maxErrorRate 0.5 (http_5xx 8)',
    outcome: { result: 'failed', reason: 'error rate 1.00 is above maxErrorRate 0.5 (http_5xx 8)' },
  });
  const failed = await failing;
  assert.equal(failed.code, 1, failed.stderr);
  assertNoStack(failed);
  assert.match(failed.stdout, /failed: error rate 1\.00 is above maxErrorRate 0\.5/);
  assert.match(failed.stderr, /benchmarkjob default\/follow-fail failed: error rate 1\.00/);

  const cancelling = k8s(['submit', await jobFile('follow-cancel'), '--wait']);
  await until('the object', async () => (await readJob('follow-cancel').catch(() => null)) !== null);
  await patchStatus('follow-cancel', {
    state: 'Cancelled',
    outcome: { result: 'cancelled', reason: 'spec.cancel' },
  });
  assert.equal((await cancelling).code, 130);

  const started = Date.now();
  const timedOut = await k8s(['submit', await jobFile('follow-slow'), '--wait', '--timeout', '1.5']);
  assert.equal(timedOut.code, 124, timedOut.stderr);
  assert.ok(Date.now() - started < 20_000);
  assert.match(timedOut.stderr, /timed out after 2 s waiting for benchmarkjob default\/follow-slow/);
});

test('`k8s results` downloads the run folder from the outputLocation and verifies it; a tampered one exits 1', async () => {
  const store = join(tmp, 'store');
  const file = await jobFile('with-results', [
    `outputLocation: { storageUri: 'file://${store}' }`,
    'resultFolderName: exp',
  ]);
  const out = join(tmp, 'runs');
  const run = await cli(['run', file, '--out', out, '--quiet', '--no-warehouse'], { timeoutMs: 60_000 });
  assert.equal(run.code, 0, run.stderr);
  const folder = await runFolderUnder(out);
  const report = await verifyRunFolder(folder);
  const runId = report.run_id!;
  const submitted = await k8s(['submit', file]);
  assert.equal(submitted.code, 0, submitted.stderr);
  await patchStatus('with-results', {
    state: 'Completed',
    runId,
    artifactManifestDigest: report.artifact_manifest_digest,
    results: `file://${store}/exp/${runId}`,
  });

  const dest = join(tmp, 'fetched');
  const fetched = await k8s(['results', 'with-results', '--out', dest]);
  assert.equal(fetched.code, 0, fetched.stderr);
  assert.match(fetched.stdout, new RegExp(`downloaded file://${store}/exp/${runId} to ${dest}`));
  assert.match(fetched.stdout, /COMPLETE, sealed/);
  assert.match(fetched.stdout, /verified: .* is the whole run, as sealed/);
  assert.equal((await verifyRunFolder(dest)).artifact_manifest_digest, report.artifact_manifest_digest);

  // A byte changed in the store: the downloaded folder does not verify.
  const summary = join(store, 'exp', runId, 'summary.json');
  const text = await readFile(summary, 'utf8');
  await writeFile(summary, text.replace(/"status":\s*"complete"/, '"status": "complate"'));
  const tampered = await k8s(['results', 'with-results', '--out', join(tmp, 'fetched-2')]);
  assert.equal(tampered.code, 1, tampered.stdout + tampered.stderr);
  assertNoStack(tampered);
  assert.match(tampered.stdout, /CORRUPT/);
  await writeFile(summary, text);
  // Whole, but not the run the runner reported.
  await patchStatus('with-results', { artifactManifestDigest: 'sha256:00' });
  const other = await k8s(['results', 'with-results', '--out', join(tmp, 'fetched-3')]);
  assert.equal(other.code, 1);
  assert.match(other.stderr, /is not the one benchmarkjob default\/with-results reports \(sha256:00\)/);
  // No results yet: says so.
  await patchStatus('with-results', { results: null, state: 'Running' });
  const none = await k8s(['results', 'with-results']);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /has no results yet \(state Running\)/);
});

/** The kubelet's log endpoint, as the API server calls it: /containerLogs/NS/POD/CONTAINER. */
async function fakeKubeletLogs(lines: string[]): Promise<{ server: Server; port: number; paths: string[] }> {
  const paths: string[] = [];
  const server = createServer(
    {
      key: await readFile(join(plane.dir, 'certs', 'apiserver.key')),
      cert: await readFile(join(plane.dir, 'certs', 'apiserver.crt')),
    },
    (req, res) => {
      paths.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'text/plain' });
      const follow = (req.url ?? '').includes('follow=true');
      let i = 0;
      const next = (): void => {
        if (i >= lines.length) return void res.end();
        res.write(`${lines[i++]}\n`);
        if (follow) setTimeout(next, 50);
        else next();
      };
      next();
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, paths };
}

test('`k8s logs` picks the run pod by its labels and streams its log through the API server', async () => {
  const core = kc.makeApiClient(CoreV1Api);
  const kubelet = await fakeKubeletLogs(['iteration 0 done', 'iteration 1 done', 'sealed']);
  try {
    await core.createNode({ body: { metadata: { name: 'node-a' } } });
    await core.patchNodeStatus(
      {
        name: 'node-a',
        body: {
          status: {
            addresses: [{ type: 'InternalIP', address: '127.0.0.1' }],
            daemonEndpoints: { kubeletEndpoint: { Port: kubelet.port } },
          },
        },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const pod = (
      name: string,
      role: string,
      job = 'logs-job',
    ): Parameters<CoreV1Api['createNamespacedPod']>[0] => ({
      namespace: NS,
      body: {
        metadata: { name, labels: { [LABEL_JOB]: job, [LABEL_ROLE]: role } },
        spec: { nodeName: 'node-a', containers: [{ name: CONTAINER, image: 'infermark' }] },
      },
    });
    await core.createNamespacedPod(pod('logs-job-shard-0-x', 'shard'));
    await core.createNamespacedPod(pod('other-job-run-x', 'run', 'other-job'));
    const none = await k8s(['logs', 'logs-job']);
    assert.equal(none.code, 1);
    assert.match(
      none.stderr,
      /has no run pod \(label infermark\.io\/benchmarkjob=logs-job,infermark\.io\/role=run\) yet/,
    );
    await core.createNamespacedPod(pod('logs-job-run-x', 'run'));
    const pending = await k8s(['logs', 'logs-job']);
    assert.equal(pending.code, 1);
    assert.match(pending.stderr, /pod default\/logs-job-run-x has not started yet \(Pending\)/);
    await core.patchNamespacedPodStatus(
      { name: 'logs-job-run-x', namespace: NS, body: { status: { phase: 'Running' } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const logs = await k8s(['logs', 'logs-job']);
    assert.equal(logs.code, 0, logs.stderr);
    assert.equal(logs.stdout, 'iteration 0 done\niteration 1 done\nsealed\n');
    const followed = await k8s(['logs', 'logs-job', '--follow']);
    assert.equal(followed.code, 0, followed.stderr);
    assert.equal(followed.stdout, 'iteration 0 done\niteration 1 done\nsealed\n');
    assert.deepEqual(
      kubelet.paths.map((p) => p.split('?')[0]),
      ['/containerLogs/default/logs-job-run-x/benchmark', '/containerLogs/default/logs-job-run-x/benchmark'],
    );
    assert.match(kubelet.paths[1]!, /follow=true/);
  } finally {
    kubelet.server.close();
  }
});

test('connection errors say which server and why, and never print the token', async () => {
  const config = join(tmp, 'bad.kubeconfig');
  const text = await readFile(plane.kubeconfigPath, 'utf8');
  await writeFile(config, text.replace(/server: https:\/\/127\.0\.0\.1:\d+/, 'server: https://127.0.0.1:1'));
  const refused = await cli(['k8s', 'status', 'x', '--kubeconfig', config], { timeoutMs: 30_000 });
  assert.equal(refused.code, 1);
  assertNoStack(refused);
  assert.match(
    refused.stderr,
    /cannot reach the Kubernetes API server at https:\/\/127\.0\.0\.1:1 \(context "admin"\)/,
  );
  assert.match(refused.stderr, /ECONNREFUSED/);
  const wrongToken = join(tmp, 'token.kubeconfig');
  await writeFile(wrongToken, text.replace(plane.token, 'not-the-token-0123456789'));
  const refusedToken = await cli(['k8s', 'status', 'x', '--kubeconfig', wrongToken], { timeoutMs: 30_000 });
  assert.equal(refusedToken.code, 1);
  assert.match(refusedToken.stderr, /refused the credentials \(401 Unauthorized\)/);
  for (const result of [refused, refusedToken]) {
    assert.ok(!(result.stdout + result.stderr).includes(plane.token));
    assert.ok(!(result.stdout + result.stderr).includes('not-the-token-0123456789'));
  }
  const badContext = await cli([
    'k8s',
    'status',
    'x',
    '--kubeconfig',
    plane.kubeconfigPath,
    '--context',
    'prod',
  ]);
  assert.equal(badContext.code, 2);
  assert.match(
    badContext.stderr,
    /--context: "prod": no such context in the kubeconfig; expected one of: admin/,
  );
});

// Last: a foreground deletion of a custom object waits for the garbage collector, which learns
// of a new CRD on its next discovery (up to 30 s after the CRD was installed).
test('`k8s submit --replace` deletes the existing BenchmarkJob (foreground) and creates the new one', async (t) => {
  const file = join(tmp, 'with-workers.yaml');
  const uid = ((await readJob('with-workers')).metadata as { uid: string }).uid;
  const started = Date.now();
  const replaced = await k8s(['submit', file, '--replace']);
  assert.equal(replaced.code, 0, replaced.stderr);
  assert.match(replaced.stdout, /with-workers replaced/);
  assert.notEqual(((await readJob('with-workers')).metadata as { uid: string }).uid, uid);
  t.diagnostic(`--replace took ${Date.now() - started} ms`);
});
