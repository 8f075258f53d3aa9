/**
 * Kubernetes Events for what the controller did, so `kubectl describe benchmarkjob` shows
 * them. Emitted on actions and state transitions only (both read from the cluster), so a
 * restarted controller does not repeat them. An Event that cannot be written is not worth
 * failing a reconcile over: it is dropped, said once on stderr.
 */
import type { CoreV1Api, CoreV1Event } from '@kubernetes/client-node';
import { API_VERSION, KIND } from './names.js';
import { describeApiError } from './kube.js';
import type { Owner } from './job-builder.js';

export const COMPONENT = 'infermark-controller';

export class EventRecorder {
  private warned = false;

  constructor(
    private readonly core: CoreV1Api,
    private readonly instance: string,
    private readonly log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
  ) {}

  async record(owner: Owner, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const now = new Date();
    const event: CoreV1Event = {
      metadata: { generateName: `${owner.name}.`, namespace: owner.namespace },
      involvedObject: {
        apiVersion: API_VERSION,
        kind: KIND,
        name: owner.name,
        namespace: owner.namespace,
        uid: owner.uid,
      },
      type,
      reason,
      // The API server refuses messages past 1 KiB in some versions; ours are short anyway.
      message: message.slice(0, 1000),
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
      source: { component: COMPONENT },
      reportingComponent: COMPONENT,
      reportingInstance: this.instance,
    };
    try {
      await this.core.createNamespacedEvent({ namespace: owner.namespace, body: event });
    } catch (error) {
      if (!this.warned) {
        this.warned = true;
        this.log(
          `infermark controller: an Event could not be written (${describeApiError(error)}); later ones may be lost too`,
        );
      }
    }
  }
}
