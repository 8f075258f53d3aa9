/**
 * The plan: a run is a list of iterations, one per (traffic scenario × concurrency
 * level | request rate | trace). Plain data built from a validated job, so the
 * engine never reads the spec itself. An IterationPlan is written to run.json as it
 * is; the workload it draws from (a parsed scenario or a trace file) travels beside it.
 */
import type { Scenario } from '../spec/scenario-types.js';

export type IterationMode = 'concurrency' | 'rate' | 'trace';

export type ArrivalDistribution = 'constant' | 'poisson' | 'gamma';

export interface ArrivalSpec {
  distribution: ArrivalDistribution;
  /** Gamma shape; 1 = Poisson, < 1 burstier, > 1 smoother (vLLM's --burstiness). */
  burstiness: number;
}

export interface IterationPlan {
  /** Position in the run, from 0. */
  index: number;
  /** Scenario as written (`D(100,100)`), or `trace:<file>` for trace replay. */
  scenario: string;
  mode: IterationMode;
  /** Closed loop: requests kept in flight. */
  concurrency?: number;
  /** Open loop: mean arrivals per second. */
  rate_rps?: number;
  arrival?: ArrivalSpec;
  /** Measured requests to send (warmup requests come on top). */
  max_requests: number;
  /** Wall-clock limit of the iteration, warmup included. */
  max_time_s: number;
  warmup: { requests: number; seconds: number };
  /** Open loop: arrivals beyond this many in flight are dropped (counted, not delayed). */
  max_in_flight: number;
}

/** Where an iteration's items come from: a parsed traffic scenario, or a trace file to replay. */
export type IterationWorkload = { kind: 'scenario'; scenario: Scenario } | { kind: 'trace'; path: string };

/** An iteration as the engine runs it: the plan (as recorded) and its workload. */
export interface PlannedIteration {
  plan: IterationPlan;
  workload: IterationWorkload;
}

/** A short label for progress lines and folder names: `D(100,100) c=16`, `D(100,100) 40 req/s`. */
export function iterationLabel(plan: IterationPlan): string {
  if (plan.mode === 'concurrency') return `${plan.scenario} c=${plan.concurrency}`;
  if (plan.mode === 'rate') return `${plan.scenario} ${plan.rate_rps} req/s`;
  return plan.scenario;
}
