/**
 * Test support for the diagnosis tests: one run of a small job against a simulator of its
 * own (spawned, then closed), ingested into a DuckDB file on disk, as a user's run would be.
 */
import { executeRun } from '../../engine/run.js';
import { spawnSimulator } from '../../sim/spawn.js';
import type { SimulatorOptions } from '../../sim/options.js';
import type { CliJobOptions } from '../../spec/cli-job.js';
import { jobFromCli, resolveEndpoint } from '../../spec/load-job.js';
import { ingestRunFolder } from '../../warehouse/ingest-run.js';
import { Warehouse } from '../../warehouse/warehouse.js';

/** A quick model: 20 ms TTFT, 4 ms decode gaps, no batch slowdown, so a fault is the only change. */
export const DIAGNOSE_SIM: Partial<SimulatorOptions> = {
  model: 'm',
  ttftMs: 20,
  ttftPerInputTokenMs: 0,
  ttftJitterMs: 2,
  itlMs: 4,
  itlJitterMs: 1,
  batchSlowdown: 0,
  seed: 5,
};

/**
 * Runs `D(32,16)` (seed 7) with `job(origin)`'s options against a simulator with `sim`
 * over DIAGNOSE_SIM, writes the run under `outRoot` and ingests it; its run_id and folder.
 */
export async function runAgainstSim(
  sim: Partial<SimulatorOptions>,
  job: (origin: string) => Partial<CliJobOptions>,
  where: { outRoot: string; warehousePath: string },
): Promise<{ runId: string; dir: string }> {
  const server = await spawnSimulator({ ...DIAGNOSE_SIM, ...sim });
  try {
    const validated = jobFromCli({
      url: server.url,
      model: 'm',
      name: 'diagnose',
      scenarios: ['D(32,16)'],
      seed: 7,
      ...job(new URL(server.url).origin),
    });
    const result = await executeRun({
      job: validated,
      jobFile: null,
      endpoint: resolveEndpoint(validated),
      outRoot: where.outRoot,
    });
    await Warehouse.using(where.warehousePath, {}, (w) => ingestRunFolder(w, result.dir));
    return { runId: result.runId, dir: result.dir };
  } finally {
    await server.close();
  }
}
