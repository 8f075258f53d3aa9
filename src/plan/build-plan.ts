/**
 * From a validated BenchmarkJob to the list of iterations: scenario-major (as
 * genai-bench runs them), each scenario at every concurrency level, then at every
 * request rate; a trace file adds one trace-replay iteration. The repeats of a
 * run group run these iterations in a seeded order of their own (iterationOrder).
 * Scenarios come parsed from the validated job: nothing here parses a string.
 */
import type { ValidatedJob } from '../spec/validated-job.js';
import { Prng, keyFromString } from '../base/prng.js';
import type { IterationPlan, PlannedIteration } from './plan.js';

/** Open loop: arrivals beyond this many requests in flight are dropped and counted. */
export const OPEN_LOOP_MAX_IN_FLIGHT = 1024;

/** The iterations as recorded in run.json. */
export function buildPlan(job: ValidatedJob): IterationPlan[] {
  return planIterations(job).map((planned) => planned.plan);
}

/** The iterations with the workload each draws from, in plan order. */
export function planIterations(job: ValidatedJob): PlannedIteration[] {
  const { spec } = job;
  const common = {
    max_requests: spec.maxRequestsPerIteration,
    max_time_s: spec.maxTimePerIteration * 60,
    warmup: { requests: spec.warmup?.requests ?? 0, seconds: spec.warmup?.seconds ?? 0 },
  };
  const arrival = {
    distribution: spec.arrival.distribution,
    burstiness: spec.arrival.burstiness ?? 1,
  };
  const plans: PlannedIteration[] = [];
  for (const { text: scenario, scenario: parsed } of job.parsed.scenarios) {
    const workload = { kind: 'scenario', scenario: parsed } as const;
    for (const concurrency of spec.numConcurrency) {
      const plan: IterationPlan = {
        index: plans.length,
        scenario,
        mode: 'concurrency',
        concurrency,
        ...common,
        max_in_flight: concurrency,
      };
      plans.push({ plan, workload });
    }
    for (const rate of spec.requestRates ?? []) {
      const plan: IterationPlan = {
        index: plans.length,
        scenario,
        mode: 'rate',
        rate_rps: rate,
        arrival,
        ...common,
        max_in_flight: OPEN_LOOP_MAX_IN_FLIGHT,
      };
      plans.push({ plan, workload });
    }
  }
  if (spec.trace) {
    const plan: IterationPlan = {
      index: plans.length,
      scenario: `trace:${spec.trace}`,
      mode: 'trace',
      ...common,
      max_in_flight: OPEN_LOOP_MAX_IN_FLIGHT,
    };
    plans.push({ plan, workload: { kind: 'trace', path: spec.trace } });
  }
  return plans;
}

/**
 * The order a repeat runs its iterations in: the plan's own for a run alone; for
 * each repeat of a group a seeded shuffle (Fisher–Yates keyed by seed and repeat),
 * so that drift over the group's time is spread over every point instead of
 * landing on the last ones, and the same seed gives the same orders again.
 * Returns plan indexes.
 */
export function iterationOrder(count: number, seed: number, repeat: number, repeats: number): number[] {
  const order = Array.from({ length: count }, (_, i) => i);
  if (repeats <= 1) return order;
  const [keyA, keyB] = keyFromString(`iteration-order:${seed}:${repeat}`);
  const prng = new Prng(keyA, keyB);
  for (let i = count - 1; i > 0; i--) {
    const j = prng.intInclusive(0, i);
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  return order;
}
