/**
 * What the engine tells its outputs while a run goes (k6's outputs): the interface the run
 * folder writer, the hot metrics and the CLI's progress implement. It sits with the records,
 * below the engine, so an output never imports the engine it listens to.
 */
import type { IterationPlan } from '../plan/plan.js';
import type { IterationSummary } from './iteration-summary.js';
import type { RequestRecord } from './record.js';

/** Live counts of the iteration under way, for progress lines. */
export interface ProgressSnapshot {
  sent: number;
  done: number;
  errors: number;
  in_flight: number;
  measured_done: number;
  max_requests: number;
  elapsed_s: number;
  max_time_s: number;
  /** The iteration's fail-fast watch (engine/fail-fast.ts): a split run's coordinator adds the shards' up. */
  fail_watch?: FailWatchState;
}

/** Where a fail-fast watch stands: measured requests failed alike so far, their class, and whether it settled without tripping. */
export interface FailWatchState {
  failed: number;
  error_class: string | null;
  settled: boolean;
}

/** What a run is, once its workloads are described and its iterations follow. */
export interface RunStartInfo {
  runId: string;
  dir: string;
  plans: IterationPlan[];
  benchmarkCaseId: string;
  /** The run's place in its group: repeat 0 of 1 for a run alone. */
  runGroupId: string;
  repeat: number;
  repeats: number;
}

export interface RunEvents {
  onRunStart?(info: RunStartInfo): void;
  onIterationStart?(plan: IterationPlan, total: number): void;
  onProgress?(plan: IterationPlan, snapshot: ProgressSnapshot): void;
  onIterationEnd?(plan: IterationPlan, summary: IterationSummary): void;
  /** Each finished record, once it is written to the run folder; on the request path: O(1), no awaits. */
  onRecord?(plan: IterationPlan, record: RequestRecord): void;
  /** Something worth telling the user that does not stop the run. */
  onNotice?(message: string): void;
}
