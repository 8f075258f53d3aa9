/**
 * The controller's part of a BenchmarkJob's status, derived from what the cluster shows:
 * the run's batch Job, its pod, the runner's own report (`outcome`) and spec.cancel. A pure
 * function of those, so a restarted controller derives the same state (level-triggered).
 */
import type { BenchmarkJobStatus, Condition, ControllerStatus, Outcome, State } from './resource.js';
import { TERMINAL } from './resource.js';

export interface Observed {
  /** Why the job cannot run (validation), or null. */
  invalid: string | null;
  /** What it is waiting for before its Job can be made (an InferenceService), or null. */
  waiting: string | null;
  cancelRequested: boolean;
  /** The run's batch Job, or null when there is none yet. */
  job: { complete: boolean; failed: boolean; message?: string } | null;
  /** The run pod, or null before the Job controller made it. */
  pod: {
    phase?: string;
    startTime?: string;
    /** When the pod was made (ISO), for how long it has waited. */
    createdAt?: string;
    exitCode?: number;
    terminationMessage?: string;
    /** Why its container has not started (ImagePullBackOff, CreateContainerConfigError, …). */
    waiting?: { reason: string; message?: string };
  } | null;
  /** The run's Job is gone although the run had started (deleted by hand): it will not be made again. */
  jobGone?: boolean;
  outcome?: Outcome;
  generation?: number;
  workers: number;
}

export interface Derived {
  status: ControllerStatus;
  /** The controller's `details` while the runner has not started (Pending). */
  details?: string;
  /** A state it moved into: reason and message for an Event, and whether it is a warning. */
  transition: { reason: string; message: string; warning: boolean } | null;
}

/** The last 400 characters are enough to say why; a pod's log tail can be long. */
const MESSAGE_CHARS = 400;
const clip = (text: string): string =>
  text.length > MESSAGE_CHARS ? `…${text.slice(-MESSAGE_CHARS)}` : text;

/** Why a finished run failed, in the runner's words when it said them. */
function failureOf(observed: Observed): string {
  if (observed.outcome?.result === 'failed') return observed.outcome.reason;
  const pod = observed.pod;
  if (pod?.terminationMessage?.trim()) return clip(pod.terminationMessage.trim());
  if (pod?.exitCode !== undefined) return `the benchmark pod exited with code ${pod.exitCode}`;
  return observed.job?.message ?? 'the benchmark Job failed';
}

/** Reasons a pod never gets past: no retry can help. */
const HOPELESS = ['InvalidImageName', 'ErrImageNeverPull'];
/** How long a pod may wait on a reason that might clear (an image pull, a Secret to appear). */
export const POD_WAIT_LIMIT_MS = 15 * 60_000;

function stateOf(
  observed: Observed,
  nowMs: number,
): { state: State; failure?: string; reason: string; message: string } {
  if (observed.invalid)
    return { state: 'Failed', failure: observed.invalid, reason: 'InvalidSpec', message: observed.invalid };
  if (observed.jobGone && !observed.cancelRequested) {
    const failure =
      'the benchmark Job was deleted before the run ended; it is not made again (that would be a second run)';
    return { state: 'Failed', failure, reason: 'JobDeleted', message: failure };
  }
  const { job, pod, outcome } = observed;
  const ended = job !== null && (job.complete || job.failed);
  if (observed.cancelRequested && (job === null || ended || pod === null || pod.phase === 'Pending')) {
    const message = 'cancelled by spec.cancel; finished iterations are kept';
    return { state: 'Cancelled', reason: 'Cancelled', message };
  }
  if (outcome?.result === 'cancelled' && ended) {
    return { state: 'Cancelled', reason: 'Cancelled', message: outcome.reason ?? 'the run was cancelled' };
  }
  if (job?.complete && outcome?.result !== 'failed') {
    return { state: 'Completed', reason: 'Completed', message: 'the benchmark run completed' };
  }
  if (job?.failed || (job?.complete && outcome?.result === 'failed')) {
    const failure = failureOf(observed);
    return { state: 'Failed', failure, reason: 'RunFailed', message: failure };
  }
  // A pod that has finished before its Job says so is still the run: not back to Pending.
  if (pod?.phase === 'Running' || pod?.phase === 'Succeeded' || pod?.phase === 'Failed') {
    return { state: 'Running', reason: 'Running', message: 'the benchmark pod is running' };
  }
  if (pod?.waiting) {
    const why = `the benchmark pod is waiting: ${pod.waiting.reason}${pod.waiting.message ? `: ${clip(pod.waiting.message)}` : ''}`;
    const waitedMs = pod.createdAt ? nowMs - new Date(pod.createdAt).getTime() : 0;
    if (HOPELESS.includes(pod.waiting.reason) || waitedMs > POD_WAIT_LIMIT_MS) {
      return { state: 'Failed', failure: why, reason: 'PodNeverStarted', message: why };
    }
    return { state: 'Pending', reason: pod.waiting.reason, message: why };
  }
  if (observed.waiting) return { state: 'Pending', reason: 'Waiting', message: observed.waiting };
  return {
    state: 'Pending',
    reason: job ? 'PodPending' : 'Creating',
    message: job ? 'the benchmark pod is not running yet' : 'creating the benchmark Job',
  };
}

/**
 * The next controller status. `now` is an ISO time. Terminal states stay: a Completed run is
 * not reopened by a later look at a Job the garbage collector is removing.
 */
export function deriveStatus(previous: BenchmarkJobStatus, observed: Observed, now: string): Derived {
  const was = previous.state;
  if (was && TERMINAL.includes(was)) {
    return { status: { ...pickController(previous), lastReconcileTime: now }, transition: null };
  }
  const next = stateOf(observed, new Date(now).getTime());
  const status: ControllerStatus = {
    state: next.state,
    lastReconcileTime: now,
    workers: observed.workers,
    ...(observed.generation !== undefined ? { observedGeneration: observed.generation } : {}),
  };
  const started =
    previous.startTime ?? (next.state !== 'Pending' ? (observed.pod?.startTime ?? now) : undefined);
  if (started) status.startTime = started;
  if (TERMINAL.includes(next.state)) status.completionTime = now;
  if (next.failure) status.failureMessage = next.failure;
  status.conditions = conditionsFor(previous.conditions ?? [], next.state, next.reason, next.message, now);
  const changed = was !== next.state;
  return {
    status,
    ...(next.state === 'Pending' ? { details: next.message } : {}),
    transition: changed
      ? { reason: next.reason, message: next.message, warning: next.state === 'Failed' }
      : null,
  };
}

function pickController(status: BenchmarkJobStatus): ControllerStatus {
  const { state, startTime, completionTime, failureMessage, conditions, observedGeneration, workers } =
    status;
  return Object.fromEntries(
    Object.entries({
      state,
      startTime,
      completionTime,
      failureMessage,
      conditions,
      observedGeneration,
      workers,
    }).filter(([, v]) => v !== undefined),
  ) as ControllerStatus;
}

/** `Ready` (the run finished well) and `Running`, with transition times kept while unchanged. */
function conditionsFor(
  previous: Condition[],
  state: State,
  reason: string,
  message: string,
  now: string,
): Condition[] {
  const wanted: Array<Omit<Condition, 'lastTransitionTime'>> = [
    { type: 'Running', status: state === 'Running' ? 'True' : 'False', reason, message },
    {
      type: 'Succeeded',
      status: state === 'Completed' ? 'True' : TERMINAL.includes(state) ? 'False' : 'Unknown',
      reason,
      message,
    },
  ];
  return wanted.map((c) => {
    const old = previous.find((p) => p.type === c.type);
    return { ...c, lastTransitionTime: old && old.status === c.status ? old.lastTransitionTime : now };
  });
}
