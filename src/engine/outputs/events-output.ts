/**
 * The run's events (metrics/run-events.ts) as an output: the CLI's progress view and the
 * hot metrics listen through RunEvents, which sit below the engine, so they never import
 * the engine they listen to. Only the events given are wired: without `onProgress` the
 * iteration runs no progress timer.
 */
import type { RunEvents } from '../../metrics/run-events.js';
import type { RunOutput } from './output.js';

export function eventsOutput(events: RunEvents): RunOutput {
  const output: { -readonly [K in keyof RunOutput]: RunOutput[K] } = { name: 'events' };
  const { onRunStart, onIterationStart, onProgress, onIterationEnd, onRecord, onNotice } = events;
  if (onRunStart) {
    output.start = async ({ runId, dir, plans, benchmarkCaseId, runGroupId, repeat, repeats }) =>
      onRunStart.call(events, { runId, dir, plans, benchmarkCaseId, runGroupId, repeat, repeats });
  }
  if (onIterationStart)
    output.startIteration = async ({ plan, total }) => onIterationStart.call(events, plan, total);
  if (onRecord) output.addRecord = (plan, record) => onRecord.call(events, plan, record);
  if (onProgress) output.progress = (plan, snapshot) => onProgress.call(events, plan, snapshot);
  if (onNotice) output.notice = (message) => onNotice.call(events, message);
  if (onIterationEnd) {
    output.endIteration = async ({ plan, completed }) => {
      if (completed) onIterationEnd.call(events, plan, completed.summary);
    };
  }
  return output;
}
