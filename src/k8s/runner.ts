/**
 * The run pod's link to its BenchmarkJob (docs/k8s.md): when the environment names the
 * BenchmarkJob and its namespace, `infermark run` records who it is (run.json's
 * `kubernetes`), keeps the runner's status fields current, and watches for spec.cancel.
 * The client configuration is KUBECONFIG's, else the pod's own ServiceAccount.
 */
import { KubeConfig } from '@kubernetes/client-node';
import type { KubernetesIdentity } from '../evidence/kubernetes-identity.js';
import type { RunEvents } from '../metrics/run-events.js';
import { identityFromEnv, runnerTarget, type RunnerTarget } from './runner-identity.js';
import { watchCancel, type CancelWatch } from './runner-cancel.js';
import { kubeStatusApi, type StatusApi } from './runner-api.js';
import { statusEvents } from './runner-events.js';
import { StatusWriter, type RunnerOutcome, type StatusWriterOptions } from './runner-status.js';

/** Why a run ends when its BenchmarkJob says cancel. */
export const CANCEL_REASON = 'cancelled: spec.cancel is true';

export interface RunnerLink {
  identity: KubernetesIdentity;
  /** The run's events, as status. */
  events: RunEvents;
  /** Aborted when spec.cancel is set: end the run as the first Ctrl-C does. */
  cancel: AbortSignal;
  /** CANCEL_REASON once cancel was seen, else null. */
  cancelReason(): string | null;
  /** A run is sealed and uploaded: its digest, and where its folder is (when it was uploaded). */
  sealed(fields: { runId: string; artifactManifestDigest: string; results?: string }): void;
  /** Writes the outcome, stops watching and flushes (bounded); call once, at the end. */
  finish(outcome: RunnerOutcome): Promise<void>;
}

export interface RunnerLinkOptions extends StatusWriterOptions {
  /** The API (the real one from the kubeconfig by default). */
  api?: StatusApi;
  cancelIntervalMs?: number;
}

function defaultApi(target: RunnerTarget): StatusApi {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  return kubeStatusApi(kc, target);
}

/**
 * A shard pod's own watch of spec.cancel (it has the run pod's environment): the coordinator
 * cannot signal a pod, so each shard ends its current iteration itself, as on its Ctrl-C.
 * Null when this process is not in a BenchmarkJob's pod.
 */
export function watchJobCancel(
  env: NodeJS.ProcessEnv,
  onCancel: () => void,
  options: { api?: StatusApi; intervalMs?: number } = {},
): CancelWatch | null {
  const target = runnerTarget(env);
  if (!target) return null;
  return watchCancel(
    options.api ?? defaultApi(target),
    `BenchmarkJob ${target.namespace}/${target.name}`,
    onCancel,
    options.intervalMs !== undefined ? { intervalMs: options.intervalMs } : {},
  );
}

/** The link, or null when this process is not a BenchmarkJob's runner. */
export function startRunnerLink(env: NodeJS.ProcessEnv, options: RunnerLinkOptions = {}): RunnerLink | null {
  const target = runnerTarget(env);
  const identity = identityFromEnv(env);
  if (!target || !identity) return null;
  const where = `BenchmarkJob ${target.namespace}/${target.name}`;
  const api = options.api ?? defaultApi(target);
  const writer = new StatusWriter(api, where, options);
  const cancel = new AbortController();
  const watch: CancelWatch = watchCancel(api, where, () => cancel.abort(), {
    ...(options.cancelIntervalMs !== undefined ? { intervalMs: options.cancelIntervalMs } : {}),
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.report ? { report: options.report } : {}),
  });
  let finished = false;
  return {
    identity,
    events: statusEvents(writer),
    cancel: cancel.signal,
    cancelReason: () => (cancel.signal.aborted ? CANCEL_REASON : null),
    sealed({ runId, artifactManifestDigest, results }) {
      writer.update({ runId, artifactManifestDigest, ...(results ? { results } : {}) }, true);
    },
    async finish(outcome) {
      if (finished) return;
      finished = true;
      watch.stop();
      const details =
        outcome.result === 'succeeded'
          ? 'Succeeded'
          : `${outcome.result === 'failed' ? 'Failed' : 'Cancelled'}: ${outcome.reason}`;
      writer.update({ outcome, details: details.slice(0, 1000) }, true);
      await writer.flush();
    },
  };
}
