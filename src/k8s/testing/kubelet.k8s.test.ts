import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import {
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  RbacAuthorizationV1Api,
  type V1Pod,
} from '@kubernetes/client-node';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION } from '../names.js';
import { kubeBinDir, startControlPlane, type ControlPlane } from './control-plane.js';
import { installCrd } from './crd.js';
import { startKubelet, type Kubelet } from './kubelet.js';
import { until } from './bench-cluster.js';

const MAIN = fileURLToPath(new URL('../../cli/main.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const NS = 'kubelet-test';
const skip = kubeBinDir() ? false : 'INFERMARK_KUBE_BIN is not set (run with `npm run test:k8s`)';

let plane: ControlPlane;
let kubelet: Kubelet;
let core: CoreV1Api;

const gone = async (name: string): Promise<true | undefined> => {
  try {
    await core.readNamespacedPod({ name, namespace: NS });
    return undefined;
  } catch (error) {
    if ((error as { code?: number }).code === 404) return true;
    throw error;
  }
};

/** Creates a pod once the namespace's ServiceAccount admission lets it (its token exists). */
const createPod = (pod: V1Pod): Promise<V1Pod> =>
  until(`create pod ${pod.metadata?.name}`, 20_000, () =>
    core.createNamespacedPod({ namespace: NS, body: pod }),
  );

const podPhase = (name: string, phases: string[]) =>
  until(`pod ${name} in ${phases.join('|')}`, 20_000, async () => {
    const pod = await core.readNamespacedPod({ name, namespace: NS });
    return phases.includes(pod.status?.phase ?? '') ? pod : undefined;
  });

before(async () => {
  if (skip) return;
  plane = await startControlPlane();
  const kc = plane.kubeConfig();
  core = kc.makeApiClient(CoreV1Api);
  kubelet = await startKubelet({ kubeConfig: kc, certDir: join(plane.dir, 'certs'), infermarkMain: MAIN });
  await core.createNamespace({ body: { metadata: { name: NS } } });
  await core.createNamespacedSecret({
    namespace: NS,
    body: { metadata: { name: 'creds' }, stringData: { key: 's3cret' } },
  });
  await core.createNamespacedConfigMap({
    namespace: NS,
    body: { metadata: { name: 'cfg' }, data: { 'job.yaml': 'hello: 1\n', greeting: 'hi there' } },
  });
  // Until the tokens controller gave the namespace's ServiceAccount a token, admission refuses pods
  // (and the Job controller backs off).
  await until('the default ServiceAccount has a token', 20_000, async () => {
    const sa = await core.readNamespacedServiceAccount({ name: 'default', namespace: NS });
    return sa.secrets?.length ? sa : undefined;
  });
});

after(async () => {
  // INFERMARK_KUBELET_NOTES=1 prints what the kubelet did, to see why a pod did not run.
  if (process.env.INFERMARK_KUBELET_NOTES) console.log(kubelet?.notes().join('\n'));
  await kubelet?.stop();
  await plane?.stop();
});

test(
  'a Job runs through the real Job controller and the kubelet; its log reads through the API server',
  { skip },
  async () => {
    const batch = plane.kubeConfig().makeApiClient(BatchV1Api);
    await batch.createNamespacedJob({
      namespace: NS,
      body: {
        metadata: { name: 'version' },
        spec: {
          backoffLimit: 0,
          template: {
            spec: {
              restartPolicy: 'Never',
              containers: [
                {
                  name: 'benchmark',
                  image: 'infermark:test',
                  command: ['infermark', '--version'],
                  env: [{ name: 'API_KEY', valueFrom: { secretKeyRef: { name: 'creds', key: 'key' } } }],
                  volumeMounts: [{ name: 'job', mountPath: '/etc/infermark' }],
                },
              ],
              volumes: [{ name: 'job', configMap: { name: 'cfg' } }],
            },
          },
        },
      },
    });
    await until('Job complete', 30_000, async () => {
      const job = await batch.readNamespacedJob({ name: 'version', namespace: NS });
      return job.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True')
        ? job
        : undefined;
    });
    const [pod] = (await core.listNamespacedPod({ namespace: NS, labelSelector: 'job-name=version' })).items;
    assert.ok(pod?.metadata?.name);
    assert.equal(pod.spec?.nodeName, kubelet.nodeName);
    assert.equal(pod.status?.phase, 'Succeeded');
    assert.equal(pod.status?.containerStatuses?.[0]?.state?.terminated?.reason, 'Completed');

    const run = kubelet.run(NS, pod.metadata.name);
    assert.equal(run?.env.API_KEY, 's3cret');
    assert.equal(await readFile(join(run?.root ?? '', 'etc/infermark/job.yaml'), 'utf8'), 'hello: 1\n');
    const { version } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const log = await core.readNamespacedPodLog({
      name: pod.metadata.name,
      namespace: NS,
      container: 'benchmark',
    });
    assert.equal(log.trim(), version);
    const tail = await core.readNamespacedPodLog({
      name: pod.metadata.name,
      namespace: NS,
      tailLines: 1,
      limitBytes: 3,
    });
    assert.equal(tail, version.slice(0, 3));
  },
);

test(
  'a failing pod: exit code, termination message, downward API, mapped paths, nothing leaked',
  { skip },
  async () => {
    const script = `
    const fs = require('node:fs');
    const [file, messageFile] = process.argv.slice(1);
    console.log(JSON.stringify({ env: process.env, file: fs.readFileSync(file, 'utf8'), cwd: process.cwd() }));
    fs.writeFileSync(messageFile, 'bye: three');
    process.exit(3);`;
    const created = await createPod({
      metadata: { name: 'env-pod', labels: { app: 'probe' } },
      spec: {
        restartPolicy: 'Never',
        containers: [
          {
            name: 'main',
            image: 'node',
            command: ['node', '-e', script],
            args: ['/etc/cfg/greeting', '/dev/termination-log'],
            workingDir: '/work',
            env: [
              { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
              { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
              { name: 'POD_UID', valueFrom: { fieldRef: { fieldPath: 'metadata.uid' } } },
              { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
              { name: 'ACCOUNT', valueFrom: { fieldRef: { fieldPath: 'spec.serviceAccountName' } } },
              { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
              { name: 'APP', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
              { name: 'FROM_MAP', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'greeting' } } },
              { name: 'ABSENT', valueFrom: { secretKeyRef: { name: 'nope', key: 'k', optional: true } } },
              { name: 'DATA', value: '/data/out' },
              { name: 'NAMED', value: '$(POD_NAME)-x' },
            ],
            volumeMounts: [
              { name: 'cfg', mountPath: '/etc/cfg' },
              { name: 'scratch', mountPath: '/data' },
            ],
          },
        ],
        volumes: [
          { name: 'cfg', configMap: { name: 'cfg', items: [{ key: 'greeting', path: 'greeting' }] } },
          { name: 'scratch', emptyDir: {} },
        ],
      },
    });
    const pod = await podPhase('env-pod', ['Failed']);
    const terminated = pod.status?.containerStatuses?.[0]?.state?.terminated;
    assert.equal(terminated?.exitCode, 3);
    assert.equal(terminated?.reason, 'Error');
    assert.equal(terminated?.message, 'bye: three');

    const run = kubelet.run(NS, 'env-pod');
    assert.ok(run);
    const printed = JSON.parse((await kubelet.logOf(NS, 'env-pod')).trim()) as {
      env: Record<string, string>;
      file: string;
      cwd: string;
    };
    const { env } = printed;
    assert.equal(printed.file, 'hi there');
    assert.equal(printed.cwd, join(run.root, 'work'));
    assert.equal(env.POD_NAME, 'env-pod');
    assert.equal(env.POD_NAMESPACE, NS);
    assert.equal(env.POD_UID, created.metadata?.uid);
    assert.equal(env.NODE_NAME, kubelet.nodeName);
    assert.equal(env.ACCOUNT, 'default');
    assert.equal(env.POD_IP, '127.0.0.1');
    assert.equal(env.APP, 'probe');
    assert.equal(env.FROM_MAP, 'hi there');
    assert.equal(env.NAMED, 'env-pod-x');
    assert.equal(env.DATA, join(run.root, 'data/out'));
    assert.ok(env.HOME?.startsWith(run.root) && env.TMPDIR?.startsWith(run.root));
    // Only what the pod asked for plus the kubelet's own: the test process's environment stays out.
    const own = ['PATH', 'HOME', 'TMPDIR', 'HOSTNAME', 'KUBECONFIG', 'NODE_OPTIONS'];
    const asked = [
      'POD_NAME',
      'POD_NAMESPACE',
      'POD_UID',
      'NODE_NAME',
      'ACCOUNT',
      'POD_IP',
      'APP',
      'FROM_MAP',
      'DATA',
      'NAMED',
    ];
    const extra = Object.keys(env).filter((key) => !own.includes(key) && !asked.includes(key));
    assert.deepEqual(extra, []);
  },
);

test(
  'deleting a running pod ends its process (SIGTERM, then SIGKILL after the grace) and the pod goes',
  { skip },
  async () => {
    const sleeper = (name: string, code: string, grace_s: number): V1Pod => ({
      metadata: { name },
      spec: {
        restartPolicy: 'Never',
        terminationGracePeriodSeconds: grace_s,
        containers: [{ name: 'main', image: 'node', command: ['node', '-e', code] }],
      },
    });
    await createPod(
      sleeper(
        'polite',
        `setInterval(() => {}, 1000); process.on('SIGTERM', () => { console.log('got SIGTERM'); process.exit(0); }); console.log('up');`,
        30,
      ),
    );
    await createPod(
      sleeper(
        'stubborn',
        `setInterval(() => {}, 1000); process.on('SIGTERM', () => console.log('ignoring SIGTERM')); console.log('up');`,
        1,
      ),
    );
    for (const name of ['polite', 'stubborn']) {
      await podPhase(name, ['Running']);
      // Running is written at spawn; the handler is installed once the script printed.
      await until(`${name} up`, 10_000, async () =>
        (await kubelet.logOf(NS, name)).includes('up') ? true : undefined,
      );
    }
    const pids = ['polite', 'stubborn'].map((name) => kubelet.run(NS, name)?.pid);
    const started = Date.now();
    await core.deleteNamespacedPod({ name: 'polite', namespace: NS });
    await core.deleteNamespacedPod({ name: 'stubborn', namespace: NS });
    await until('both pods gone', 15_000, async () =>
      (await gone('polite')) && (await gone('stubborn')) ? true : undefined,
    );
    const elapsed_ms = Date.now() - started;
    for (const pid of pids) {
      assert.ok(pid);
      assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' });
    }
    assert.match(await kubelet.logOf(NS, 'polite'), /got SIGTERM/);
    assert.equal(kubelet.run(NS, 'polite')?.exitCode, 0);
    assert.match(await kubelet.logOf(NS, 'stubborn'), /ignoring SIGTERM/);
    assert.equal(kubelet.run(NS, 'stubborn')?.signal, 'SIGKILL');
    // The stubborn one had its 1 s grace, not the default 30 s.
    assert.ok(elapsed_ms >= 900 && elapsed_ms < 12_000, `${elapsed_ms} ms`);
  },
);

test("a pod's kubeconfig carries its ServiceAccount's rights, not the admin's", { skip }, async () => {
  const kc = plane.kubeConfig();
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  await core.createNamespacedServiceAccount({ namespace: NS, body: { metadata: { name: 'reader' } } });
  await rbac.createNamespacedRole({
    namespace: NS,
    body: {
      metadata: { name: 'pod-reader' },
      rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }],
    },
  });
  await rbac.createNamespacedRoleBinding({
    namespace: NS,
    body: {
      metadata: { name: 'reader' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-reader' },
      subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace: NS }],
    },
  });
  const script = `
    const k8s = await import(process.argv[1]);
    const kc = new k8s.KubeConfig();
    kc.loadFromDefault();
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const namespace = process.env.NS;
    const status = (call) => call.then(() => 200, (error) => error.code);
    console.log(JSON.stringify({
      pod: await status(core.readNamespacedPod({ name: process.env.POD, namespace })),
      secrets: await status(core.listNamespacedSecret({ namespace })),
    }));`;
  await createPod({
    metadata: { name: 'rights' },
    spec: {
      restartPolicy: 'Never',
      serviceAccountName: 'reader',
      containers: [
        {
          name: 'main',
          image: 'node',
          command: [
            'node',
            '--input-type=module',
            '-e',
            script,
            import.meta.resolve('@kubernetes/client-node'),
          ],
          env: [
            { name: 'NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
            { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
          ],
        },
      ],
    },
  });
  const run = await kubelet.waitExited(NS, 'rights', 30_000);
  const log = await kubelet.logOf(NS, 'rights');
  assert.equal(run.exitCode, 0, log);
  assert.deepEqual(JSON.parse(log.trim()), { pod: 200, secrets: 403 });
});

test(
  'pods that wait, never start or cannot start; claims are folders of pvcRoot; logs follow',
  { skip },
  async () => {
    const script = `
    const [dir] = process.argv.slice(1);
    require('node:fs').writeFileSync(dir + '/results/out.txt', process.env.TOKEN);
    console.log('one');
    setTimeout(() => console.log('two'), 1500);`;
    await createPod({
      metadata: { name: 'later' },
      spec: {
        restartPolicy: 'Never',
        containers: [
          {
            name: 'main',
            image: 'node',
            command: ['node', '-e', script, '$(ROOT)'],
            env: [
              { name: 'ROOT', value: '/mnt/pvc' },
              { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'later', key: 'token' } } },
            ],
            volumeMounts: [{ name: 'results', mountPath: '/mnt/pvc/results' }],
          },
        ],
        volumes: [{ name: 'results', persistentVolumeClaim: { claimName: 'results' } }],
      },
    });
    await createPod({
      metadata: { name: 'no-binary' },
      spec: {
        restartPolicy: 'Never',
        containers: [{ name: 'main', image: 'x', command: ['no-such-command-here'] }],
      },
    });
    await createPod({
      metadata: { name: 'loud-failure' },
      spec: {
        restartPolicy: 'Never',
        containers: [
          {
            name: 'main',
            image: 'node',
            command: ['node', '-e', "console.log('x'.repeat(3000)); console.error('boom'); process.exit(2)"],
            terminationMessagePolicy: 'FallbackToLogsOnError',
          },
        ],
      },
    });
    await createPod({
      metadata: { name: 'never-started' },
      spec: {
        restartPolicy: 'Never',
        containers: [
          { name: 'main', image: 'x', command: ['true'], volumeMounts: [{ name: 'v', mountPath: '/v' }] },
        ],
        volumes: [{ name: 'v', configMap: { name: 'absent' } }],
      },
    });
    const waitingPod = await until('pod later waiting on its Secret', 20_000, async () => {
      const pod = await core.readNamespacedPod({ name: 'later', namespace: NS });
      return pod.status?.containerStatuses?.[0]?.state?.waiting ? pod : undefined;
    });
    assert.equal(waitingPod.status?.phase, 'Pending');
    assert.equal(
      waitingPod.status?.containerStatuses?.[0]?.state?.waiting?.reason,
      'CreateContainerConfigError',
    );
    assert.match(
      waitingPod.status?.containerStatuses?.[0]?.state?.waiting?.message ?? '',
      /Secret kubelet-test\/later/,
    );
    assert.equal(kubelet.run(NS, 'later'), null);

    await core.createNamespacedSecret({
      namespace: NS,
      body: { metadata: { name: 'later' }, stringData: { token: 'tok' } },
    });
    await podPhase('later', ['Running']);
    const followed = await core.readNamespacedPodLog({ name: 'later', namespace: NS, follow: true });
    assert.equal(followed, 'one\ntwo\n');
    await podPhase('later', ['Succeeded']);
    assert.equal(await readFile(join(kubelet.pvcRoot, NS, 'results', 'out.txt'), 'utf8'), 'tok');

    // Bound to the node but never started: the kubelet deletes it at once.
    const stuck = await until('never-started waiting for its ConfigMap', 10_000, async () => {
      const pod = await core.readNamespacedPod({ name: 'never-started', namespace: NS });
      return pod.status?.containerStatuses?.[0]?.state?.waiting ? pod : undefined;
    });
    assert.equal(stuck.status?.containerStatuses?.[0]?.state?.waiting?.reason, 'ContainerCreating');
    await core.deleteNamespacedPod({ name: 'never-started', namespace: NS });
    await until('never-started gone', 5000, () => gone('never-started'));
    assert.equal(kubelet.run(NS, 'never-started'), null);

    const loud = (await podPhase('loud-failure', ['Failed'])).status?.containerStatuses?.[0]?.state
      ?.terminated;
    assert.equal(loud?.exitCode, 2);
    // The last 2 KiB of the log (stdout and stderr), since the container wrote no message file.
    assert.equal(loud?.message?.length, 2048);
    assert.match(loud?.message ?? '', /^x+\nboom\n$/);

    const failed = await podPhase('no-binary', ['Failed']);
    const terminated = failed.status?.containerStatuses?.[0]?.state?.terminated;
    assert.equal(terminated?.reason, 'StartError');
    assert.equal(terminated?.exitCode, 128);
    assert.match(terminated?.message ?? '', /no-such-command-here/);
  },
);

test('the CRD installs and the API serves BenchmarkJobs', { skip }, async () => {
  const kc = plane.kubeConfig();
  const crd = await installCrd(kc);
  assert.equal(crd.metadata?.name, `${PLURAL}.${GROUP}`);
  // A second install (an apply of the same file) is harmless.
  await installCrd(kc);
  const custom = kc.makeApiClient(CustomObjectsApi);
  // A seed job applies unchanged (but for its namespace) and keeps its fields.
  const seed = parse(await readFile(join(ROOT, 'examples', 'seed-s3.yaml'), 'utf8')) as {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace?: string };
    spec: Record<string, unknown>;
  };
  assert.equal(seed.apiVersion, API_VERSION);
  assert.equal(seed.kind, KIND);
  seed.metadata.namespace = NS;
  await custom.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace: NS,
    plural: PLURAL,
    body: seed,
  });
  const got = (await custom.getNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace: NS,
    plural: PLURAL,
    name: seed.metadata.name,
  })) as { spec: Record<string, unknown> };
  assert.deepEqual(got.spec, seed.spec);
});

test('stop() ends every process the kubelet started, children of its pods included', { skip }, async () => {
  const script = `
    const child = require('node:child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    console.log(child.pid);
    setInterval(() => {}, 1000);`;
  await createPod({
    metadata: { name: 'left-running' },
    spec: {
      restartPolicy: 'Never',
      containers: [{ name: 'main', image: 'node', command: ['node', '-e', script] }],
    },
  });
  const grandchild = await until('the pod printed its child', 20_000, async () => {
    const pid = Number.parseInt(await kubelet.logOf(NS, 'left-running'), 10);
    return Number.isInteger(pid) ? pid : undefined;
  });
  const pid = kubelet.run(NS, 'left-running')?.pid;
  assert.ok(pid);
  process.kill(grandchild, 0);
  await kubelet.stop();
  for (const each of [pid, grandchild]) {
    // A killed grandchild is reaped by init a moment later.
    await until(`pid ${each} gone`, 5000, async () => {
      try {
        process.kill(each, 0);
        return undefined;
      } catch (error) {
        return (error as { code?: string }).code === 'ESRCH' ? true : undefined;
      }
    });
  }
});
