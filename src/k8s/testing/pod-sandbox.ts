/**
 * What the tests' kubelet makes of a pod before it starts the container: a root folder standing
 * in for the container's filesystem (volumes as files, folders and symlinks to the claim's
 * folder), the environment (values, downward API, Secret and ConfigMap references, `$(VAR)`),
 * a kubeconfig with the pod's ServiceAccount token, and the command line with every path that
 * names a mount rewritten into the root folder.
 */
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import type {
  CoreV1Api,
  V1ConfigMap,
  V1Container,
  V1ObjectFieldSelector,
  V1Pod,
  V1Secret,
  V1Volume,
} from '@kubernetes/client-node';

/** The pod cannot start yet (a Secret, ConfigMap or token is missing); retried on the next tick. */
export class PodNotReady extends Error {
  constructor(
    readonly reason: 'CreateContainerConfigError' | 'ContainerCreating',
    message: string,
  ) {
    super(message);
  }
}

/** The pod cannot run here at all (it ends Failed). */
export class PodUnrunnable extends Error {}

export const DEFAULT_TERMINATION_MESSAGE_PATH = '/dev/termination-log';
const SA_TOKEN_TYPE = 'kubernetes.io/service-account-token';
/** Loopback stands in for the pod's and the node's address. */
export const POD_IP = '127.0.0.1';

export interface SandboxOptions {
  /** The pod's root folder (created; emptied first). */
  root: string;
  /** Claim C of namespace N is the folder pvcRoot/N/C. */
  pvcRoot: string;
  /** The API server's URL, for the pod's kubeconfig. */
  apiServer: string;
  /** dist/src/cli/main.js, run with this Node when command[0] is `infermark`. */
  infermarkMain?: string;
  /** Set before the pod's own environment (the pod's own values win). */
  baseEnv?: Record<string, string>;
  /** Why the kubelet skipped something (an unsupported volume or field). */
  note(text: string): void;
}

export interface Sandbox {
  root: string;
  /** argv[0] is the executable (resolved from PATH by spawn). */
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  /** The termination message file, mapped into the root. */
  terminationMessageFile: string;
}

const isMissing = (error: unknown): boolean => (error as { code?: number }).code === 404;

/** Reads an object, or null when it does not exist. */
async function readOrNull<T>(read: () => Promise<T>): Promise<T | null> {
  try {
    return await read();
  } catch (error) {
    if (isMissing(error)) return null;
    throw error;
  }
}

/** Resolves Secrets and ConfigMaps once per pod start. */
class Refs {
  private readonly secrets = new Map<string, V1Secret | null>();
  private readonly configMaps = new Map<string, V1ConfigMap | null>();

  constructor(
    private readonly core: CoreV1Api,
    private readonly namespace: string,
  ) {}

  async secret(name: string): Promise<V1Secret | null> {
    if (!this.secrets.has(name)) {
      const found = await readOrNull(() =>
        this.core.readNamespacedSecret({ name, namespace: this.namespace }),
      );
      this.secrets.set(name, found);
    }
    return this.secrets.get(name) ?? null;
  }

  async configMap(name: string): Promise<V1ConfigMap | null> {
    if (!this.configMaps.has(name)) {
      const found = await readOrNull(() =>
        this.core.readNamespacedConfigMap({ name, namespace: this.namespace }),
      );
      this.configMaps.set(name, found);
    }
    return this.configMaps.get(name) ?? null;
  }

  /** A Secret's keys, decoded. */
  async secretData(name: string): Promise<Map<string, Buffer> | null> {
    const secret = await this.secret(name);
    if (!secret) return null;
    const data = new Map<string, Buffer>();
    for (const [key, value] of Object.entries(secret.data ?? {})) data.set(key, Buffer.from(value, 'base64'));
    for (const [key, value] of Object.entries(secret.stringData ?? {})) data.set(key, Buffer.from(value));
    return data;
  }

  async configMapData(name: string): Promise<Map<string, Buffer> | null> {
    const map = await this.configMap(name);
    if (!map) return null;
    const data = new Map<string, Buffer>();
    for (const [key, value] of Object.entries(map.data ?? {})) data.set(key, Buffer.from(value));
    for (const [key, value] of Object.entries(map.binaryData ?? {}))
      data.set(key, Buffer.from(value, 'base64'));
    return data;
  }
}

/** A downward API field of the pod, as a real kubelet gives it. */
export function fieldValue(pod: V1Pod, ref: V1ObjectFieldSelector): string {
  const path = ref.fieldPath;
  const meta = pod.metadata ?? {};
  const keyed = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (keyed) {
    const map = keyed[1] === 'labels' ? meta.labels : meta.annotations;
    return map?.[keyed[2] as string] ?? '';
  }
  switch (path) {
    case 'metadata.name':
      return meta.name ?? '';
    case 'metadata.namespace':
      return meta.namespace ?? '';
    case 'metadata.uid':
      return meta.uid ?? '';
    case 'spec.nodeName':
      return pod.spec?.nodeName ?? '';
    case 'spec.serviceAccountName':
      return pod.spec?.serviceAccountName ?? 'default';
    case 'status.podIP':
    case 'status.hostIP':
      return POD_IP;
    case 'status.podIPs':
    case 'status.hostIPs':
      return POD_IP;
    default:
      throw new PodUnrunnable(`fieldRef ${path} is not supported by the tests' kubelet`);
  }
}

/** Kubernetes' `$(VAR)` expansion: defined names are replaced, `$$` escapes, others stay. */
export function expandVars(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name: string | undefined) => {
    if (match === '$$') return '$';
    return name !== undefined && Object.hasOwn(env, name) ? (env[name] as string) : match;
  });
}

/**
 * Rewrites `value` into the root when it is an absolute path equal to, under or a parent of one
 * of `mounts` (also as the value of `--flag=/path`); anything else is returned unchanged.
 */
export function mapPath(value: string, mounts: readonly string[], root: string): string {
  const flag = /^(--?[A-Za-z0-9][A-Za-z0-9_.-]*=)(\/.*)$/.exec(value);
  if (flag) return `${flag[1]}${mapPath(flag[2] as string, mounts, root)}`;
  if (!value.startsWith('/') || value === '/') return value;
  const path = posix.normalize(value).replace(/\/+$/, '');
  const hit = mounts.some(
    (mount) => path === mount || path.startsWith(`${mount}/`) || mount.startsWith(`${path}/`),
  );
  return hit ? join(root, value) : value;
}

function kubeconfigYaml(server: string, token: string, namespace: string, user: string): string {
  // JSON is YAML, and quotes whatever the names hold.
  return `${JSON.stringify(
    {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'cluster', cluster: { server, 'insecure-skip-tls-verify': true } }],
      users: [{ name: user, user: { token } }],
      contexts: [{ name: 'pod', context: { cluster: 'cluster', user, namespace } }],
      'current-context': 'pod',
    },
    null,
    2,
  )}\n`;
}

/** The pod's ServiceAccount token, from the Secret the tokens controller made for it. */
async function serviceAccountToken(
  core: CoreV1Api,
  refs: Refs,
  namespace: string,
  account: string,
): Promise<string> {
  const sa = await readOrNull(() => core.readNamespacedServiceAccount({ name: account, namespace }));
  if (!sa)
    throw new PodNotReady('ContainerCreating', `ServiceAccount ${namespace}/${account} does not exist yet`);
  for (const ref of sa.secrets ?? []) {
    if (!ref.name) continue;
    const secret = await refs.secret(ref.name);
    const token = secret?.type === SA_TOKEN_TYPE ? secret.data?.token : undefined;
    if (token) return Buffer.from(token, 'base64').toString('utf8');
  }
  throw new PodNotReady('ContainerCreating', `ServiceAccount ${namespace}/${account} has no token yet`);
}

/** Writes a volume's files under `dir`, or returns the folder it stands for (a claim). */
async function materialize(
  volume: V1Volume,
  dir: string,
  pod: V1Pod,
  refs: Refs,
  options: SandboxOptions,
): Promise<string> {
  const namespace = pod.metadata?.namespace ?? 'default';
  const writeKeys = async (
    data: Map<string, Buffer>,
    items: { key: string; path: string }[] | undefined,
    what: string,
  ): Promise<void> => {
    const chosen = items ?? [...data.keys()].map((key) => ({ key, path: key }));
    for (const { key, path } of chosen) {
      const value = data.get(key);
      if (value === undefined) throw new PodNotReady('ContainerCreating', `${what} has no key "${key}"`);
      const file = join(dir, posix.normalize(path).replace(/^(\.\.\/)+/, ''));
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, value, { mode: 0o644 });
    }
  };
  await mkdir(dir, { recursive: true });
  if (volume.configMap) {
    const { name = '', items, optional } = volume.configMap;
    const data = await refs.configMapData(name);
    if (!data && !optional)
      throw new PodNotReady('ContainerCreating', `ConfigMap ${namespace}/${name} not found`);
    if (data) await writeKeys(data, items, `ConfigMap ${namespace}/${name}`);
    return dir;
  }
  if (volume.secret) {
    const { secretName = '', items, optional } = volume.secret;
    const data = await refs.secretData(secretName);
    if (!data && !optional)
      throw new PodNotReady('ContainerCreating', `Secret ${namespace}/${secretName} not found`);
    if (data) await writeKeys(data, items, `Secret ${namespace}/${secretName}`);
    return dir;
  }
  if (volume.persistentVolumeClaim) {
    const claim = join(options.pvcRoot, namespace, volume.persistentVolumeClaim.claimName);
    await mkdir(claim, { recursive: true });
    return claim;
  }
  if (volume.downwardAPI) {
    for (const item of volume.downwardAPI.items ?? []) {
      if (!item.fieldRef) {
        options.note(`volume ${volume.name}: downwardAPI item ${item.path} without fieldRef left out`);
        continue;
      }
      const file = join(dir, posix.normalize(item.path));
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, fieldValue(pod, item.fieldRef));
    }
    return dir;
  }
  if (!volume.emptyDir) {
    const kind = Object.keys(volume).find((key) => key !== 'name') ?? 'unknown';
    options.note(`volume ${volume.name}: ${kind} is not supported; an empty folder stands in`);
  }
  return dir;
}

async function resolveEnv(
  pod: V1Pod,
  container: V1Container,
  refs: Refs,
  base: Record<string, string>,
  mounts: readonly string[],
  root: string,
): Promise<Record<string, string>> {
  const namespace = pod.metadata?.namespace ?? 'default';
  const env: Record<string, string> = { ...base };
  const missing = (what: string): never => {
    throw new PodNotReady('CreateContainerConfigError', what);
  };
  for (const from of container.envFrom ?? []) {
    const prefix = from.prefix ?? '';
    const source = from.configMapRef
      ? {
          what: `ConfigMap ${namespace}/${from.configMapRef.name}`,
          data: await refs.configMapData(from.configMapRef.name ?? ''),
        }
      : from.secretRef
        ? {
            what: `Secret ${namespace}/${from.secretRef.name}`,
            data: await refs.secretData(from.secretRef.name ?? ''),
          }
        : null;
    if (!source) continue;
    const optional = from.configMapRef?.optional ?? from.secretRef?.optional ?? false;
    if (!source.data) {
      if (!optional) missing(`${source.what} not found`);
      continue;
    }
    for (const [key, value] of source.data) env[`${prefix}${key}`] = value.toString('utf8');
  }
  for (const variable of container.env ?? []) {
    let value: string | undefined;
    const from = variable.valueFrom;
    if (!from) {
      value = expandVars(variable.value ?? '', env);
    } else if (from.fieldRef) {
      value = fieldValue(pod, from.fieldRef);
    } else if (from.secretKeyRef) {
      const { name = '', key, optional } = from.secretKeyRef;
      const data = await refs.secretData(name);
      value = data?.get(key)?.toString('utf8');
      if (value === undefined && !optional)
        missing(`Secret ${namespace}/${name} key "${key}" not found (env ${variable.name})`);
    } else if (from.configMapKeyRef) {
      const { name = '', key, optional } = from.configMapKeyRef;
      const data = await refs.configMapData(name);
      value = data?.get(key)?.toString('utf8');
      if (value === undefined && !optional)
        missing(`ConfigMap ${namespace}/${name} key "${key}" not found (env ${variable.name})`);
    } else {
      throw new PodUnrunnable(`env ${variable.name}: this valueFrom is not supported by the tests' kubelet`);
    }
    if (value !== undefined) env[variable.name] = mapPath(value, mounts, root);
  }
  return env;
}

/**
 * Prepares the pod's root folder, environment and command line. Throws PodNotReady when
 * something it references does not exist yet, PodUnrunnable when it can never run here.
 */
export async function prepareSandbox(core: CoreV1Api, pod: V1Pod, options: SandboxOptions): Promise<Sandbox> {
  const namespace = pod.metadata?.namespace ?? 'default';
  const spec = pod.spec;
  const container = spec?.containers[0];
  if (!spec || !container) throw new PodUnrunnable('the pod has no container');
  if (spec.containers.length > 1)
    options.note(`pod ${namespace}/${pod.metadata?.name}: only the first container runs`);
  if (spec.initContainers?.length)
    options.note(`pod ${namespace}/${pod.metadata?.name}: init containers are ignored`);
  const { root } = options;
  const refs = new Refs(core, namespace);
  const messagePath = container.terminationMessagePath || DEFAULT_TERMINATION_MESSAGE_PATH;
  const mounts = [
    ...(container.volumeMounts ?? []).map((m) => posix.normalize(m.mountPath).replace(/\/+$/, '')),
    messagePath,
  ];

  // Everything the API holds is read before anything is written, so a retry starts clean.
  const account = spec.serviceAccountName || 'default';
  const automount = spec.automountServiceAccountToken !== false;
  const token = automount ? await serviceAccountToken(core, refs, namespace, account) : null;
  const home = join(root, 'home');
  const tmp = join(root, 'tmp');
  const base: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    TMPDIR: tmp,
    HOSTNAME: pod.metadata?.name ?? '',
    ...(process.env.NODE_OPTIONS ? { NODE_OPTIONS: process.env.NODE_OPTIONS } : {}),
    ...(token ? { KUBECONFIG: join(home, '.kube', 'config') } : {}),
    ...options.baseEnv,
  };
  const env = await resolveEnv(pod, container, refs, base, mounts, root);

  await rm(root, { recursive: true, force: true });
  for (const dir of [home, tmp, join(root, '.volumes')]) await mkdir(dir, { recursive: true });
  if (token) {
    await mkdir(join(home, '.kube'), { recursive: true });
    const config = kubeconfigYaml(
      options.apiServer,
      token,
      namespace,
      `system:serviceaccount:${namespace}:${account}`,
    );
    await writeFile(join(home, '.kube', 'config'), config, { mode: 0o600 });
  }
  const volumes = new Map((spec.volumes ?? []).map((v) => [v.name, v]));
  const volumeDirs = new Map<string, string>();
  for (const mount of container.volumeMounts ?? []) {
    const volume = volumes.get(mount.name);
    if (!volume) throw new PodUnrunnable(`volumeMount ${mount.mountPath}: no volume named "${mount.name}"`);
    let dir = volumeDirs.get(mount.name);
    if (dir === undefined) {
      dir = await materialize(volume, join(root, '.volumes', mount.name), pod, refs, options);
      volumeDirs.set(mount.name, dir);
    }
    const target = mount.subPath ? join(dir, mount.subPath) : dir;
    if (mount.subPath) await mkdir(target, { recursive: true });
    const at = join(root, mount.mountPath);
    await mkdir(dirname(at), { recursive: true });
    await symlink(target, at);
  }
  const terminationMessageFile = join(root, messagePath);
  await mkdir(dirname(terminationMessageFile), { recursive: true });

  const expand = (arg: string): string => mapPath(expandVars(arg, env), mounts, root);
  const command = (container.command ?? []).map(expand);
  const args = (container.args ?? []).map(expand);
  // The infermark image's entrypoint is `infermark`.
  const argv = command.length > 0 ? [...command, ...args] : ['infermark', ...args];
  if (argv[0] === 'infermark') {
    if (!options.infermarkMain)
      throw new PodUnrunnable('command is `infermark` but the kubelet has no infermarkMain');
    argv.splice(0, 1, process.execPath, options.infermarkMain);
  }
  const cwd = container.workingDir ? join(root, container.workingDir) : root;
  await mkdir(cwd, { recursive: true });
  return { root, argv, cwd, env, terminationMessageFile };
}
