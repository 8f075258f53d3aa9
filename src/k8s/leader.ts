/**
 * Leader election through a coordination.k8s.io Lease, as client-go's leaderelection does:
 * the holder renews the Lease every `renewMs`; a candidate takes it once it has gone
 * unrenewed for its whole duration. Every write is a replace with the resourceVersion read,
 * so of two candidates racing for an expired Lease exactly one wins (the other gets 409).
 * A leader that cannot renew within the duration stops leading before anyone else can start.
 */
import type { CoordinationV1Api, V1Lease } from '@kubernetes/client-node';
import { describeApiError, isConflict, isNotFound } from './kube.js';

export interface LeaderOptions {
  namespace: string;
  name: string;
  identity: string;
  durationS?: number;
  renewMs?: number;
  retryMs?: number;
  log?: (line: string) => void;
}

export class LeaderElector {
  private leading = false;
  private lastRenewMs = 0;
  /** The Lease record as last read, and when (this process's clock) it was first seen so. */
  private observed: { record: string; atMs: number } | null = null;
  private readonly durationS: number;
  private readonly renewMs: number;
  private readonly retryMs: number;
  private readonly log: (line: string) => void;

  constructor(
    private readonly api: CoordinationV1Api,
    private readonly options: LeaderOptions,
  ) {
    this.durationS = options.durationS ?? 15;
    this.renewMs = options.renewMs ?? 5000;
    this.retryMs = options.retryMs ?? 2000;
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
  }

  isLeader(): boolean {
    return this.leading;
  }

  /**
   * Campaigns until `signal` aborts: `onLead` when it becomes leader, `onLose` when it stops
   * being one. Releases the Lease on abort (so a successor need not wait the duration).
   */
  async run(signal: AbortSignal, onLead: () => void, onLose: () => void | Promise<void>): Promise<void> {
    while (!signal.aborted) {
      // Stamped before the request: a renewal that took long counts from when it was sent.
      const attemptMs = Date.now();
      const result = await this.tryAcquireOrRenew().catch((error: unknown): 'error' => {
        this.log(
          `infermark controller: lease ${this.options.namespace}/${this.options.name}: ${describeApiError(error)}`,
        );
        return 'error';
      });
      const now = Date.now();
      if (result === 'held') this.lastRenewMs = attemptMs;
      // Another holder read: step down at once. An unanswered renewal: keep leading only while
      // the Lease we last wrote is surely ours (two thirds of its duration), then stop.
      const stillLeader =
        result === 'held' ||
        (result === 'error' && this.leading && now - this.lastRenewMs < (this.durationS * 1000 * 2) / 3);
      if (stillLeader && !this.leading) {
        this.leading = true;
        onLead();
      } else if (!stillLeader && this.leading) {
        this.leading = false;
        void onLose();
      }
      await sleep(this.leading ? this.renewMs : this.retryMs, signal);
    }
    if (this.leading) {
      this.leading = false;
      // Its work ends before the Lease is given up: a successor never overlaps it.
      await onLose();
      await this.release().catch(() => {});
    }
  }

  private leaseBody(previous: V1Lease | null, now: Date): V1Lease {
    const sameHolder = previous?.spec?.holderIdentity === this.options.identity;
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name: this.options.name,
        namespace: this.options.namespace,
        ...(previous?.metadata?.resourceVersion
          ? { resourceVersion: previous.metadata.resourceVersion }
          : {}),
      },
      spec: {
        holderIdentity: this.options.identity,
        leaseDurationSeconds: this.durationS,
        acquireTime: sameHolder && previous?.spec?.acquireTime ? previous.spec.acquireTime : microTime(now),
        renewTime: microTime(now),
        leaseTransitions: (previous?.spec?.leaseTransitions ?? 0) + (previous && !sameHolder ? 1 : 0),
      },
    };
  }

  /**
   * 'held' when this candidate holds the Lease after the call, 'other' when someone else
   * does. Expiry is judged by this process's own clock since it last saw the record change
   * (as client-go does), never by comparing clocks with the holder's written renewTime.
   */
  private async tryAcquireOrRenew(): Promise<'held' | 'other'> {
    const { namespace, name, identity } = this.options;
    const now = new Date();
    let lease: V1Lease | null = null;
    try {
      lease = await this.api.readNamespacedLease({ name, namespace });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    if (!lease) {
      try {
        await this.api.createNamespacedLease({ namespace, body: this.leaseBody(null, now) });
        return 'held';
      } catch (error) {
        if (isConflict(error)) return 'other';
        throw error;
      }
    }
    const holder = lease.spec?.holderIdentity;
    const record = `${holder}|${String(lease.spec?.renewTime)}|${lease.metadata?.resourceVersion}`;
    if (this.observed?.record !== record) this.observed = { record, atMs: now.getTime() };
    const durationMs = (lease.spec?.leaseDurationSeconds ?? this.durationS) * 1000;
    if (holder && holder !== identity && now.getTime() - this.observed.atMs < durationMs) return 'other';
    try {
      await this.api.replaceNamespacedLease({ name, namespace, body: this.leaseBody(lease, now) });
      return 'held';
    } catch (error) {
      if (isConflict(error)) return 'other';
      throw error;
    }
  }

  /** Gives the Lease up: holder cleared, so the next candidate takes it at once. */
  private async release(): Promise<void> {
    const { namespace, name, identity } = this.options;
    const lease = await this.api.readNamespacedLease({ name, namespace });
    if (lease.spec?.holderIdentity !== identity) return;
    lease.spec = {
      ...lease.spec,
      holderIdentity: '',
      renewTime: microTime(new Date(0)),
      leaseDurationSeconds: 1,
    };
    await this.api.replaceNamespacedLease({ name, namespace, body: lease });
  }
}

/**
 * A Lease's times are MicroTime: the API server parses exactly six fractional digits. The
 * client passes a string through untouched but writes a Date with three (toISOString).
 */
function microTime(date: Date): Date {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z') as unknown as Date;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
