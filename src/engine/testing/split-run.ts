/**
 * Test support: a split run made in one process. Its shards run side by side with
 * executeRun's shard role, started together by a ShardBarrier (which stands in for the
 * HTTP coordinator), each writing its sealed folder under `<dir>/shards/<iii>/` as worker
 * processes would. Each shard says it ran on `host-<i>` as pid 1000 + i, on the
 * coordinator's clock (offset 0: one process, one clock).
 */
import { join } from 'node:path';
import type { ResolvedEndpoint } from '../../spec/endpoint.js';
import type { ValidatedJob } from '../../spec/validated-job.js';
import { executeRun, type RunResult } from '../run.js';
import { ShardBarrier } from './shard-barrier.js';

export async function runSplitInProcess(
  job: ValidatedJob,
  endpoint: ResolvedEndpoint,
  dir: string,
  of: number,
  runId: string,
): Promise<RunResult[]> {
  const barrier = new ShardBarrier(of);
  return Promise.all(
    Array.from({ length: of }, (_, index) =>
      executeRun({
        job,
        jobFile: null,
        endpoint,
        outRoot: dir,
        shard: {
          segment: { index, of },
          runId,
          dir: join(dir, 'shards', String(index).padStart(3, '0')),
          identity: {
            host: `host-${index}`,
            pid: 1000 + index,
            clock_offset_us: 0,
            clock_error_bound_us: 50,
          },
          gate: barrier.gate(index),
        },
      }),
    ),
  );
}
