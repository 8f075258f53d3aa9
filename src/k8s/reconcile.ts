/**
 * One reconcile of one BenchmarkJob (controller-runtime's model): read what the cluster
 * holds, create what is missing by its fixed name (a 409 means it is already there: a
 * restarted controller makes no second Job), derive the status, write it only when it
 * changed. Nothing is remembered between calls; the next one starts from the cluster again.
 */
import { randomBytes } from 'node:crypto';
import type { V1Job, V1Pod } from '@kubernetes/client-node';
import { formatIssue } from '../base/errors.js';
import { formatPath } from '../spec/field-path.js';
import { toValidationIssues } from '../spec/job-issues.js';
import { validateJob } from '../spec/job-validate.js';
import { parseStorageUri } from '../spec/storage-uri.js';
import { inferenceServiceUrl } from '../spec/endpoint.js';
import type { EventRecorder } from './events.js';
import {
  configMapFor,
  coordinatorSecretFor,
  runJobFor,
  shardJobFor,
  type BuildInput,
  type Owner,
} from './job-builder.js';
import { describeApiError, isConflict, isNotFound, mergePatch, type KubeApis } from './kube.js';
import {
  API_VERSION,
  FINALIZER,
  GROUP,
  KIND,
  LABEL_JOB,
  LABEL_MANAGED_BY,
  LABEL_ROLE,
  MANAGED_BY,
  PLURAL,
  RUNNER_ACCOUNT,
  runJobName,
  shardJobName,
  VERSION,
} from './names.js';
import type { BenchmarkJobObject, BenchmarkJobStatus, ControllerStatus } from './resource.js';
import { TERMINAL } from './resource.js';
import { SpecAnnotationError, effectiveSpec } from './spec-annotation.js';
import { deriveStatus, type Observed } from './status.js';

export interface ReconcilerOptions {
  apis: KubeApis;
  events: EventRecorder;
  /** The benchmark image when podOverride names none. */
  image: string;
  /** The port a split run's coordinator listens on in its pod. */
  coordinatorPort?: number;
  /** Only BenchmarkJobs whose labels match run here (beside OME's controller). */
  matches?: (labels: Record<string, string>) => boolean;
  now?: () => Date;
}

export interface ReconcileResult {
  /** Look again after this long even without a watch event; null: only on events. */
  requeueAfterMs: number | null;
}

/** While a run is live, a look every few seconds catches what a dropped watch would miss. */
const LIVE_REQUEUE_MS = 5000;
/** lastReconcileTime is refreshed at most this often when nothing else changed. */
const STATUS_REFRESH_MS = 30_000;

const CUSTOM = { group: GROUP, version: VERSION, plural: PLURAL };

/** OME's InferenceService, where its CRD is installed. */
const ISVC = { group: 'ome.io', version: 'v1beta1', plural: 'inferenceservices' };

export class Reconciler {
  constructor(private readonly options: ReconcilerOptions) {}

  private get apis(): KubeApis {
    return this.options.apis;
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }

  async reconcile(namespace: string, name: string): Promise<ReconcileResult> {
    const bj = await this.read(namespace, name);
    if (!bj) return { requeueAfterMs: null };
    const owner: Owner = { name, namespace, uid: bj.metadata.uid };
    // Whatever its labels say now: a job this controller took on is let go by it.
    if (bj.metadata.deletionTimestamp) return this.finalize(bj, owner);
    if (this.options.matches && !this.options.matches(bj.metadata.labels ?? {}))
      return { requeueAfterMs: null };
    if (!(bj.metadata.finalizers ?? []).includes(FINALIZER)) {
      await this.patchObject(bj, { finalizers: [...(bj.metadata.finalizers ?? []), FINALIZER] });
      return { requeueAfterMs: 0 };
    }
    const previous = bj.status ?? {};
    if (previous.state && TERMINAL.includes(previous.state)) return { requeueAfterMs: null };

    const plan = await this.plan(bj);
    const job = await this.readJob(namespace, runJobName(name));
    const pod = job ? await this.runPod(namespace, name) : null;

    // A run that started has had its Job: one gone now was deleted, and is not made again.
    const started = previous.startTime !== undefined || previous.runId !== undefined;
    const jobGone = job === null && started;
    if (plan.input && !plan.waiting && !plan.cancel && !job && !started) {
      await this.createRun(plan.input);
      return { requeueAfterMs: 0 };
    }
    const shardsWanted =
      plan.input !== null && plan.input.workers > 1 && !plan.cancel && job !== null && !jobEnded(job);
    if (plan.input && shardsWanted && pod?.status?.phase === 'Running' && pod.status.podIP) {
      await this.ensureShards(plan.input, pod.status.podIP);
    }
    if (plan.cancel && job && pod?.status?.phase !== 'Running' && !jobEnded(job)) {
      // Not started yet: nothing to keep, the run is simply not made.
      await this.deleteJob(namespace, runJobName(name));
    }

    const observed: Observed = {
      invalid: plan.invalid,
      waiting: plan.waiting,
      cancelRequested: plan.cancel,
      job: job ? jobFacts(job) : null,
      jobGone,
      pod: pod ? podFacts(pod) : null,
      ...(previous.outcome ? { outcome: previous.outcome } : {}),
      ...(bj.metadata.generation !== undefined ? { generation: bj.metadata.generation } : {}),
      workers: plan.input?.workers ?? 1,
    };
    const derived = deriveStatus(previous, observed, this.now().toISOString());
    const patch: BenchmarkJobStatus = { ...derived.status };
    // The runner owns details once it runs; before that the controller says what it waits for.
    if (derived.details !== undefined && !previous.runId && !previous.outcome)
      patch.details = derived.details;
    if (changed(previous, patch, this.now())) await this.patchStatus(bj, patch);
    if (derived.transition) {
      const { reason, message, warning } = derived.transition;
      await this.options.events.record(owner, warning ? 'Warning' : 'Normal', reason, message);
    }
    const terminal = derived.status.state !== undefined && TERMINAL.includes(derived.status.state);
    return { requeueAfterMs: terminal ? null : LIVE_REQUEUE_MS };
  }

  private async read(namespace: string, name: string): Promise<BenchmarkJobObject | null> {
    try {
      return (await this.apis.custom.getNamespacedCustomObject({
        ...CUSTOM,
        namespace,
        name,
      })) as BenchmarkJobObject;
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  /** What to run: the validated job and its objects, or why not (invalid, waiting, cancelled). */
  private async plan(bj: BenchmarkJobObject): Promise<{
    input: BuildInput | null;
    invalid: string | null;
    waiting: string | null;
    cancel: boolean;
  }> {
    const { name, namespace, uid } = bj.metadata;
    let spec: Record<string, unknown>;
    try {
      spec = effectiveSpec(bj.spec, bj.metadata.annotations);
    } catch (error) {
      if (!(error instanceof SpecAnnotationError)) throw error;
      return { input: null, invalid: error.message, waiting: null, cancel: false };
    }
    const cancel = spec.cancel === true;
    const document: Record<string, unknown> = {
      apiVersion: API_VERSION,
      kind: KIND,
      metadata: { name, namespace },
      spec,
    };
    const validated = validateJob(document);
    if (!validated.ok) {
      const issues = toValidationIssues(validated.issues, document, `benchmarkjob/${name}`, formatPath);
      return { input: null, invalid: issues.map(formatIssue).join('; '), waiting: null, cancel };
    }
    const job = validated.job;
    const uri = job.spec.outputLocation?.storageUri;
    const parsed = uri ? parseStorageUri(uri) : null;
    const location = parsed?.ok ? parsed.location : null;
    if (location?.scheme === 'pvc' && location.namespace && location.namespace !== namespace) {
      const invalid = `benchmarkjob/${name}: spec.outputLocation.storageUri: "${uri}": a pod mounts only claims of its own namespace (${namespace})`;
      return { input: null, invalid, waiting: null, cancel };
    }
    let waiting: string | null = null;
    const isvc = job.spec.endpoint.inferenceService;
    if (isvc) {
      const resolved = await this.resolveInferenceService(isvc.name, isvc.namespace);
      waiting = resolved.waiting;
      if (resolved.url) {
        // The runner is given the URL the InferenceService reports, as a direct endpoint.
        spec.endpoint = { endpoint: { url: resolved.url, apiFormat: 'openai', modelName: isvc.name } };
        document.spec = spec;
      }
    }
    const workers = typeof job.spec.workers === 'number' ? job.spec.workers : 1;
    const input: BuildInput = {
      owner: { name, namespace, uid },
      job,
      document,
      image: this.options.image,
      workers,
    };
    return { input, invalid: null, waiting, cancel };
  }

  /**
   * Where OME's InferenceService CRD exists: wait until the service is Ready and use the URL
   * it reports. Without the CRD: the service's cluster DNS name, as OME's controller does.
   */
  private async resolveInferenceService(
    name: string,
    namespace: string,
  ): Promise<{ url: string | null; waiting: string | null }> {
    let isvc: {
      status?: {
        url?: string;
        address?: { url?: string };
        conditions?: Array<{ type?: string; status?: string }>;
      };
    };
    try {
      isvc = (await this.apis.custom.getNamespacedCustomObject({ ...ISVC, namespace, name })) as typeof isvc;
    } catch (error) {
      if (!isNotFound(error)) throw error;
      const body = String((error as { body?: unknown }).body ?? '');
      // 404 for the object (the CRD exists) differs from 404 for the resource type.
      if (body.includes('inferenceservices.ome.io')) {
        return { url: null, waiting: `waiting for InferenceService ${namespace}/${name} to exist` };
      }
      return { url: inferenceServiceUrl(name, namespace), waiting: null };
    }
    const ready = isvc.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    if (!ready)
      return { url: null, waiting: `waiting for InferenceService ${namespace}/${name} to be Ready` };
    return {
      url: isvc.status?.url ?? isvc.status?.address?.url ?? inferenceServiceUrl(name, namespace),
      waiting: null,
    };
  }

  private async createRun(input: BuildInput): Promise<void> {
    const { namespace } = input.owner;
    await this.ensureRunnerAccount(namespace);
    await this.createIfMissing(() =>
      this.apis.core.createNamespacedConfigMap({ namespace, body: configMapFor(input) }),
    );
    if (input.workers > 1) {
      const token = randomBytes(24).toString('base64url');
      await this.createIfMissing(() =>
        this.apis.core.createNamespacedSecret({ namespace, body: coordinatorSecretFor(input, token) }),
      );
    }
    const made = await this.createIfMissing(() =>
      this.apis.batch.createNamespacedJob({ namespace, body: runJobFor(input) }),
    );
    if (made) {
      const split = input.workers > 1 ? ` (split over ${input.workers} shard pods)` : '';
      await this.options.events.record(
        input.owner,
        'Normal',
        'JobCreated',
        `created Job ${runJobName(input.owner.name)}${split}`,
      );
    }
  }

  private async ensureShards(input: BuildInput, runPodIp: string): Promise<void> {
    const { namespace, name } = input.owner;
    let made = 0;
    for (let i = 0; i < input.workers; i++) {
      if (await this.readJob(namespace, shardJobName(name, i))) continue;
      if (
        await this.createIfMissing(() =>
          this.apis.batch.createNamespacedJob({ namespace, body: shardJobFor(input, i, runPodIp) }),
        )
      )
        made++;
    }
    if (made > 0) {
      await this.options.events.record(
        input.owner,
        'Normal',
        'ShardsCreated',
        `created ${made} shard Job(s) for the coordinator at ${runPodIp}`,
      );
    }
  }

  /** The runner's ServiceAccount in this namespace, bound to the `infermark-runner` ClusterRole. */
  private async ensureRunnerAccount(namespace: string): Promise<void> {
    await this.createIfMissing(() =>
      this.apis.core.createNamespacedServiceAccount({
        namespace,
        body: { metadata: { name: RUNNER_ACCOUNT, namespace, labels: { [LABEL_MANAGED_BY]: MANAGED_BY } } },
      }),
    );
    await this.createIfMissing(() =>
      this.apis.rbac.createNamespacedRoleBinding({
        namespace,
        body: {
          metadata: { name: RUNNER_ACCOUNT, namespace, labels: { [LABEL_MANAGED_BY]: MANAGED_BY } },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: RUNNER_ACCOUNT },
          subjects: [{ kind: 'ServiceAccount', name: RUNNER_ACCOUNT, namespace }],
        },
      }),
    );
  }

  /** True when it made the object; false when it was already there. */
  private async createIfMissing(create: () => Promise<unknown>): Promise<boolean> {
    try {
      await create();
      return true;
    } catch (error) {
      if (isConflict(error)) return false;
      throw error;
    }
  }

  private async readJob(namespace: string, name: string): Promise<V1Job | null> {
    try {
      return await this.apis.batch.readNamespacedJob({ namespace, name });
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  /** The run's pod: the newest with the run's labels (a Job with backoffLimit 0 makes one). */
  private async runPod(namespace: string, name: string): Promise<V1Pod | null> {
    const pods = await this.apis.core.listNamespacedPod({
      namespace,
      labelSelector: `${LABEL_JOB}=${name},${LABEL_ROLE}=run`,
    });
    const sorted = [...pods.items].sort(
      (a, b) =>
        new Date(b.metadata?.creationTimestamp ?? 0).getTime() -
        new Date(a.metadata?.creationTimestamp ?? 0).getTime(),
    );
    return sorted[0] ?? null;
  }

  private async deleteJob(namespace: string, name: string): Promise<void> {
    try {
      // Foreground: the Job goes only once its pods are gone, so "deleted" means stopped.
      await this.apis.batch.deleteNamespacedJob({ namespace, name, propagationPolicy: 'Foreground' });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  /** Deleting: stop its Jobs (and so their pods), then let the resource go. Uploads stay. */
  private async finalize(bj: BenchmarkJobObject, owner: Owner): Promise<ReconcileResult> {
    if (!(bj.metadata.finalizers ?? []).includes(FINALIZER)) return { requeueAfterMs: null };
    const { namespace, name } = owner;
    const jobs = await this.apis.batch.listNamespacedJob({
      namespace,
      labelSelector: `${LABEL_JOB}=${name},${LABEL_MANAGED_BY}=${MANAGED_BY}`,
    });
    const ours = jobs.items.filter((j) => j.metadata?.ownerReferences?.some((o) => o.uid === owner.uid));
    if (ours.length > 0) {
      for (const job of ours)
        if (!job.metadata?.deletionTimestamp) await this.deleteJob(namespace, job.metadata!.name!);
      return { requeueAfterMs: 1000 };
    }
    await this.patchObject(bj, { finalizers: (bj.metadata.finalizers ?? []).filter((f) => f !== FINALIZER) });
    return { requeueAfterMs: null };
  }

  /** Metadata changes carry the resourceVersion read: a concurrent change makes it a 409. */
  private async patchObject(bj: BenchmarkJobObject, metadata: { finalizers: string[] }): Promise<void> {
    await this.apis.custom.patchNamespacedCustomObject(
      {
        ...CUSTOM,
        namespace: bj.metadata.namespace,
        name: bj.metadata.name,
        body: { metadata: { ...metadata, resourceVersion: bj.metadata.resourceVersion } },
      },
      mergePatch(),
    );
  }

  private async patchStatus(bj: BenchmarkJobObject, status: BenchmarkJobStatus): Promise<void> {
    try {
      await this.apis.custom.patchNamespacedCustomObjectStatus(
        { ...CUSTOM, namespace: bj.metadata.namespace, name: bj.metadata.name, body: { status } },
        mergePatch(),
      );
    } catch (error) {
      if (isNotFound(error)) return;
      throw new Error(`status of ${bj.metadata.namespace}/${bj.metadata.name}: ${describeApiError(error)}`);
    }
  }
}

function jobEnded(job: V1Job): boolean {
  return (job.status?.conditions ?? []).some(
    (c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True',
  );
}

function jobFacts(job: V1Job): NonNullable<Observed['job']> {
  const conditions = job.status?.conditions ?? [];
  const failed = conditions.find((c) => c.type === 'Failed' && c.status === 'True');
  return {
    complete: conditions.some((c) => c.type === 'Complete' && c.status === 'True'),
    failed: failed !== undefined,
    ...(failed?.message ? { message: failed.message } : {}),
  };
}

function podFacts(pod: V1Pod): NonNullable<Observed['pod']> {
  const state = pod.status?.containerStatuses?.[0]?.state;
  const terminated = state?.terminated;
  const started = pod.status?.startTime;
  const created = pod.metadata?.creationTimestamp;
  const waiting = state?.waiting?.reason
    ? { reason: state.waiting.reason, ...(state.waiting.message ? { message: state.waiting.message } : {}) }
    : null;
  return {
    ...(created ? { createdAt: new Date(created).toISOString() } : {}),
    ...(waiting ? { waiting } : {}),
    ...(pod.status?.phase ? { phase: pod.status.phase } : {}),
    ...(started ? { startTime: new Date(started).toISOString() } : {}),
    ...(terminated ? { exitCode: terminated.exitCode } : {}),
    ...(terminated?.message ? { terminationMessage: terminated.message } : {}),
  };
}

/** Whether the controller's fields differ from what is stored (lastReconcileTime aside, unless stale). */
function changed(previous: BenchmarkJobStatus, next: BenchmarkJobStatus, now: Date): boolean {
  const { lastReconcileTime: last, ...rest } = next;
  for (const [key, value] of Object.entries(rest) as Array<[keyof ControllerStatus, unknown]>) {
    const before = (previous as Record<string, unknown>)[key];
    if (JSON.stringify(before) !== JSON.stringify(value)) return true;
  }
  const stored = previous.lastReconcileTime ? new Date(previous.lastReconcileTime).getTime() : 0;
  return last !== undefined && now.getTime() - stored >= STATUS_REFRESH_MS;
}
