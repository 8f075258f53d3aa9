/**
 * Closed-loop concurrency: keep N requests in flight. A request is scheduled the
 * moment a slot frees, so `scheduled_at` equals the previous request's end.
 */
import { nowUs } from '../../base/clock.js';
import { shareOf } from '../../plan/segments.js';
import type { Dispatcher } from '../dispatcher.js';
import type { Executor } from './executor.js';

export function closedLoop(concurrency: number): Executor {
  return {
    name: 'closed-loop',
    validate: () =>
      Number.isInteger(concurrency) && concurrency >= 1 ? [] : ['concurrency must be an integer ≥ 1'],
    describe: () => `closed loop, ${concurrency} in flight`,
    async run(dispatcher: Dispatcher): Promise<void> {
      const slot = async (): Promise<void> => {
        for (;;) {
          const scheduledAtUs = nowUs();
          const claim = dispatcher.claim(scheduledAtUs);
          if (!claim) return;
          await dispatcher.send(claim, scheduledAtUs);
        }
      };
      // A shard keeps its part of the slots (plan/segments.ts); the parts sum to `concurrency`.
      await Promise.all(Array.from({ length: shareOf(dispatcher.segment, concurrency) }, slot));
    },
  };
}
