/**
 * `infermark demo`: start the simulator on loopback in its own process, run
 * examples/demo.yaml against it, print the SLOs it checks, the summary and the run folder.
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

/** The SLOs the demo checks, said before it starts, so the table's SLO lines are expected. */
export function demoSloLine(slos: readonly string[]): string {
  return slos.length === 0
    ? 'SLOs: none in examples/demo.yaml (add spec.slos to see them checked)'
    : `SLOs (examples/demo.yaml spec.slos): ${slos.join(', ')}; each is checked at its percentile (met / not met under the table) and per request (goodput)`;
}

export async function demoCommand(
  flags: Pick<RunFlags, 'out' | 'json' | 'quiet' | 'warehouse' | 'metricsPort' | 'metricsHost'>,
): Promise<number> {
  const jobFile = demoJobPath();
  // Validated before the simulator starts, and only once.
  const job = await loadJobFile(jobFile);
  const simulator = await spawnSimulator(DEMO_SIMULATOR);
  try {
    if (!flags.quiet && !flags.json) {
      process.stderr.write(`simulator listening on ${simulator.url}\n`);
      process.stderr.write(`${demoSloLine(job.spec.slos ?? [])}\n`);
    }
    return await runAndReport(job, jobFile, { ...flags, url: simulator.url });
  } finally {
    await simulator.close();
  }
}
