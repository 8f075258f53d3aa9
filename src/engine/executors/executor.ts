/**
 * The executor contract (k6's shape): pure configuration that can validate and
 * describe itself, plus `run`, which decides when each request is sent. All
 * limits, phases and bookkeeping live in the Dispatcher, so an executor is small.
 */
import type { Dispatcher } from '../dispatcher.js';

export interface Executor {
  /** Registry key, kebab-case. */
  readonly name: 'closed-loop' | 'open-loop-rate' | 'trace-replay';
  /** Problems with the configuration, empty when it can run. */
  validate(): string[];
  /** One line for humans. */
  describe(): string;
  /** Sends requests until the dispatcher stops; resolves when nothing is in flight. */
  run(dispatcher: Dispatcher): Promise<void>;
}
