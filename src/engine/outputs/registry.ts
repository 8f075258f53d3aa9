/**
 * The outputs a run can feed, by name (kebab-case keys: adding an output is one module
 * and one line here). `run-folder` keeps the evidence; `events` carries the run's events
 * to the progress view and the hot metrics.
 */
import { ExitCode, InfermarkError } from '../../base/errors.js';
import type { RunEvents } from '../../metrics/run-events.js';
import { eventsOutput } from './events-output.js';
import type { RunOutput } from './output.js';
import { RunFolderOutput } from './run-folder-output.js';

/** What an output is made from: one per run. */
export interface OutputContext {
  /** The caller's event handlers (empty when it gave none). */
  events: RunEvents;
}

export type OutputFactory = (context: OutputContext) => RunOutput;

const factories = new Map<string, OutputFactory>([
  ['run-folder', () => new RunFolderOutput()],
  ['events', ({ events }) => eventsOutput(events)],
]);

/** The names known, sorted. */
export function outputNames(): string[] {
  return [...factories.keys()].sort();
}

/**
 * Adds an output under a new name; returns what removes it again. A name taken is
 * refused: an output replaced behind the engine's back would lose evidence silently.
 */
export function registerOutput(name: string, factory: OutputFactory): () => void {
  if (!/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/.test(name)) {
    throw new InfermarkError('output-name', `output name "${name}": expected kebab-case (run-folder)`);
  }
  if (factories.has(name)) throw new InfermarkError('output-taken', `output "${name}" is already registered`);
  factories.set(name, factory);
  return () => {
    if (factories.get(name) === factory) factories.delete(name);
  };
}

/** The outputs named, in order, each once; an unknown name is refused, listing those known. */
export function createOutputs(names: readonly string[], context: OutputContext): RunOutput[] {
  const unknown = names.filter((name) => !factories.has(name));
  if (unknown.length > 0) {
    throw new InfermarkError(
      'unknown-output',
      `unknown output${unknown.length > 1 ? 's' : ''} ${unknown.map((name) => `"${name}"`).join(', ')}: ` +
        `expected one of ${outputNames().join(', ')}`,
      ExitCode.badInput,
    );
  }
  return [...new Set(names)].map((name) => (factories.get(name) as OutputFactory)(context));
}
