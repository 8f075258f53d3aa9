/**
 * A run group as the gate reads it: the repeats of one benchmark case, each a
 * sealed run folder that verifies. Paths may name run folders, or a group folder
 * holding them (with or without its group.json). All repeats must be the same
 * case (one config fingerprint); each gives one value per metric key, and, for
 * percentile keys, its per-request samples on demand (for bootstrap intervals).
 * warehouse-group.ts reads the same group from the warehouse, with no folder.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ExitCode, InfermarkError } from '../base/errors.js';
import { verifyRunFolder } from '../evidence/verify.js';
import type { IterationSummary } from '../metrics/iteration-summary.js';
import type { RequestRecord } from '../metrics/record.js';
import { requestMetrics } from '../metrics/request-metrics.js';
import { iterationTelemetry, type TelemetrySlice } from '../warehouse/prometheus-text.js';
import { gatedMetrics, pointOf, type GatedMetric } from './metric-keys.js';

/** What explains a number: the point's errors, the client's health, the server's own counters. */
export interface PointContext {
  error_rate: number | null;
  errors_by_class: Record<string, number>;
  event_loop_p99_ms: number | null;
  event_loop_flag: boolean;
  dropped_arrivals: number;
  /** Server /metrics over the iteration that explain latency: queueing, preemption, batch size (gauges: `:max` under load). */
  server: Record<string, number>;
}

export interface Repeat {
  run_id: string;
  /** The run folder; read from the warehouse, where its raw evidence was recorded (it may be gone). */
  dir: string;
  run_group_id: string | null;
  benchmark_case_id: string;
  artifact_manifest_digest: string;
  started_at: string;
  metrics: Map<string, GatedMetric>;
  /** By `<scenario>.<point>`. */
  context: Map<string, PointContext>;
  /** By `<scenario>.<point>`: the iteration folder, for per-request samples (none when read from the warehouse). */
  iterations: Map<string, string>;
}

export interface Testbed {
  client_cpu: string;
  client_cores: number;
  engine: string | null;
  engine_version: string | null;
  gpu_type: string | null;
  gpu_count: number | null;
  model: string;
}

export interface RunGroup {
  run_group_id: string | null;
  /** The benchmark_case_id every repeat shares. */
  config_fingerprint: string;
  testbed: Testbed;
  repeats: Repeat[];
}

interface RunJson {
  run_id: string;
  run_group_id?: string;
  benchmark_case_id: string;
  started_at: string;
  endpoint: { model: string };
  job: {
    spec: { serviceMetadata?: { engine?: string; version?: string; gpuType?: string; gpuCount?: number } };
  };
  environment: { host: { cpu_model: string; cores: number } };
}

const SERVER_CONTEXT = /queue|waiting|preempt|running|swapped|cache_usage/i;

/** Loads and verifies every repeat named by `paths`; refuses what is not a whole, sealed run of one case. */
export async function loadRunGroup(paths: string[]): Promise<RunGroup> {
  const dirs: string[] = [];
  for (const path of paths) dirs.push(...(await runFoldersIn(path)));
  if (dirs.length === 0) throw groupError(`${paths.join(', ')}: no run folders there`);
  const repeats: Repeat[] = [];
  let first: RunJson | null = null;
  for (const dir of dirs) {
    const report = await verifyRunFolder(dir);
    if (report.status !== 'complete') {
      const why =
        report.status === 'corrupt'
          ? `does not verify (${report.problems[0]?.path}: ${report.problems[0]?.problem})`
          : 'is not a complete run (interrupted or not sealed)';
      throw groupError(`${dir}: ${why}; a gate compares whole runs only`);
    }
    // Whole evidence of a failure (nothing completed, error rate above its maximum, fail fast):
    // its surviving requests' latencies would pass for the service's.
    if (report.run_status === 'failed') {
      throw groupError(
        `${dir}: the run failed (its summary.json says why); a gate compares runs that completed only`,
      );
    }
    const run = JSON.parse(await readFile(join(dir, 'run.json'), 'utf8')) as RunJson;
    first ??= run;
    if (run.benchmark_case_id !== first.benchmark_case_id) {
      throw groupError(
        `${dir}: benchmark_case_id ${run.benchmark_case_id} differs from ${first.benchmark_case_id} (${dirs[0]}): the repeats of a group must be the same case`,
      );
    }
    repeats.push(await loadRepeat(dir, run, report.artifact_manifest_digest as string));
  }
  const meta = first?.job.spec.serviceMetadata;
  const groupIds = new Set(repeats.map((r) => r.run_group_id));
  return {
    run_group_id: groupIds.size === 1 ? ([...groupIds][0] ?? null) : null,
    config_fingerprint: (first as RunJson).benchmark_case_id,
    testbed: {
      client_cpu: first?.environment.host.cpu_model ?? 'unknown',
      client_cores: first?.environment.host.cores ?? 0,
      engine: meta?.engine ?? null,
      engine_version: meta?.version ?? null,
      gpu_type: meta?.gpuType ?? null,
      gpu_count: meta?.gpuCount ?? null,
      model: first?.endpoint.model ?? 'unknown',
    },
    repeats,
  };
}

async function loadRepeat(dir: string, run: RunJson, digest: string): Promise<Repeat> {
  const repeat: Repeat = {
    run_id: run.run_id,
    dir,
    run_group_id: run.run_group_id ?? null,
    benchmark_case_id: run.benchmark_case_id,
    artifact_manifest_digest: digest,
    started_at: run.started_at,
    metrics: new Map(),
    context: new Map(),
    iterations: new Map(),
  };
  const iterationsDir = join(dir, 'iterations');
  for (const name of (await readdir(iterationsDir)).sort()) {
    const folder = join(iterationsDir, name);
    const summary = JSON.parse(await readFile(join(folder, 'summary.json'), 'utf8')) as IterationSummary;
    const point = `${summary.scenario}.${pointOf(summary)}`;
    for (const metric of gatedMetrics(summary)) repeat.metrics.set(metric.key, metric);
    repeat.iterations.set(point, folder);
    repeat.context.set(point, {
      error_rate: summary.error_rate,
      errors_by_class: Object.fromEntries(
        Object.entries(summary.requests.errors_by_class).filter(([, n]) => n > 0),
      ),
      event_loop_p99_ms: summary.flags.event_loop?.p99_ms ?? null,
      event_loop_flag: summary.flags.event_loop_flag,
      dropped_arrivals: summary.requests.dropped_arrivals,
      server: await serverContext(folder),
    });
  }
  return repeat;
}

async function serverContext(folder: string): Promise<Record<string, number>> {
  return explainingSlices(await iterationTelemetry(folder));
}

/** The slices that explain latency; a gauge by its peak under load (its mean adds lines, not insight). */
export function explainingSlices(slices: readonly TelemetrySlice[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const slice of slices)
    if (SERVER_CONTEXT.test(slice.metric) && !slice.unit?.startsWith('mean_over_'))
      out[slice.metric] = slice.value;
  return out;
}

/** Where a repeat's per-request values of a latency metric at a point come from. */
export type SampleSource = (repeat: Repeat, point: string, metric: string) => Promise<number[]>;

/** A repeat's per-request values of a latency metric at a point (completed measured requests; ITL pooled). */
export async function requestSamples(repeat: Repeat, point: string, metric: string): Promise<number[]> {
  const folder = repeat.iterations.get(point);
  if (!folder) return [];
  const text = await readFile(join(folder, 'requests.jsonl'), 'utf8');
  const out: number[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const record = JSON.parse(line) as RequestRecord;
    if (record.phase !== 'measured' || record.status !== 'ok') continue;
    const values = requestMetrics(record);
    if (metric === 'itl_ms') out.push(...values.itl_ms);
    else {
      const value = values[metric as 'ttft_ms' | 'tpot_ms' | 'e2e_latency_ms'];
      if (typeof value === 'number') out.push(value);
    }
  }
  return out;
}

/** The run folders a path names: itself, or the run folders directly inside it. */
async function runFoldersIn(path: string): Promise<string[]> {
  const info = await stat(path).catch(() => null);
  if (!info?.isDirectory())
    throw groupError(`${path}: no such folder (expected a run folder or a run group folder)`);
  if (await exists(join(path, 'run.json'))) return [path];
  const inside: string[] = [];
  for (const entry of (await readdir(path, { withFileTypes: true })).sort((a, b) =>
    a.name < b.name ? -1 : 1,
  )) {
    if (entry.isDirectory() && (await exists(join(path, entry.name, 'run.json'))))
      inside.push(join(path, entry.name));
  }
  return inside;
}

async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null)) !== null;
}

export function groupError(message: string): InfermarkError {
  return new InfermarkError('E_GATE_INPUT', message, ExitCode.badInput);
}
