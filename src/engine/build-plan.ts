/**
 * From a validated BenchmarkJob to the list of iterations: scenario-major (as
 * genai-bench runs them), each scenario at every concurrency level, then at every
 * request rate; a trace file adds one trace-replay iteration.
 */
import type { BenchmarkJob } from '../spec/job-schema.js';
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
