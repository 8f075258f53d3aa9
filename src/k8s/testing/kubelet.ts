/**
 * The Kubernetes tests' kubelet, which also plays the scheduler: it registers a Node, binds
 * every unscheduled pod to it, runs each pod's (first) container as a local process in its own
 * process group with the pod's environment and volumes (pod-sandbox.ts), writes the pod's
 * status from what the process did, serves its logs to the API server (container-log.ts), and
 * finishes graceful deletions. The real control plane (control-plane.ts) does the rest.
 *
 * Not a real kubelet: one run per pod (no restarts, whatever restartPolicy says), init
 * containers and every container but the first are ignored, no images, no resource limits,
 * no probes; pods share the host's network (podIP and hostIP are 127.0.0.1).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1ContainerState,
  type V1Node,
  type V1Pod,
} from '@kubernetes/client-node';
import { ContainerLog, startLogServer, type LogServer } from './container-log.js';
import { POD_IP, PodNotReady, PodUnrunnable, prepareSandbox, type Sandbox } from './pod-sandbox.js';

export interface KubeletOptions {
  /** An admin's client configuration; its cluster's server is also what pods talk to. */
  kubeConfig: KubeConfig;
  /** A folder with `apiserver.crt` and `apiserver.key` for the log server (the control plane's `dir`/certs). */
  certDir: string;
  /** The Node's name; 'test-node' unless given. */
  nodeName?: string;
  /** dist/src/cli/main.js: run with this Node when a container's command[0] is `infermark`. */
  infermarkMain?: string;
  /** Claim C of namespace N is the folder pvcRoot/N/C; workDir/pvc unless given. */
  pvcRoot?: string;
  /** Pods' root folders and logs; a fresh temporary folder (removed by stop()) unless given. */
  workDir?: string;
  /** Set in every container before the pod's own environment. */
  env?: Record<string, string>;
  /** How often the pods are listed; 200 ms unless given. */
  pollMs?: number;
  /** The most a deleted pod's process is given between SIGTERM and SIGKILL; 10 s unless given. */
  maxGraceS?: number;
}

/** A pod the kubelet ran (or tried to). */
export interface PodRun {
  namespace: string;
  name: string;
  uid: string;
  container: string;
  argv: string[];
  cwd: string;
  /** The container's whole environment (Secret values included: keep it out of logs). */
  env: Record<string, string>;
  /** The pod's root folder (its volumes at root + mountPath). */
  root: string;
  logPath: string;
  pid: number | null;
  startedAt: Date;
  finishedAt: Date | null;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** The termination message written to the pod's status. */
  message: string | null;
}

export interface Kubelet {
  readonly nodeName: string;
  /** The log server's port (the Node's kubelet endpoint). */
  readonly port: number;
  readonly workDir: string;
  readonly pvcRoot: string;
  /** Every pod started so far, oldest first. */
  pods(): PodRun[];
  /** The latest run of pod `name` in `namespace`, or null. */
  run(namespace: string, name: string): PodRun | null;
  /** Resolves when pod `name` has run and exited (its status is written); rejects after timeoutMs. */
  waitExited(namespace: string, name: string, timeoutMs: number): Promise<PodRun>;
  /** What the pod's container printed so far (stdout and stderr); '' before it starts. */
  logOf(namespace: string, name: string): Promise<string>;
  /** The kubelet's own notes: what it skipped, what failed and was retried (the last 200). */
  notes(): string[];
  /** Kills every process it started and waits for them; closes the log server. */
  stop(): Promise<void>;
}

const NOTES_KEPT = 200;
const API_TIMEOUT_MS = 10_000;
const STATUS_TRIES = 6;
const MESSAGE_MAX_BYTES = 4096;
const FALLBACK_LOG_BYTES = 2048;
/** The grace stop() gives processes before SIGKILL. */
const STOP_GRACE_MS = 2000;

interface Run {
  record: PodRun;
  pod: V1Pod;
  image: string;
  child: ChildProcess | null;
  log: ContainerLog;
  sandbox: Sandbox;
  exited: Promise<void>;
  terminating: boolean;
  statusWritten: boolean;
  finalDeleteSent: boolean;
  killTimer: NodeJS.Timeout | null;
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const codeOf = (error: unknown): number | undefined => (error as { code?: number }).code;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
/** Kubernetes times have whole seconds. */
const wholeSeconds = (date: Date): string => `${date.toISOString().slice(0, 19)}Z`;

const copy = (record: PodRun): PodRun => ({ ...record, argv: [...record.argv], env: { ...record.env } });

function killGroup(pid: number | null | undefined, signal: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is gone already.
  }
}

function describe(error: unknown): string {
  const e = error as { code?: number; body?: unknown; message?: string };
  if (e.code !== undefined && e.body !== undefined) {
    const body = typeof e.body === 'string' ? e.body : JSON.stringify(e.body);
    return `HTTP ${e.code}: ${body.slice(0, 300)}`;
  }
  return e.message ?? String(error);
}

/** Registers the Node and starts binding and running pods. */
export async function startKubelet(options: KubeletOptions): Promise<Kubelet> {
  const nodeName = options.nodeName ?? 'test-node';
  const pollMs = options.pollMs ?? 200;
  const maxGraceS = options.maxGraceS ?? 10;
  const server = options.kubeConfig.getCurrentCluster()?.server;
  if (!server) throw new Error('startKubelet: the KubeConfig has no current cluster');
  const apiServer: string = server;
  const ownWorkDir = options.workDir === undefined;
  const workDir = options.workDir ?? (await mkdtemp(join(tmpdir(), 'infermark-kubelet-')));
  const pvcRoot = options.pvcRoot ?? join(workDir, 'pvc');
  await mkdir(join(workDir, 'pods'), { recursive: true });
  await mkdir(pvcRoot, { recursive: true });
  const core = options.kubeConfig.makeApiClient(CoreV1Api);
  const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

  const notesKept: string[] = [];
  const note = (text: string): void => {
    notesKept.push(`${new Date().toISOString()} ${text}`);
    if (notesKept.length > NOTES_KEPT) notesKept.shift();
  };
  const runs = new Map<string, Run>();
  /** Pods that could not start yet: uid → the last reason written to their status. */
  const waiting = new Map<string, string>();
  const statusChains = new Map<string, Promise<void>>();
  let stopping = false;

  const latest = (namespace: string, name: string): Run | null => {
    let found: Run | null = null;
    for (const run of runs.values())
      if (run.record.namespace === namespace && run.record.name === name) found = run;
    return found;
  };

  const tls = {
    key: readFileSync(join(options.certDir, 'apiserver.key')),
    cert: readFileSync(join(options.certDir, 'apiserver.crt')),
  };
  const logServer: LogServer = await startLogServer(tls, (namespace, pod, container) => {
    const run = latest(namespace, pod);
    return run && run.record.container === container ? run.log : null;
  });

  // A test process that dies without stop() leaves no pod process behind.
  const killAllNow = (): void => {
    for (const run of runs.values()) if (run.record.exitCode === null) killGroup(run.record.pid, 'SIGKILL');
  };
  process.once('exit', killAllNow);

  try {
    await registerNode();
  } catch (error) {
    process.off('exit', killAllNow);
    await logServer.close();
    if (ownWorkDir) await rm(workDir, { recursive: true, force: true });
    throw new Error(`startKubelet: registering Node ${nodeName} failed: ${describe(error)}`);
  }

  async function registerNode(): Promise<void> {
    const now = new Date();
    const node: V1Node = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: nodeName, labels: { 'kubernetes.io/hostname': nodeName } },
      status: {
        addresses: [{ type: 'InternalIP', address: POD_IP }],
        daemonEndpoints: { kubeletEndpoint: { Port: logServer.port } },
        capacity: { cpu: '16', memory: '64Gi', pods: '110' },
        allocatable: { cpu: '16', memory: '64Gi', pods: '110' },
        conditions: [
          {
            type: 'Ready',
            status: 'True',
            reason: 'KubeletReady',
            message: "the tests' kubelet is ready",
            lastHeartbeatTime: now,
            lastTransitionTime: now,
          },
        ],
        nodeInfo: {
          architecture: process.arch,
          bootID: '',
          containerRuntimeVersion: 'infermark-test://0',
          kernelVersion: '',
          kubeProxyVersion: '',
          kubeletVersion: 'v1.20.2',
          machineID: '',
          operatingSystem: process.platform,
          osImage: '',
          systemUUID: '',
        },
      },
    };
    try {
      await within(core.createNode({ body: node }), API_TIMEOUT_MS, 'create Node');
    } catch (error) {
      if (codeOf(error) !== 409) throw error;
    }
    // Creating a Node may keep or drop its status depending on the server; writing it says it.
    await within(
      core.patchNodeStatus({ name: nodeName, body: { status: node.status } }, mergePatch),
      API_TIMEOUT_MS,
      'write Node status',
    );
  }

  /** Writes the pod's status (a merge patch of the status subresource), retrying errors. */
  function writeStatus(
    pod: { namespace: string; name: string; uid: string },
    status: Record<string, unknown>,
  ): Promise<void> {
    const { namespace, name, uid } = pod;
    // One pod's writes go in order: Running never lands after Succeeded.
    const chain = (statusChains.get(uid) ?? Promise.resolve()).then(async () => {
      for (let attempt = 1; attempt <= STATUS_TRIES && !stopping; attempt += 1) {
        try {
          await within(
            core.patchNamespacedPodStatus({ name, namespace, body: { status } }, mergePatch),
            API_TIMEOUT_MS,
            'write pod status',
          );
          return;
        } catch (error) {
          if (codeOf(error) === 404) return;
          note(`pod ${namespace}/${name}: status write ${attempt} failed: ${describe(error)}`);
          await sleep(100 * attempt);
        }
      }
    });
    statusChains.set(uid, chain);
    return chain;
  }

  function conditions(ready: boolean, reason?: string): object[] {
    const now = wholeSeconds(new Date());
    const cond = (type: string, status: boolean, why?: string): object => ({
      type,
      status: status ? 'True' : 'False',
      lastTransitionTime: now,
      ...(why ? { reason: why } : {}),
    });
    return [
      cond('Initialized', true),
      cond('Ready', ready, reason),
      cond('ContainersReady', ready, reason),
      cond('PodScheduled', true),
    ];
  }

  function containerStatus(
    run: Run,
    state: V1ContainerState | Record<string, unknown>,
    ready: boolean,
  ): object {
    return {
      name: run.record.container,
      image: run.image,
      imageID: '',
      containerID: `infermark-test://${run.record.uid}`,
      ready,
      restartCount: 0,
      started: ready,
      state,
    };
  }

  async function bind(pod: V1Pod): Promise<void> {
    const name = pod.metadata?.name ?? '';
    const namespace = pod.metadata?.namespace ?? 'default';
    try {
      await within(
        core.createNamespacedPodBinding({
          name,
          namespace,
          body: {
            apiVersion: 'v1',
            kind: 'Binding',
            metadata: { name, namespace, uid: pod.metadata?.uid },
            target: { apiVersion: 'v1', kind: 'Node', name: nodeName },
          },
        }),
        API_TIMEOUT_MS,
        'bind pod',
      );
    } catch (error) {
      // 409: bound meanwhile (by another kubelet); 404: gone.
      if (codeOf(error) !== 409 && codeOf(error) !== 404)
        note(`pod ${namespace}/${name}: binding failed: ${describe(error)}`);
    }
  }

  async function start(pod: V1Pod): Promise<void> {
    const uid = pod.metadata?.uid ?? '';
    const name = pod.metadata?.name ?? '';
    const namespace = pod.metadata?.namespace ?? 'default';
    const container = pod.spec?.containers[0];
    const root = join(workDir, 'pods', `${namespace}_${name}_${uid.slice(0, 8)}`);
    await mkdir(root, { recursive: true });
    let sandbox: Sandbox;
    try {
      sandbox = await within(
        prepareSandbox(core, pod, {
          root: join(root, 'fs'),
          pvcRoot,
          apiServer,
          infermarkMain: options.infermarkMain,
          baseEnv: options.env,
          note,
        }),
        2 * API_TIMEOUT_MS,
        'prepare pod',
      );
    } catch (error) {
      if (error instanceof PodNotReady) {
        const line = `${error.reason}: ${error.message}`;
        if (waiting.get(uid) !== line) {
          waiting.set(uid, line);
          note(`pod ${namespace}/${name}: waiting: ${line}`);
          await writeStatus(
            { namespace, name, uid },
            {
              phase: 'Pending',
              hostIP: POD_IP,
              containerStatuses: [
                {
                  name: container?.name ?? '',
                  image: container?.image ?? '',
                  imageID: '',
                  ready: false,
                  restartCount: 0,
                  started: false,
                  state: { waiting: { reason: error.reason, message: error.message } },
                },
              ],
            },
          );
        }
        return;
      }
      if (error instanceof PodUnrunnable) {
        note(`pod ${namespace}/${name}: cannot run: ${error.message}`);
        waiting.delete(uid);
        // Recorded as a run so it is not tried again.
        sandbox = { root, argv: [], cwd: root, env: {}, terminationMessageFile: '' };
        launch(pod, sandbox, root, error.message);
        return;
      }
      throw error;
    }
    waiting.delete(uid);
    launch(pod, sandbox, root, null);
  }

  /** Starts the container's process (or records why it cannot start) and follows it to its end. */
  function launch(pod: V1Pod, sandbox: Sandbox, root: string, unrunnable: string | null): void {
    const container = pod.spec?.containers[0];
    const startedAt = new Date();
    const log = new ContainerLog(join(root, 'container.log'));
    const record: PodRun = {
      namespace: pod.metadata?.namespace ?? 'default',
      name: pod.metadata?.name ?? '',
      uid: pod.metadata?.uid ?? '',
      container: container?.name ?? '',
      argv: sandbox.argv,
      cwd: sandbox.cwd,
      env: sandbox.env,
      root: sandbox.root,
      logPath: log.path,
      pid: null,
      startedAt,
      finishedAt: null,
      exitCode: null,
      signal: null,
      message: null,
    };
    let resolveExited = (): void => {};
    const run: Run = {
      record,
      pod,
      image: container?.image ?? '',
      child: null,
      log,
      sandbox,
      exited: new Promise<void>((resolve) => (resolveExited = resolve)),
      terminating: false,
      statusWritten: false,
      finalDeleteSent: false,
      killTimer: null,
    };
    runs.set(record.uid, run);
    const startedAtText = wholeSeconds(startedAt);

    let done = false;
    const finish = (exitCode: number, signal: NodeJS.Signals | null, startError: string | null): void => {
      if (done) return;
      done = true;
      if (run.killTimer) clearTimeout(run.killTimer);
      record.finishedAt = new Date();
      record.exitCode = exitCode;
      record.signal = signal;
      // The streams may still hold the last output; wait for them briefly.
      const drained = run.child
        ? Promise.race([
            new Promise<void>((resolve) => run.child?.once('close', () => resolve())),
            sleep(1000),
          ])
        : Promise.resolve();
      void drained.then(async () => {
        if (startError) log.write(Buffer.from(`${startError}\n`));
        log.end();
        record.message = terminationMessage(run, exitCode, startError);
        const reason = startError ? 'StartError' : exitCode === 0 ? 'Completed' : 'Error';
        const terminated = {
          exitCode,
          ...(signal ? { signal: constants.signals[signal] } : {}),
          reason,
          startedAt: startedAtText,
          finishedAt: wholeSeconds(record.finishedAt as Date),
          ...(record.message ? { message: record.message } : {}),
          containerID: `infermark-test://${record.uid}`,
        };
        if (!stopping) {
          await writeStatus(record, {
            phase: exitCode === 0 ? 'Succeeded' : 'Failed',
            hostIP: POD_IP,
            podIP: POD_IP,
            podIPs: [{ ip: POD_IP }],
            startTime: startedAtText,
            conditions: conditions(false, 'PodCompleted'),
            containerStatuses: [containerStatus(run, { terminated }, false)],
          });
        }
        run.statusWritten = true;
        resolveExited();
      });
    };

    if (unrunnable !== null) {
      finish(128, null, unrunnable);
      return;
    }
    const [file, ...args] = sandbox.argv as [string, ...string[]];
    const child = spawn(file, args, {
      cwd: sandbox.cwd,
      env: sandbox.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    run.child = child;
    record.pid = child.pid ?? null;
    child.stdout?.on('data', (chunk: Buffer) => log.write(chunk));
    child.stderr?.on('data', (chunk: Buffer) => log.write(chunk));
    child.once('error', (error) => {
      note(`pod ${record.namespace}/${record.name}: ${file} did not start: ${error.message}`);
      finish(128, null, `failed to start ${file}: ${error.message}`);
    });
    child.once('exit', (code, signal) => {
      const exitCode = code ?? 128 + (signal ? constants.signals[signal] : 0);
      // Anything the container left in its group goes with it, as with a container's cgroup.
      killGroup(record.pid, 'SIGKILL');
      finish(exitCode, signal, null);
    });
    if (child.pid !== undefined) {
      note(`pod ${record.namespace}/${record.name}: started pid ${child.pid}`);
      void writeStatus(record, {
        phase: 'Running',
        hostIP: POD_IP,
        podIP: POD_IP,
        podIPs: [{ ip: POD_IP }],
        startTime: startedAtText,
        conditions: conditions(true),
        containerStatuses: [containerStatus(run, { running: { startedAt: startedAtText } }, true)],
      });
    }
  }

  function terminationMessage(run: Run, exitCode: number, startError: string | null): string | null {
    if (startError) return startError.slice(0, MESSAGE_MAX_BYTES);
    const file = run.sandbox.terminationMessageFile;
    if (file && existsSync(file)) {
      const text = readFileSync(file).subarray(0, MESSAGE_MAX_BYTES).toString('utf8');
      if (text.length > 0) return text;
    }
    const policy = run.pod.spec?.containers[0]?.terminationMessagePolicy;
    if (policy === 'FallbackToLogsOnError' && exitCode !== 0) return run.log.tail(FALLBACK_LOG_BYTES) || null;
    return null;
  }

  /** A pod being deleted: SIGTERM, SIGKILL after its grace, and the final delete once it exited. */
  async function terminate(pod: V1Pod, run: Run | undefined): Promise<void> {
    const name = pod.metadata?.name ?? '';
    const namespace = pod.metadata?.namespace ?? 'default';
    const uid = pod.metadata?.uid ?? '';
    if (run && run.record.exitCode === null) {
      if (!run.terminating) {
        run.terminating = true;
        const grace_s = Math.min(pod.spec?.terminationGracePeriodSeconds ?? 30, maxGraceS);
        note(`pod ${namespace}/${name}: deleted; SIGTERM, SIGKILL after ${grace_s} s`);
        killGroup(run.record.pid, 'SIGTERM');
        run.killTimer = setTimeout(() => killGroup(run.record.pid, 'SIGKILL'), grace_s * 1000);
      }
      return;
    }
    if (run && !run.statusWritten) return;
    if (run?.finalDeleteSent) return;
    if (run) run.finalDeleteSent = true;
    try {
      await within(
        core.deleteNamespacedPod({
          name,
          namespace,
          gracePeriodSeconds: 0,
          body: { gracePeriodSeconds: 0, preconditions: { uid } },
        }),
        API_TIMEOUT_MS,
        'delete pod',
      );
      waiting.delete(uid);
    } catch (error) {
      if (codeOf(error) === 404 || codeOf(error) === 409) return;
      if (run) run.finalDeleteSent = false;
      note(`pod ${namespace}/${name}: final delete failed: ${describe(error)}`);
    }
  }

  async function tick(): Promise<void> {
    const list = await within(core.listPodForAllNamespaces({}), API_TIMEOUT_MS, 'list pods');
    const present = new Set<string>();
    for (const pod of list.items) {
      if (stopping) return;
      const uid = pod.metadata?.uid ?? '';
      if (!pod.spec?.nodeName) {
        if (!pod.metadata?.deletionTimestamp) await bind(pod);
        continue;
      }
      if (pod.spec.nodeName !== nodeName) continue;
      present.add(uid);
      const run = runs.get(uid);
      if (pod.metadata?.deletionTimestamp) {
        await terminate(pod, run);
        continue;
      }
      const phase = pod.status?.phase;
      if (!run && phase !== 'Succeeded' && phase !== 'Failed') {
        try {
          await start(pod);
        } catch (error) {
          note(
            `pod ${pod.metadata?.namespace}/${pod.metadata?.name}: start failed, retrying: ${describe(error)}`,
          );
        }
      }
    }
    // A pod removed without the kubelet (a forced delete) takes its process with it.
    for (const run of runs.values()) {
      if (present.has(run.record.uid) || run.record.exitCode !== null || run.terminating) continue;
      run.terminating = true;
      note(`pod ${run.record.namespace}/${run.record.name}: gone from the API; killing its process`);
      killGroup(run.record.pid, 'SIGKILL');
    }
    for (const uid of waiting.keys()) if (!present.has(uid)) waiting.delete(uid);
  }

  let wake: (() => void) | null = null;
  const loop = (async () => {
    while (!stopping) {
      try {
        await tick();
      } catch (error) {
        note(`tick failed, retrying: ${describe(error)}`);
      }
      if (stopping) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, pollMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = null;
    }
  })();

  return {
    nodeName,
    port: logServer.port,
    workDir,
    pvcRoot,
    pods: () => [...runs.values()].map((run) => copy(run.record)),
    run(namespace, name) {
      const run = latest(namespace, name);
      return run ? copy(run.record) : null;
    },
    async waitExited(namespace, name, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const run = latest(namespace, name);
        if (run?.statusWritten) return copy(run.record);
        await sleep(50);
      }
      const run = latest(namespace, name);
      throw new Error(
        `pod ${namespace}/${name} did not ${run ? 'exit' : 'start'} in ${timeoutMs} ms; kubelet notes:\n${notesKept.slice(-10).join('\n')}`,
      );
    },
    async logOf(namespace, name) {
      const run = latest(namespace, name);
      return run ? readFile(run.log.path, 'utf8') : '';
    },
    notes: () => [...notesKept],
    async stop() {
      if (stopping) return;
      stopping = true;
      (wake as (() => void) | null)?.();
      await loop;
      const live = [...runs.values()].filter((run) => run.record.exitCode === null && run.child);
      for (const run of live) killGroup(run.record.pid, 'SIGTERM');
      const killer = setTimeout(() => {
        for (const run of live) killGroup(run.record.pid, 'SIGKILL');
      }, STOP_GRACE_MS);
      await Promise.all(
        live.map((run) => within(run.exited, STOP_GRACE_MS + 5000, 'pod exit').catch(() => {})),
      );
      clearTimeout(killer);
      for (const run of runs.values()) {
        // An exited run's group was killed at its exit; its pid may belong to someone else now.
        if (run.record.exitCode === null) killGroup(run.record.pid, 'SIGKILL');
        if (run.killTimer) clearTimeout(run.killTimer);
        run.log.end();
      }
      await Promise.all(statusChains.values());
      process.off('exit', killAllNow);
      await logServer.close();
      if (ownWorkDir) await rm(workDir, { recursive: true, force: true });
    },
  };
}
