/**
 * Points from a run folder (the raw evidence, no warehouse needed): each iteration's
 * summary.json says its scenario, load and outcomes; its requests.jsonl gives every
 * completed measured request's TTFT, TPOT and E2E latency, computed as the summaries do
 * (metrics/request-metrics.ts).
 */
import { createReadStream } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ExitCode, InfermarkError } from '../base/errors.js';
import type { IterationSummary } from '../metrics/iteration-summary.js';
import type { RequestRecord } from '../metrics/record.js';
import { requestMetrics } from '../metrics/request-metrics.js';
import type { IterationPoint, LoadKind } from './points.js';

/** Every iteration of the run folder `dir` with a summary, in iteration order. */
export async function runFolderIterations(dir: string): Promise<IterationPoint[]> {
  const root = join(dir, 'iterations');
  const names = (await readdir(root).catch(() => [] as string[])).filter((n) => /^\d+$/.test(n)).sort();
  const points: IterationPoint[] = [];
  for (const name of names) {
    const summaryFile = join(root, name, 'summary.json');
    const text = await readFile(summaryFile, 'utf8').catch(() => undefined);
    // An iteration the run never finished has no summary: nothing measured to propose from.
    if (text === undefined) continue;
    let summary: IterationSummary;
    try {
      summary = JSON.parse(text) as IterationSummary;
    } catch {
      throw new InfermarkError('E_BAD_RUN_FOLDER', `${summaryFile}: not valid JSON`, ExitCode.badInput);
    }
    const load_kind: LoadKind = summary.mode;
    const load =
      summary.mode === 'concurrency'
        ? summary.concurrency
        : summary.mode === 'rate'
          ? summary.rate_rps
          : null;
    points.push({
      iteration: summary.iteration,
      scenario: summary.scenario,
      load_kind,
      load,
      completed: summary.requests.completed,
      errored: summary.requests.errored,
      samples: await measuredSamples(join(root, name, 'requests.jsonl')),
    });
  }
  if (points.length === 0) {
    throw new InfermarkError(
      'E_NO_POINTS',
      `${dir}: no iteration with a summary.json under iterations/ (is it a run folder of a finished run?)`,
      ExitCode.badInput,
    );
  }
  return points;
}

/** TTFT, TPOT and E2E of the completed measured requests of one requests.jsonl. */
async function measuredSamples(file: string): Promise<IterationPoint['samples']> {
  const samples: IterationPoint['samples'] = { ttft_ms: [], tpot_ms: [], e2e_latency_ms: [] };
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  let lineNumber = 0;
  try {
    for await (const line of lines) {
      lineNumber++;
      if (line.trim() === '') continue;
      let record: RequestRecord;
      try {
        record = JSON.parse(line) as RequestRecord;
      } catch {
        throw new InfermarkError(
          'E_BAD_RUN_FOLDER',
          `${file}:${lineNumber}: not valid JSON`,
          ExitCode.badInput,
        );
      }
      if (record.phase !== 'measured' || record.status !== 'ok') continue;
      const m = requestMetrics(record);
      if (m.ttft_ms !== null) samples.ttft_ms.push(m.ttft_ms);
      if (m.tpot_ms !== null) samples.tpot_ms.push(m.tpot_ms);
      if (m.e2e_latency_ms !== null) samples.e2e_latency_ms.push(m.e2e_latency_ms);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return samples;
    throw error;
  }
  return samples;
}
