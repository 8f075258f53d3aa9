/**
 * A whole test cluster for the controller's tests: the real control plane, the CRD, the
 * runner's ClusterRole, the tests' kubelet, and `infermark controller` processes started
 * and killed as a test needs (each a child process, so a kill is a real crash).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  RbacAuthorizationV1Api,
  KubernetesObjectApi,
  type KubeConfig,
  type KubernetesObject,
  type V1Job,
} from '@kubernetes/client-node';
import { CONTROLLER_NAME, CONTROLLER_NAMESPACE, GROUP, PLURAL, VERSION } from '../names.js';
import type { BenchmarkJobObject } from '../resource.js';
import {
  controllerClusterRole,
  controllerClusterRoleBinding,
  controllerLeaseRole,
  controllerLeaseRoleBinding,
  controllerServiceAccount,
  namespace,
  runnerClusterRole,
  type Manifest,
} from '../manifests.js';
import { startControlPlane, type ControlPlane } from './control-plane.js';
import { installCrd } from './crd.js';
import { startKubelet, type Kubelet } from './kubelet.js';

export const MAIN = fileURLToPath(new URL('../../cli/main.js', import.meta.url));

export interface ControllerProcess {
  readonly identity: string;
  readonly child: ChildProcess;
  /** What it wrote to stderr so far. */
  output(): string;
  /** SIGKILL: a crash, the Lease not released. */
  kill(): Promise<void>;
  /** SIGTERM: a clean stop, the Lease released. */
  stop(): Promise<void>;
}

export interface BenchCluster {
  plane: ControlPlane;
  kc: KubeConfig;
  kubelet: Kubelet;
  core: CoreV1Api;
  batch: BatchV1Api;
  custom: CustomObjectsApi;
  rbac: RbacAuthorizationV1Api;
  /** Starts `infermark controller` with this identity, as its ServiceAccount unless a kubeconfig is given. */
  controller(identity: string, options?: { kubeconfig?: string; args?: string[] }): ControllerProcess;
  /** Creates a namespace and waits until its ServiceAccount admission admits pods (its token exists). */
  namespace(name: string): Promise<void>;
  get(namespace: string, name: string): Promise<BenchmarkJobObject | null>;
  apply(job: BenchmarkJobObject): Promise<void>;
  jobs(namespace: string): Promise<V1Job[]>;
  stop(): Promise<void>;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it returns a value (not undefined), for at most `timeoutMs`. */
export async function until<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await sleep(150);
  }
  throw new Error(
    `${what}: not within ${timeoutMs} ms (${(last as Error | undefined)?.message ?? 'no error'})`,
  );
}

const CUSTOM = { group: GROUP, version: VERSION, plural: PLURAL };

/** Creates a manifest as `kubectl create` does (through the client's typed models). */
async function createManifest(kc: KubeConfig, manifest: Manifest): Promise<void> {
  await KubernetesObjectApi.makeApiClient(kc).create(manifest as KubernetesObject);
}

export async function startBenchCluster(options: {
  coordinatorPort: number;
  image?: string;
}): Promise<BenchCluster> {
  const plane = await startControlPlane();
  const controllers: ControllerProcess[] = [];
  let kubelet: Kubelet | null = null;
  const work = await mkdtemp(join(tmpdir(), 'infermark-bench-cluster-'));
  try {
    const kc = plane.kubeConfig();
    await installCrd(kc);
    const core = kc.makeApiClient(CoreV1Api);
    const batch = kc.makeApiClient(BatchV1Api);
    const custom = kc.makeApiClient(CustomObjectsApi);
    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    // RBAC as deploy/ installs it: the controller runs as its own ServiceAccount with exactly
    // those rights (a missing one fails the tests; an unused one fails the RBAC test).
    for (const manifest of [
      namespace(),
      controllerServiceAccount(),
      controllerClusterRole(),
      controllerClusterRoleBinding(),
      controllerLeaseRole(),
      controllerLeaseRoleBinding(),
      runnerClusterRole(),
    ]) {
      await createManifest(kc, manifest);
    }
    const controllerToken = await until('the controller ServiceAccount token', 30_000, async () => {
      const sa = await core.readNamespacedServiceAccount({
        name: CONTROLLER_NAME,
        namespace: CONTROLLER_NAMESPACE,
      });
      const secret = sa.secrets?.[0]?.name;
      if (!secret) return undefined;
      const data = (await core.readNamespacedSecret({ name: secret, namespace: CONTROLLER_NAMESPACE })).data
        ?.token;
      return data ? Buffer.from(data, 'base64').toString('utf8') : undefined;
    });
    const controllerKubeconfig = await plane.kubeconfigFor(controllerToken, CONTROLLER_NAME);
    kubelet = await startKubelet({
      kubeConfig: kc,
      certDir: join(plane.dir, 'certs'),
      infermarkMain: MAIN,
      workDir: join(work, 'kubelet'),
    });
    const cluster: BenchCluster = {
      plane,
      kc,
      kubelet,
      core,
      batch,
      custom,
      rbac,
      controller(identity, { kubeconfig, args = [] } = {}) {
        const child = spawn(
          process.execPath,
          [
            MAIN,
            'controller',
            '--kubeconfig',
            kubeconfig ?? controllerKubeconfig,
            '--identity',
            identity,
            '--lease-namespace',
            CONTROLLER_NAMESPACE,
            '--lease-duration-seconds',
            '3',
            '--resync-seconds',
            '2',
            '--image',
            options.image ?? 'infermark:test',
            '--coordinator-port',
            String(options.coordinatorPort),
            ...args,
          ],
          { stdio: ['ignore', 'ignore', 'pipe'] },
        );
        let stderr = '';
        child.stderr?.on('data', (chunk: Buffer) => {
          stderr = (stderr + chunk.toString()).slice(-64 * 1024);
        });
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        const end = async (signal: NodeJS.Signals): Promise<void> => {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
          await exited;
        };
        const handle: ControllerProcess = {
          identity,
          child,
          output: () => stderr,
          kill: () => end('SIGKILL'),
          stop: () => end('SIGTERM'),
        };
        controllers.push(handle);
        return handle;
      },
      async namespace(name) {
        // The namespace() manifest function is shadowed here: a test namespace is plain.
        await core.createNamespace({ body: { metadata: { name } } }).catch((error: { code?: number }) => {
          if (error.code !== 409) throw error;
        });
        await until(`namespace ${name}'s default ServiceAccount token`, 30_000, async () => {
          const sa = await core.readNamespacedServiceAccount({ name: 'default', namespace: name });
          return sa.secrets?.length ? true : undefined;
        });
      },
      async get(namespace, name) {
        try {
          return (await custom.getNamespacedCustomObject({
            ...CUSTOM,
            namespace,
            name,
          })) as BenchmarkJobObject;
        } catch (error) {
          if ((error as { code?: number }).code === 404) return null;
          throw error;
        }
      },
      async apply(job) {
        await custom.createNamespacedCustomObject({
          ...CUSTOM,
          namespace: job.metadata.namespace,
          body: job,
        });
      },
      async jobs(namespace) {
        return (await batch.listNamespacedJob({ namespace })).items;
      },
      async stop() {
        await Promise.all(controllers.map((c) => c.stop()));
        await kubelet?.stop();
        await plane.stop();
        await rm(work, { recursive: true, force: true });
      },
    };
    return cluster;
  } catch (error) {
    await kubelet?.stop();
    await plane.stop();
    await rm(work, { recursive: true, force: true });
    throw error;
  }
}
