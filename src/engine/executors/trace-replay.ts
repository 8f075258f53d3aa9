/**
 * Trace replay: each request is sent at its recorded arrival offset (from the
 * trace's first arrival), with the trace's input and output lengths.
 */
import type { ItemSource } from '../../workload/work-item.js';
import type { Dispatcher } from '../dispatcher.js';
import type { Executor } from './executor.js';
import { runOpenLoop } from './open-loop.js';

export function traceReplay(items: ItemSource): Executor {
  return {
    name: 'trace-replay',
    validate: () => (items.size > 0 ? [] : ['the trace has no requests']),
    describe: () => `trace replay, ${items.size} arrivals`,
    run: (dispatcher: Dispatcher) => {
      let index = 0;
      // The dispatcher's prepared items: building a prompt between arrivals would delay them.
      return runOpenLoop(dispatcher, () =>
        index < items.size ? (dispatcher.itemAt(index++).arrival_offset_us ?? 0) : null,
      );
    },
  };
}
