/**
 * What the engine tells its outputs (k6's `Output`): the run opens and starts, each
 * iteration starts, its records come one by one, it ends, and the run stops. The run
 * folder's writer, the progress view and the hot metrics are outputs alike, found by
 * name in the registry (registry.ts), so the engine writes no file itself.
 *
 * The request path calls only `addRecord`, `progress` and `notice`: synchronous, and
 * never awaited (an output hands the record on and returns). The async calls come
 * between iterations, and the engine awaits them there: completed work is on disk
 * before the next iteration starts.
 */
import type { IterationSummary } from '../../metrics/iteration-summary.js';
import type { RequestRecord } from '../../metrics/record.js';
import type { ProgressSnapshot, RunStartInfo } from '../../metrics/run-events.js';
import type { IterationPlan } from '../../plan/plan.js';
import type { ScrapeTarget } from '../../telemetry/iteration-scrapes.js';
import type { RunStatus } from '../run-status.js';

/** A telemetry target to read while an iteration's load runs (one definition, beside its scrapers). */
export type { ScrapeTarget };

/** The run has an id and a folder; the server is not yet probed. */
export interface RunOpening {
  runId: string;
  /** The run's folder. */
  dir: string;
  /** The run's document as far as it is known before the probes (run.json's first form). */
  document: Record<string, unknown>;
}

/** The server answered the probes and the workloads are described: the iterations follow. */
export interface RunStart extends RunStartInfo {
  /** The run's whole document (run.json), which replaces the opening one. */
  document: Record<string, unknown>;
  /** The plan grows as the run goes (planGrown), so run.json changes after iterations are sealed. */
  growing?: boolean;
}

/** A growing plan got its next iteration (engine/run.ts, PlanExtension). */
export interface PlanGrowth {
  plan: IterationPlan;
  /** run.json whole, its `plan` with the new iteration. */
  document: Record<string, unknown>;
}

export interface IterationStart {
  plan: IterationPlan;
  /** How many iterations the run plans. */
  total: number;
  /** The telemetry targets to scrape (those that answered before the run); empty for none. */
  scrapes: readonly ScrapeTarget[];
  /** The run's Ctrl-C. */
  signal: AbortSignal | undefined;
}

export interface IterationEnd {
  plan: IterationPlan;
  /** Every record of the iteration, in the order they finished (none when the load failed). */
  records: readonly RequestRecord[];
  /**
   * The iteration's summary and the workload it sent; null when its load failed with an
   * error: the output releases what the iteration holds and writes nothing more.
   */
  completed: { summary: IterationSummary; workload: Record<string, unknown> } | null;
}

export interface RunEnd {
  runId: string;
  status: RunStatus;
  /** The run's summary document (summary.json). */
  summary: Record<string, unknown>;
  /** Further documents of the run (file name → JSON, `search.json`), kept and sealed with it. */
  documents?: Record<string, unknown>;
}

/** What sealing the run's evidence gave: the digest the run result and the warehouse carry. */
export interface RunSeal {
  artifactManifestDigest: string;
}

/** One consumer of a run's events. Every call is optional but the name. */
export interface RunOutput {
  /** Its name in the registry. */
  readonly name: string;
  open?(run: RunOpening): Promise<void>;
  start?(run: RunStart): Promise<void>;
  /** Between iterations, when a growing plan gets its next one. */
  planGrown?(growth: PlanGrowth): Promise<void>;
  startIteration?(iteration: IterationStart): Promise<void>;
  /** On the request path, once per finished record: O(1), synchronous, never throws. */
  addRecord?(plan: IterationPlan, record: RequestRecord): void;
  /** On a timer while an iteration runs; synchronous. */
  progress?(plan: IterationPlan, snapshot: ProgressSnapshot): void;
  /** Something worth telling the user that does not stop the run. */
  notice?(message: string): void;
  /** Awaited before the next iteration starts: what the output writes of the iteration is written. */
  endIteration?(iteration: IterationEnd): Promise<void>;
  /** The run ended and is judged; the output that keeps the evidence seals it and says its digest. */
  stop?(run: RunEnd): Promise<RunSeal | void>;
  /** The run ended by an error before it was judged: release what the output holds (nothing is sealed). */
  fail?(error: unknown): Promise<void>;
}
