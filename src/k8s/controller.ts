/**
 * `infermark controller`: watches BenchmarkJobs and the Jobs and Pods it made, and
 * reconciles each BenchmarkJob they concern (reconcile.ts), while it holds the Lease.
 * Watches only say which key to look at; every reconcile reads the cluster afresh, and a
 * periodic list catches anything a dropped watch missed. Errors back off per key (1 s
 * doubling to 60 s); one key is never reconciled twice at once.
 */
import { hostname } from 'node:os';
import { makeInformer, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { EventRecorder } from './events.js';
import { describeApiError, kubeApis, type KubeApis } from './kube.js';
import { LeaderElector } from './leader.js';
import { GROUP, LABEL_JOB, LABEL_MANAGED_BY, LEASE_NAME, MANAGED_BY, PLURAL, VERSION } from './names.js';
import { Reconciler } from './reconcile.js';
import { labelMatcher } from './selector.js';

export interface ControllerOptions {
  kc: KubeConfig;
  image: string;
  /** The port a split run's coordinator listens on in its pod (default 7700). */
  coordinatorPort?: number;
  /** One namespace, or every namespace when absent. */
  namespace?: string;
  /** A label selector on BenchmarkJobs (equality-based: `a=b,c!=d,e,!f`). */
  selector?: string;
  /** Where the Lease lives. */
  leaseNamespace: string;
  identity?: string;
  /** How often every BenchmarkJob is looked at without an event. */
  resyncMs?: number;
  /** Reconciles at once (different keys). */
  workers?: number;
  leaseDurationS?: number;
  leaseRenewMs?: number;
  log?: (line: string) => void;
}

const MAX_BACKOFF_MS = 60_000;

/** Runs until `signal` aborts. */
export async function runController(options: ControllerOptions, signal: AbortSignal): Promise<void> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const apis = kubeApis(options.kc);
  const identity = options.identity ?? `${hostname()}-${process.pid}`;
  const matches = options.selector ? labelMatcher(options.selector) : undefined;
  const reconciler = new Reconciler({
    apis,
    events: new EventRecorder(apis.core, identity, log),
    image: options.image,
    ...(options.coordinatorPort ? { coordinatorPort: options.coordinatorPort } : {}),
    ...(matches ? { matches } : {}),
  });
  const elector = new LeaderElector(apis.coordination, {
    namespace: options.leaseNamespace,
    name: LEASE_NAME,
    identity,
    ...(options.leaseDurationS ? { durationS: options.leaseDurationS } : {}),
    ...(options.leaseRenewMs ? { renewMs: options.leaseRenewMs } : {}),
    log,
  });
  let leading: Leading | null = null;
  // A new term starts only once the last one's reconciles have finished: never two at once.
  let stopped: Promise<void> = Promise.resolve();
  await elector.run(
    signal,
    () => {
      log(
        `infermark controller ${identity}: leading; reconciling BenchmarkJobs in ${options.namespace ?? 'all namespaces'}`,
      );
      const term = new Leading(options, apis, reconciler, log);
      leading = term;
      void stopped.then(() => {
        if (leading === term) term.start();
      });
    },
    () => {
      log(`infermark controller ${identity}: not leading; standing by`);
      const term = leading;
      leading = null;
      if (term) stopped = term.stop();
      return stopped;
    },
  );
  await stopped;
}

/** The work of a leader: watches, the queue, the workers. Stopped when leadership is lost. */
class Leading {
  private readonly queue = new Map<string, number>();
  private readonly failures = new Map<string, number>();
  private readonly busy = new Set<string>();
  private readonly informers: Array<{ stop(): Promise<void> }> = [];
  private stopped = false;
  private wake: (() => void) | null = null;
  private loops: Promise<void>[] = [];
  private resync: NodeJS.Timeout | null = null;

  constructor(
    private readonly options: ControllerOptions,
    private readonly apis: KubeApis,
    private readonly reconciler: Reconciler,
    private readonly log: (line: string) => void,
  ) {}

  start(): void {
    const ns = this.options.namespace;
    const prefix = (group: string): string => (ns ? `${group}/namespaces/${ns}` : group);
    const managed = `${LABEL_MANAGED_BY}=${MANAGED_BY}`;
    this.watch(
      `${prefix(`/apis/${GROUP}/${VERSION}`)}/${PLURAL}`,
      () => this.listJobs(),
      (o) => this.enqueue(o.metadata?.namespace, o.metadata?.name),
      this.options.selector,
    );
    const ownerKey = (o: KubernetesObject): void =>
      this.enqueue(o.metadata?.namespace, o.metadata?.labels?.[LABEL_JOB]);
    this.watch(
      `${prefix('/apis/batch/v1')}/jobs`,
      () =>
        ns
          ? this.apis.batch.listNamespacedJob({ namespace: ns, labelSelector: managed })
          : this.apis.batch.listJobForAllNamespaces({ labelSelector: managed }),
      ownerKey,
      managed,
    );
    this.watch(
      `${prefix('/api/v1')}/pods`,
      () =>
        ns
          ? this.apis.core.listNamespacedPod({ namespace: ns, labelSelector: managed })
          : this.apis.core.listPodForAllNamespaces({ labelSelector: managed }),
      ownerKey,
      managed,
    );
    const resyncMs = this.options.resyncMs ?? 30_000;
    const everything = (): void => {
      this.listJobs()
        .then((list) => list.items.forEach((o) => this.enqueue(o.metadata?.namespace, o.metadata?.name)))
        .catch((error: unknown) =>
          this.log(`infermark controller: listing BenchmarkJobs: ${describeApiError(error)}`),
        );
    };
    everything();
    this.resync = setInterval(everything, resyncMs);
    const workers = this.options.workers ?? 2;
    for (let i = 0; i < workers; i++) this.loops.push(this.work());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.resync) clearInterval(this.resync);
    this.wake?.();
    await Promise.all(this.informers.map((i) => i.stop().catch(() => {})));
    await Promise.all(this.loops);
  }

  private listJobs(): Promise<{ items: KubernetesObject[] }> {
    const ns = this.options.namespace;
    const selector = this.options.selector ? { labelSelector: this.options.selector } : {};
    const listed = ns
      ? this.apis.custom.listNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          plural: PLURAL,
          namespace: ns,
          ...selector,
        })
      : this.apis.custom.listClusterCustomObject({
          group: GROUP,
          version: VERSION,
          plural: PLURAL,
          ...selector,
        });
    return listed as Promise<{ items: KubernetesObject[] }>;
  }

  /** An informer that only enqueues; restarted after an error (a dropped watch), never fatal. */
  private watch(
    path: string,
    list: () => Promise<{ items: KubernetesObject[] }>,
    onObject: (o: KubernetesObject) => void,
    labelSelector?: string,
  ): void {
    const informer = makeInformer(
      this.options.kc,
      path,
      list as Parameters<typeof makeInformer>[2],
      labelSelector,
    );
    for (const verb of ['add', 'update', 'delete'] as const) informer.on(verb, onObject);
    informer.on('error', (error: unknown) => {
      if (this.stopped) return;
      this.log(`infermark controller: watch ${path}: ${describeApiError(error)}; restarting in 2 s`);
      setTimeout(() => {
        if (!this.stopped) informer.start().catch(() => {});
      }, 2000).unref();
    });
    informer
      .start()
      .catch((error: unknown) => this.log(`infermark controller: watch ${path}: ${describeApiError(error)}`));
    this.informers.push(informer);
  }

  private enqueue(namespace: string | undefined, name: string | undefined, afterMs = 0): void {
    if (!namespace || !name || this.stopped) return;
    const key = `${namespace}/${name}`;
    const due = Date.now() + afterMs;
    const queued = this.queue.get(key);
    if (queued === undefined || due < queued) this.queue.set(key, due);
    this.wake?.();
  }

  /** The next key due and not being reconciled, or how long until one is. */
  private next(): { key: string } | { waitMs: number } {
    const now = Date.now();
    let soonest = Infinity;
    for (const [key, due] of this.queue) {
      if (this.busy.has(key)) continue;
      if (due <= now) {
        this.queue.delete(key);
        return { key };
      }
      soonest = Math.min(soonest, due - now);
    }
    return { waitMs: Math.min(soonest, 1000) };
  }

  private async work(): Promise<void> {
    while (!this.stopped) {
      const next = this.next();
      if ('waitMs' in next) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, next.waitMs);
          const previous = this.wake;
          function done(): void {
            clearTimeout(timer);
            resolve();
          }
          this.wake = () => {
            done();
            previous?.();
          };
        });
        this.wake = null;
        continue;
      }
      const { key } = next;
      const [namespace, name] = key.split('/') as [string, string];
      this.busy.add(key);
      try {
        const result = await this.reconciler.reconcile(namespace, name);
        this.failures.delete(key);
        if (result.requeueAfterMs !== null) this.enqueue(namespace, name, result.requeueAfterMs);
      } catch (error) {
        const failures = (this.failures.get(key) ?? 0) + 1;
        this.failures.set(key, failures);
        const backoffMs = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (failures - 1));
        this.log(
          `infermark controller: reconcile ${key} failed (${describeApiError(error)}); again in ${backoffMs / 1000} s`,
        );
        this.enqueue(namespace, name, backoffMs);
      } finally {
        this.busy.delete(key);
      }
    }
  }
}
