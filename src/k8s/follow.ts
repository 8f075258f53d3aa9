/**
 * Following a BenchmarkJob's status until it ends (`infermark k8s submit --wait`): the
 * object is read every `poll_ms` (level-triggered, like the controller: a missed change is
 * seen at the next read, and the last state is always read), each change of state or
 * details is reported, and the wait ends at Completed/Failed/Cancelled or the timeout.
 * The API server unreachable for longer than `unreachable_ms` ends it with that error.
 */
import { ExitCode, InfermarkError } from '../base/errors.js';
import { readBenchmarkJob } from './benchmarkjob-api.js';
import { isTerminal, jobView, progressKey, type JobView } from './job-status.js';
import type { KubeConnection } from './kube-connection.js';

export interface FollowOptions {
  /** null: no limit. */
  timeout_ms: number | null;
  poll_ms?: number;
  unreachable_ms?: number;
  /** Called on every read (the progress line redraws its clock) with whether it changed. */
  onRead: (view: JobView, changed: boolean) => void;
}

export interface FollowResult {
  view: JobView;
  timedOut: boolean;
}

export async function followBenchmarkJob(
  conn: KubeConnection,
  name: string,
  options: FollowOptions,
): Promise<FollowResult> {
  const poll_ms = options.poll_ms ?? 500;
  const unreachable_ms = options.unreachable_ms ?? 30_000;
  const deadline = options.timeout_ms === null ? Infinity : Date.now() + options.timeout_ms;
  let last: JobView | null = null;
  let lastKey: string | null = null;
  let failingSince: number | null = null;
  for (;;) {
    // undefined: this read failed.
    let resource: Record<string, unknown> | null | undefined;
    try {
      resource = await readBenchmarkJob(conn, name);
      failingSince = null;
    } catch (error) {
      // A restart of the API server, a dropped connection: keep reading, for a while.
      failingSince ??= Date.now();
      if (Date.now() - failingSince > unreachable_ms) throw error;
      resource = undefined;
    }
    if (resource === null) {
      throw new InfermarkError(
        'E_K8S_GONE',
        `benchmarkjob ${conn.namespace}/${name} was deleted while waiting for it${last?.state ? ` (last state ${last.state})` : ''}`,
        ExitCode.failure,
      );
    }
    if (resource !== undefined) {
      last = jobView(resource);
      const key = progressKey(last);
      options.onRead(last, key !== lastKey);
      lastKey = key;
      if (isTerminal(last.state)) return { view: last, timedOut: false };
    }
    if (Date.now() >= deadline && last) return { view: last, timedOut: true };
    await new Promise((resolve) =>
      setTimeout(resolve, Math.max(0, Math.min(poll_ms, deadline - Date.now()))),
    );
  }
}
