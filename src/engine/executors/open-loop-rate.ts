/**
 * Open-loop request rate: constant, Poisson or gamma arrivals at `rate_rps`,
 * timed from the iteration's start (no coordinated omission).
 */
import { arrivalOffsets, type Random } from '../arrivals.js';
import type { Dispatcher } from '../dispatcher.js';
import type { ArrivalSpec } from '../../plan/plan.js';
import type { Executor } from './executor.js';
import { runOpenLoop } from './open-loop.js';

export function openLoopRate(rateRps: number, arrival: ArrivalSpec, random: Random): Executor {
  return {
    name: 'open-loop-rate',
    validate: () => {
      const problems: string[] = [];
      if (!(rateRps > 0) || !Number.isFinite(rateRps)) problems.push('rate must be a number > 0 (req/s)');
      if (arrival.distribution === 'gamma' && !(arrival.burstiness > 0))
        problems.push('burstiness must be > 0');
      return problems;
    },
    describe: () =>
      `open loop, ${rateRps} req/s ${arrival.distribution}` +
      (arrival.distribution === 'gamma' ? ` (burstiness ${arrival.burstiness})` : ''),
    run: (dispatcher: Dispatcher) => runOpenLoop(dispatcher, arrivalOffsets(rateRps, arrival, random)),
  };
}
