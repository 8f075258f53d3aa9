/**
 * `infermark demo`: start the simulator on loopback in its own process, run
 * examples/demo.yaml against it, print the summary and the run folder.
 */
import { fileURLToPath } from 'node:url';
import { spawnSimulator } from '../sim/spawn.js';
import { loadJobFile } from '../spec/load-job.js';
import { runAndReport, type RunFlags } from './run.js';

/** A small, fast model: the demo finishes in well under a minute. */
export const DEMO_SIMULATOR = {
  ttftMs: 40,
  ttftPerInputTokenMs: 0.02,
  itlMs: 4,
  itlJitterMs: 1,
  capacity: 8,
  batchSlowdown: 0.5,
  seed: 42,
} as const;

export function demoJobPath(): string {
  return fileURLToPath(new URL('../../../examples/demo.yaml', import.meta.url));
}

export async function demoCommand(
  flags: Pick<RunFlags, 'out' | 'json' | 'quiet' | 'warehouse' | 'metricsPort' | 'metricsHost'>,
): Promise<number> {
  const jobFile = demoJobPath();
  // Validated before the simulator starts, and only once.
  const job = await loadJobFile(jobFile);
  const simulator = await spawnSimulator(DEMO_SIMULATOR);
  try {
    if (!flags.quiet && !flags.json) process.stderr.write(`simulator listening on ${simulator.url}\n`);
    return await runAndReport(job, jobFile, { ...flags, url: simulator.url });
  } finally {
    await simulator.close();
  }
}
