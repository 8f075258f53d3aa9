/**
 * A real Kubernetes control plane on loopback for the Kubernetes tests: etcd, kube-apiserver
 * and kube-controller-manager (the real Job and garbage-collector controllers), built from
 * Debian's sources by scripts/k8s/build-kube.sh. No kubelet and no scheduler: the tests'
 * kubelet (kubelet.ts) binds and runs pods. Every test starts its own and stops it.
 *
 * Users come from a static token file: `admin` (system:masters) for the tests and the
 * controller-manager; `tokenFor(user, groups)` adds more before start (the RBAC test runs
 * the controller as its ServiceAccount instead). The API server audits every request to
 * a JSON-lines log, so a test can see which verbs a user really used.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { request } from 'undici';
import { Agent } from 'undici';
import { freePort } from '../../base/testing/free-port.js';

export interface ControlPlane {
  /** https://127.0.0.1:PORT */
  readonly url: string;
  /** The admin's bearer token. */
  readonly token: string;
  /** A kubeconfig file for the admin (for processes the test starts). */
  readonly kubeconfigPath: string;
  readonly dir: string;
  /** The audit log: one JSON object per request. */
  readonly auditLogPath: string;
  /** A client configuration as the admin. */
  kubeConfig(): KubeConfig;
  /** A kubeconfig file for a bearer token (a ServiceAccount's, say). */
  kubeconfigFor(token: string, name: string): Promise<string>;
  /** Audit events so far. */
  audit(): Promise<AuditEvent[]>;
  /** Stops the controller-manager (Jobs stop progressing) or starts it again. */
  stopControllerManager(): Promise<void>;
  stop(): Promise<void>;
}

export interface AuditEvent {
  stage: string;
  verb: string;
  user: { username: string; groups?: string[] };
  objectRef?: {
    resource?: string;
    subresource?: string;
    namespace?: string;
    name?: string;
    apiGroup?: string;
  };
  responseStatus?: { code?: number };
  requestURI: string;
}

/** The binaries' folder: INFERMARK_KUBE_BIN (set by `npm run test:k8s`). */
export function kubeBinDir(): string | null {
  return process.env.INFERMARK_KUBE_BIN ?? null;
}

interface Proc {
  child: ChildProcess;
  tail: string[];
}

function startProc(bin: string, args: string[], name: string): Proc {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const tail: string[] = [];
  const keep = (chunk: Buffer): void => {
    tail.push(chunk.toString());
    // The last 64 KiB or so: enough to say why it died.
    while (tail.length > 64) tail.shift();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.on('error', (error) => tail.push(`${name}: ${error.message}`));
  return { child, tail };
}

async function stopProc(proc: Proc | null): Promise<void> {
  if (!proc || proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.child.once('exit', () => resolve()));
  proc.child.kill('SIGTERM');
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

function kubeconfigYaml(server: string, token: string, name: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: test`,
    '  cluster:',
    `    server: ${server}`,
    '    insecure-skip-tls-verify: true',
    'users:',
    `- name: ${name}`,
    '  user:',
    `    token: ${token}`,
    'contexts:',
    `- name: ${name}`,
    '  context:',
    '    cluster: test',
    `    user: ${name}`,
    '    namespace: default',
    `current-context: ${name}`,
    '',
  ].join('\n');
}

const insecure = new Agent({ connect: { rejectUnauthorized: false } });

async function waitReady(url: string, token: string, procs: Proc[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    for (const proc of procs) {
      if (proc.child.exitCode !== null) {
        throw new Error(
          `a control-plane process exited (${proc.child.exitCode}): ${proc.tail.join('').slice(-3000)}`,
        );
      }
    }
    try {
      const res = await request(`${url}/readyz`, {
        dispatcher: insecure,
        headers: { authorization: `Bearer ${token}` },
        headersTimeout: 2000,
        bodyTimeout: 2000,
      });
      last = await res.body.text();
      if (res.statusCode === 200) return;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`kube-apiserver not ready in ${timeoutMs} ms: ${last.slice(-2000)}`);
}

const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
`;

/** Starts etcd, kube-apiserver and kube-controller-manager; resolves when the API answers ready. */
export async function startControlPlane(
  options: { binDir?: string; timeoutMs?: number } = {},
): Promise<ControlPlane> {
  const bin = options.binDir ?? kubeBinDir();
  if (!bin)
    throw new Error('INFERMARK_KUBE_BIN is not set: run the Kubernetes tests with `npm run test:k8s`');
  const dir = await mkdtemp(join(tmpdir(), 'infermark-kube-'));
  const token = randomBytes(24).toString('hex');
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  await writeFile(join(dir, 'sa.key'), privateKey, { mode: 0o600 });
  await writeFile(join(dir, 'sa.pub'), publicKey);
  await writeFile(join(dir, 'tokens.csv'), `${token},admin,admin,"system:masters"\n`, { mode: 0o600 });
  await writeFile(join(dir, 'audit-policy.yaml'), AUDIT_POLICY);
  const auditLogPath = join(dir, 'audit.log');

  const [etcdClient, etcdPeer, apiPort] = [await freePort(), await freePort(), await freePort()];
  const url = `https://127.0.0.1:${apiPort}`;
  const kubeconfigPath = join(dir, 'admin.kubeconfig');
  await writeFile(kubeconfigPath, kubeconfigYaml(url, token, 'admin'), { mode: 0o600 });

  const procs: Proc[] = [];
  let controllerManager: Proc | null = null;
  const stopAll = async (): Promise<void> => {
    await stopProc(controllerManager);
    for (const proc of [...procs].reverse()) await stopProc(proc);
  };
  try {
    procs.push(
      startProc(
        join(bin, 'etcd'),
        [
          '--name=test',
          `--data-dir=${join(dir, 'etcd')}`,
          `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
          `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
          `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
          `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
          `--initial-cluster=test=http://127.0.0.1:${etcdPeer}`,
          '--log-level=error',
        ],
        'etcd',
      ),
    );
    procs.push(
      startProc(
        join(bin, 'kube-apiserver'),
        [
          `--etcd-servers=http://127.0.0.1:${etcdClient}`,
          '--bind-address=127.0.0.1',
          '--advertise-address=127.0.0.1',
          `--secure-port=${apiPort}`,
          '--insecure-port=0',
          `--cert-dir=${join(dir, 'certs')}`,
          `--token-auth-file=${join(dir, 'tokens.csv')}`,
          '--authorization-mode=RBAC',
          `--service-account-key-file=${join(dir, 'sa.pub')}`,
          `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
          '--service-account-issuer=https://kubernetes.default.svc',
          '--service-cluster-ip-range=10.0.0.0/24',
          `--audit-policy-file=${join(dir, 'audit-policy.yaml')}`,
          `--audit-log-path=${auditLogPath}`,
          '--audit-log-format=json',
          '--v=0',
        ],
        'kube-apiserver',
      ),
    );
    await waitReady(url, token, procs, options.timeoutMs ?? 60_000);
    const startControllerManager = (): Proc =>
      startProc(
        join(bin, 'kube-controller-manager'),
        [
          `--kubeconfig=${kubeconfigPath}`,
          '--bind-address=127.0.0.1',
          '--secure-port=0',
          '--port=0',
          '--leader-elect=false',
          `--service-account-private-key-file=${join(dir, 'sa.key')}`,
          `--root-ca-file=${join(dir, 'certs', 'apiserver.crt')}`,
          '--controllers=*,-nodeipam,-nodelifecycle,-attachdetach,-persistentvolume-binder,-persistentvolume-expander,-route,-service,-cloud-node-lifecycle',
          '--concurrent-gc-syncs=5',
          '--v=0',
        ],
        'kube-controller-manager',
      );
    controllerManager = startControllerManager();
  } catch (error) {
    await stopAll();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }

  const plane: ControlPlane = {
    url,
    token,
    kubeconfigPath,
    dir,
    auditLogPath,
    kubeConfig() {
      const kc = new KubeConfig();
      kc.loadFromFile(kubeconfigPath);
      return kc;
    },
    async kubeconfigFor(userToken, name) {
      const path = join(dir, `${name}.kubeconfig`);
      await writeFile(path, kubeconfigYaml(url, userToken, name), { mode: 0o600 });
      return path;
    },
    async audit() {
      const text = await readFile(auditLogPath, 'utf8').catch(() => '');
      return text
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as AuditEvent);
    },
    async stopControllerManager() {
      await stopProc(controllerManager);
    },
    async stop() {
      await stopAll();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return plane;
}
