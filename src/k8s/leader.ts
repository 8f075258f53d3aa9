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
  async run(signal: AbortSignal, onLead: () => void, onLose: () => void): Promise<void> {
    while (!signal.aborted) {
      const held = await this.tryAcquireOrRenew().catch((error: unknown) => {
        this.log(
          `infermark controller: lease ${this.options.namespace}/${this.options.name}: ${describeApiError(error)}`,
        );
        return false;
      });
      const now = Date.now();
      if (held) this.lastRenewMs = now;
      const stillLeader = held || (this.leading && now - this.lastRenewMs < (this.durationS * 1000 * 2) / 3);
      if (stillLeader && !this.leading) {
        this.leading = true;
        onLead();
      } else if (!stillLeader && this.leading) {
        this.leading = false;
        onLose();
      }
      await sleep(this.leading ? this.renewMs : this.retryMs, signal);
    }
    if (this.leading) {
      this.leading = false;
      onLose();
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

  /** True when this candidate holds the Lease after the call. */
  private async tryAcquireOrRenew(): Promise<boolean> {
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
        return true;
      } catch (error) {
        if (isConflict(error)) return false;
        throw error;
      }
    }
    const holder = lease.spec?.holderIdentity;
    const renewed = lease.spec?.renewTime ? new Date(lease.spec.renewTime).getTime() : 0;
    const durationMs = (lease.spec?.leaseDurationSeconds ?? this.durationS) * 1000;
    if (holder && holder !== identity && now.getTime() - renewed < durationMs) return false;
    try {
      await this.api.replaceNamespacedLease({ name, namespace, body: this.leaseBody(lease, now) });
      return true;
    } catch (error) {
      if (isConflict(error)) return false;
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
