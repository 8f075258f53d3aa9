/**
 * A run group: the whole job run `spec.repeats` times, each repeat a complete run
 * (own run_id, own sealed folder, its iterations in a seeded order of its own)
 * under one run_group_id, so a gate can compare one value per repeat. One repeat
 * is a run alone, laid out as ever. With more, the group folder holds the runs and
 * group.json, rewritten whole after each repeat so an interrupted group keeps the
 * repeats it finished:
 *
 *   <group_id>/group.json    { run_group_id, repeats, seed, runs: [{ repeat, run_id, dir, order, status }] }
 *   <group_id>/<run_id>/     one run folder per repeat (see evidence/run-folder.ts)
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { scrubText } from '../base/redact.js';
import { newRunId } from '../evidence/run-id.js';
import { executeCoordinatedRun, type WorkerPool } from './coordinated-run.js';
import { executeRun as executeOneProcess, type RunInputs, type RunResult } from './run.js';
import type { RunStatus } from './run-status.js';

export const GROUP_FILE = 'group.json';

export interface GroupJson {
  schema_version: 1;
  run_group_id: string;
  /** Repeats planned; `runs` holds those that ran. */
  repeats: number;
  seed: number;
  runs: GroupRunEntry[];
}

export interface GroupRunEntry {
  /** 0-based. */
  repeat: number;
  run_id: string;
  /** The run folder, relative to the group folder. */
  dir: string;
  /** Plan indexes in the order they ran. */
  order: number[];
  status: RunStatus;
}

export interface RunGroupResult<T extends RunResult> {
  runGroupId: string;
  /** The group folder; null for a run alone (repeats = 1), whose folder is the run's own. */
  dir: string | null;
  repeats: number;
  /** The repeats that ran, in order; the last may be interrupted, or failed (a failed repeat ends the group). */
  runs: T[];
  /** Ctrl-C ended the group before every repeat ran to its end. */
  interrupted: boolean;
}

/**
 * Runs the job's repeats one after another. `afterRun` sees each sealed run before
 * the next repeat starts (upload, ingest: nothing else loads the client while a
 * repeat measures). On abort the current repeat ends as an interrupted run and no
 * later repeat starts.
 */
export async function executeRunGroup<T extends RunResult = RunResult>(
  inputs: Omit<RunInputs, 'group'>,
  afterRun: (result: RunResult) => Promise<T> = (result) => Promise.resolve(result as T),
  /** Workers to split each run over (docs/shards.md); without, this process sends the load itself. */
  workers?: WorkerPool,
): Promise<RunGroupResult<T>> {
  const { spec } = inputs.job;
  const executeRun = (run: RunInputs): Promise<RunResult> =>
    workers && workers.count > 1 ? executeCoordinatedRun(run, workers) : executeOneProcess(run);
  const repeats = spec.repeats;
  if (repeats <= 1) {
    const run = await afterRun(await executeRun(inputs));
    return { runGroupId: run.runGroupId, dir: null, repeats: 1, runs: [run], interrupted: run.interrupted };
  }
  const runGroupId = newRunId();
  const dir = [inputs.outRoot, spec.resultFolderName, runGroupId].filter(Boolean).join('/');
  const group: GroupJson = {
    schema_version: 1,
    run_group_id: runGroupId,
    repeats,
    seed: spec.seed,
    runs: [],
  };
  await writeGroupJson(dir, group);
  const runs: T[] = [];
  let interrupted = false;
  for (let repeat = 0; repeat < repeats; repeat++) {
    // Repeat 0 always starts (and ends at once if aborted already): a group has at least one run.
    if (repeat > 0 && inputs.signal?.aborted) {
      interrupted = true;
      break;
    }
    const result = await executeRun({ ...inputs, group: { runGroupId, repeat, repeats, dir } });
    group.runs.push({
      repeat,
      run_id: result.runId,
      dir: result.runId,
      order: result.iterationOrder,
      status: result.status,
    });
    await writeGroupJson(dir, group);
    runs.push(await afterRun(result));
    if (result.interrupted) {
      interrupted = true;
      break;
    }
    // A repeat that failed would fail again on the same server: the group ends with it.
    if (result.status === 'failed') break;
  }
  return { runGroupId, dir, repeats, runs, interrupted };
}

/** Written whole (temp file + rename), as the run folder writes its documents. */
async function writeGroupJson(dir: string, group: GroupJson): Promise<void> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, GROUP_FILE);
  const temp = `${path}.tmp-${process.pid}`;
  await writeFile(temp, scrubText(`${JSON.stringify(group, null, 2)}\n`));
  await rename(temp, path);
}
