/**
 * What the controller creates for a BenchmarkJob (docs/k8s.md): the ConfigMap with the job,
 * the run's batch Job, and for a split run the coordinator Secret and one Job per shard.
 * Pure functions of the resource and the validated job: the reconciler compares nothing,
 * it creates each object once by name, so a restarted controller makes no second one.
 *
 * OME's own controller, whose defects these avoid: it never passed additionalRequestParams
 * or dataset (here the whole job travels in the ConfigMap), gave a direct-URL endpoint no
 * API key (here apiKey.secretRef becomes INFERMARK_API_KEY), and ran one pod always.
 */
import type {
  V1ConfigMap,
  V1Container,
  V1EnvVar,
  V1Job,
  V1PodSpec,
  V1Secret,
  V1Volume,
  V1VolumeMount,
} from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { shardToken } from '../engine/shard-protocol.js';
import type { BenchmarkJob } from '../spec/job-schema.js';
import { parseStorageUri } from '../spec/storage-uri.js';
import { API_KEY_ENV } from '../backends/api-key.js';
import { COORDINATOR_TOKEN_ENV } from '../engine/shard-protocol.js';
import {
  API_VERSION,
  configMapName,
  CONTAINER,
  coordinatorSecretName,
  COORDINATOR_PORT,
  ENV,
  JOB_FILE_KEY,
  JOB_MOUNT,
  KIND,
  LABEL_JOB,
  LABEL_MANAGED_BY,
  LABEL_ROLE,
  LABEL_SHARD,
  MANAGED_BY,
  PVC_ROOT,
  RUNNER_ACCOUNT,
  RUNS_MOUNT,
  runJobName,
  shardJobName,
} from './names.js';

/** The resource as the builder needs it. */
export interface Owner {
  name: string;
  namespace: string;
  uid: string;
}

export interface BuildInput {
  owner: Owner;
  /** The job to run, validated (the annotation merged, the endpoint resolved). */
  job: BenchmarkJob;
  /** The job document written into the ConfigMap (what `infermark run` reads). */
  document: Record<string, unknown>;
  /** The image when podOverride names none. */
  image: string;
  /** Pods in the split: 1 for one pod. */
  workers: number;
  /** The run pod's coordinator port (default COORDINATOR_PORT). */
  coordinatorPort?: number;
}

/** The pod's identity and credentials: podOverride.env cannot replace these. */
export const RESERVED_ENV: ReadonlySet<string> = new Set([
  ...Object.values(ENV),
  COORDINATOR_TOKEN_ENV,
  API_KEY_ENV,
]);

/** OME's default benchmark pod size; podOverride.resources replaces it. */
const DEFAULT_RESOURCES = { requests: { cpu: '2', memory: '2Gi' }, limits: { memory: '4Gi' } };
/** Long enough to end an iteration, seal and upload after SIGTERM. */
const GRACE_S = 120;

export function labelsFor(owner: Owner, role: 'run' | 'shard', shard?: number): Record<string, string> {
  return {
    [LABEL_MANAGED_BY]: MANAGED_BY,
    [LABEL_JOB]: owner.name,
    [LABEL_ROLE]: role,
    ...(shard === undefined ? {} : { [LABEL_SHARD]: String(shard) }),
  };
}

function ownerReference(owner: Owner) {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: owner.name,
    uid: owner.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

function metadata(owner: Owner, name: string, labels: Record<string, string>) {
  return { name, namespace: owner.namespace, labels, ownerReferences: [ownerReference(owner)] };
}

export function configMapFor(input: BuildInput): V1ConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: metadata(input.owner, configMapName(input.owner.name), labelsFor(input.owner, 'run')),
    data: { [JOB_FILE_KEY]: stringify(input.document) },
  };
}

/** The coordinator's run token and each shard's token (HMAC of it), for a split run. */
export function coordinatorSecretFor(input: BuildInput, runToken: string): V1Secret {
  const data: Record<string, string> = { token: runToken };
  for (let i = 0; i < input.workers; i++) data[`shard-${i}`] = shardToken(runToken, i);
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: metadata(input.owner, coordinatorSecretName(input.owner.name), labelsFor(input.owner, 'run')),
    stringData: data,
  };
}

export function runJobFor(input: BuildInput): V1Job {
  const args = ['run', `${JOB_MOUNT}/${JOB_FILE_KEY}`, '--out', `${RUNS_MOUNT}/runs`, '--no-warehouse'];
  if (input.workers > 1) {
    const port = input.coordinatorPort ?? COORDINATOR_PORT;
    args.push('--workers', String(input.workers), '--coordinator-listen', `0.0.0.0:${port}`);
  }
  const extraEnv =
    input.workers > 1
      ? [secretEnv(COORDINATOR_TOKEN_ENV, coordinatorSecretName(input.owner.name), 'token')]
      : [];
  return batchJob(input, runJobName(input.owner.name), labelsFor(input.owner, 'run'), args, extraEnv);
}

/** Shard `index`'s Job: its index on its own command line, so no Job field decides it. */
export function shardJobFor(input: BuildInput, index: number, runPodIp: string): V1Job {
  const host = runPodIp.includes(':') ? `[${runPodIp}]` : runPodIp;
  const port = input.coordinatorPort ?? COORDINATOR_PORT;
  const args = ['shard', '--coordinator', `http://${host}:${port}`, '--shard', String(index)];
  const env = [secretEnv(COORDINATOR_TOKEN_ENV, coordinatorSecretName(input.owner.name), `shard-${index}`)];
  return batchJob(
    input,
    shardJobName(input.owner.name, index),
    labelsFor(input.owner, 'shard', index),
    args,
    env,
  );
}

function batchJob(
  input: BuildInput,
  name: string,
  labels: Record<string, string>,
  args: string[],
  extraEnv: V1EnvVar[],
): V1Job {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: metadata(input.owner, name, labels),
    spec: {
      // A benchmark is not retried behind the user's back: a second attempt would be another run.
      backoffLimit: 0,
      completions: 1,
      parallelism: 1,
      template: { metadata: { labels }, spec: podSpec(input, args, extraEnv) },
    },
  };
}

function secretEnv(name: string, secret: string, key: string): V1EnvVar {
  return { name, valueFrom: { secretKeyRef: { name: secret, key } } };
}

function fieldEnv(name: string, fieldPath: string): V1EnvVar {
  return { name, valueFrom: { fieldRef: { fieldPath } } };
}

function podSpec(input: BuildInput, args: string[], extraEnv: V1EnvVar[]): V1PodSpec {
  const { owner, job } = input;
  const spec = job.spec;
  const env: V1EnvVar[] = [
    { name: ENV.benchmarkJob, value: owner.name },
    fieldEnv(ENV.namespace, 'metadata.namespace'),
    { name: ENV.jobUid, value: owner.uid },
    fieldEnv(ENV.podUid, 'metadata.uid'),
    fieldEnv(ENV.podName, 'metadata.name'),
    fieldEnv(ENV.nodeName, 'spec.nodeName'),
    ...extraEnv,
  ];
  if (spec.apiKey?.secretRef)
    env.push(secretEnv(API_KEY_ENV, spec.apiKey.secretRef.name, spec.apiKey.secretRef.key));
  // OME writes `{name: ""}` for no secret (its Go struct has no omitempty).
  if (spec.huggingFaceSecretReference?.name) {
    env.push({ ...secretEnv(ENV.hfToken, spec.huggingFaceSecretReference.name, 'token') });
  }
  const volumes: V1Volume[] = [
    { name: 'job', configMap: { name: configMapName(owner.name) } },
    { name: 'runs', emptyDir: {} },
  ];
  const mounts: V1VolumeMount[] = [
    { name: 'job', mountPath: JOB_MOUNT, readOnly: true },
    { name: 'runs', mountPath: RUNS_MOUNT },
  ];
  const claim = pvcClaim(spec.outputLocation?.storageUri);
  if (claim) {
    volumes.push({ name: 'output', persistentVolumeClaim: { claimName: claim } });
    mounts.push({ name: 'output', mountPath: `${PVC_ROOT}/${claim}` });
    env.push({ name: ENV.pvcRoot, value: PVC_ROOT });
  }
  const container: V1Container = {
    name: CONTAINER,
    image: input.image,
    command: ['infermark'],
    args,
    env,
    resources: DEFAULT_RESOURCES,
    volumeMounts: mounts,
    // The reason a run failed, when it could not say it through the status.
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
  const pod: V1PodSpec = {
    restartPolicy: 'Never',
    serviceAccountName: RUNNER_ACCOUNT,
    terminationGracePeriodSeconds: GRACE_S,
    containers: [container],
    volumes,
  };
  return applyPodOverride(pod, spec.podOverride);
}

/** The claim a `pvc://` output needs mounted; null for any other scheme. */
export function pvcClaim(storageUri: string | undefined): string | null {
  if (!storageUri) return null;
  const parsed = parseStorageUri(storageUri);
  return parsed.ok && parsed.location.scheme === 'pvc' ? parsed.location.claim : null;
}

type Named = { name?: string };
/** Items of `extra` replace those of `base` with the same key; the rest are appended. */
function mergeBy<T>(
  base: T[] | undefined,
  extra: T[] | undefined,
  key: (item: T) => string | undefined,
): T[] {
  const out = [...(base ?? [])];
  for (const item of extra ?? []) {
    const at = out.findIndex((b) => key(b) !== undefined && key(b) === key(item));
    if (at >= 0) out[at] = item;
    else out.push(item);
  }
  return out;
}

/**
 * OME's podOverride, merged into the benchmark container by name as a strategic merge does:
 * env, volumes and volumeMounts by name (the override wins), tolerations and envFrom added,
 * nodeSelector merged, image, resources and affinity replaced.
 */
export function applyPodOverride(pod: V1PodSpec, override: BenchmarkJob['spec']['podOverride']): V1PodSpec {
  if (!override) return pod;
  const [container, ...rest] = pod.containers;
  const merged: V1Container = {
    ...container!,
    ...(override.image ? { image: override.image } : {}),
    ...(override.resources ? { resources: override.resources as V1Container['resources'] } : {}),
    // Who the pod is (the BenchmarkJob it reports to, its token) is not the job's to change.
    env: mergeBy(
      container!.env,
      (override.env as V1EnvVar[] | undefined)?.filter((e) => !RESERVED_ENV.has(e.name)),
      (e) => e.name,
    ),
    envFrom: [
      ...(container!.envFrom ?? []),
      ...((override.envFrom ?? []) as NonNullable<V1Container['envFrom']>),
    ],
    volumeMounts: mergeBy(
      container!.volumeMounts,
      override.volumeMounts as V1VolumeMount[] | undefined,
      (m) => m.name + ':' + m.mountPath,
    ),
  };
  if (merged.envFrom?.length === 0) delete merged.envFrom;
  return {
    ...pod,
    containers: [merged, ...rest],
    volumes: mergeBy(pod.volumes, override.volumes as V1Volume[] | undefined, (v: Named) => v.name),
    ...(override.tolerations
      ? {
          tolerations: [
            ...(pod.tolerations ?? []),
            ...(override.tolerations as NonNullable<V1PodSpec['tolerations']>),
          ],
        }
      : {}),
    ...(override.nodeSelector ? { nodeSelector: { ...pod.nodeSelector, ...override.nodeSelector } } : {}),
    ...(override.affinity ? { affinity: override.affinity as V1PodSpec['affinity'] } : {}),
  };
}
