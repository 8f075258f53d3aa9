/**
 * From a validated BenchmarkJob to the list of iterations: scenario-major (as
 * genai-bench runs them), each scenario at every concurrency level, then at every
 * request rate; a trace file adds one trace-replay iteration. The repeats of a
 * run group run these iterations in a seeded order of their own (iterationOrder).
 */
import type { BenchmarkJob } from '../spec/job-schema.js';
import { Prng, keyFromString } from '../base/prng.js';
import type { IterationPlan } from './plan.js';

/** Open loop: arrivals beyond this many requests in flight are dropped and counted. */
export const OPEN_LOOP_MAX_IN_FLIGHT = 1024;

export function buildPlan(job: BenchmarkJob): IterationPlan[] {
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
  const plans: IterationPlan[] = [];
  for (const scenario of spec.trafficScenarios) {
    for (const concurrency of spec.numConcurrency) {
      plans.push({
        index: plans.length,
        scenario,
        mode: 'concurrency',
        concurrency,
        ...common,
        max_in_flight: concurrency,
      });
    }
    for (const rate of spec.requestRates ?? []) {
      plans.push({
        index: plans.length,
        scenario,
        mode: 'rate',
        rate_rps: rate,
        arrival,
        ...common,
        max_in_flight: OPEN_LOOP_MAX_IN_FLIGHT,
      });
    }
  }
  if (spec.trace) {
    plans.push({
      index: plans.length,
      scenario: `trace:${spec.trace}`,
      mode: 'trace',
      ...common,
      max_in_flight: OPEN_LOOP_MAX_IN_FLIGHT,
    });
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
