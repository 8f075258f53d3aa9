/**
 * The self-gate's client measurements, taken through `executeRun` (the path users
 * run: job → plan → closed loop → backend → records appended to a run folder →
 * summary → seal) against the simulator in its own process, so the server's CPU
 * is not the client's:
 *   overhead  at zero delay, per concurrency level: the client's CPU (user + system
 *             of this process, process.cpuUsage) from the iteration's start to its
 *             end (request loop, record writes, aggregation, sealing), per streamed
 *             token and per request, and wall ms per request (iteration wall ÷
 *             requests, the inverse of request throughput); after each repeat, the
 *             undici floor (a client that parses nothing) at the same levels, and
 *             infermark's cost above it: the part that is infermark's, not the
 *             host's (the floor alone differs 2× between this project's hosts);
 *   timing    against a simulator told a fixed TTFT and inter-token gap with no
 *             jitter and no batch slowdown: measured TTFT p50 − TTFT and TPOT p50 − ITL.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { executeRun, type RunResult } from '../../src/engine/run.js';
import type { RunEvents } from '../../src/metrics/run-events.js';
import type { IterationSummary } from '../../src/metrics/iteration-summary.js';
import { spawnSimulator } from '../../src/sim/spawn.js';
import { measureUndiciFloor, type FloorCost } from '../undici-floor.js';
import { jobFromCli, resolveEndpoint, type CliJobOptions } from '../../src/spec/load-job.js';

export interface OverheadConfig {
  /** Concurrency levels, one iteration each. */
  streams: number[];
  /** Requests per level (one job, so one count for every level). */
  requests: number;
  /** Measured runs of the job; each metric is the median over them. */
  repeats: number;
  /** A discarded run first, so the measured one runs on warm code and connections. */
  warmupRequests: number;
  inputTokens: number;
  outputTokens: number;
}

export interface TimingConfig {
  ttftMs: number;
  itlMs: number;
  concurrency: number;
  requests: number;
  /** Warmup requests of the job (its first round opens the connections). */
  warmupRequests: number;
  /** Output lengths vary in [min, max] so the streams fall out of step. */
  outputTokens: [number, number];
}

export interface OverheadRow {
  repeat: number;
  streams: number;
  requests: number;
  errored: number;
  tokens: number;
  wall_s: number;
  cpu_user_us: number;
  cpu_system_us: number;
  cpu_us_per_token: number;
  cpu_us_per_request: number;
  /** The undici floor's CPU at the same level, measured right after this repeat. */
  floor_cpu_us_per_token: number;
  floor_cpu_us_per_request: number;
  /** cpu_us_per_token − floor_cpu_us_per_token: infermark's own cost per token on this host. */
  cpu_us_per_token_above_floor: number;
  cpu_us_per_request_above_floor: number;
  wall_ms_per_request: number;
  e2e_latency_ms_p50: number | null;
  event_loop_p99_ms: number | null;
}

/** A run the self-gate made: its id and sealed manifest digest. */
export interface RunRef {
  run_id: string;
  artifact_manifest_digest: string;
}

export interface OverheadResult {
  rows: OverheadRow[];
  runs: RunRef[];
}

export interface TimingResult {
  run: RunRef;
  ttft_ms: number;
  itl_ms: number;
  concurrency: number;
  requests: number;
  errored: number;
  measured: {
    ttft_ms_p50: number | null;
    ttft_ms_p99: number | null;
    tpot_ms_p50: number | null;
    tpot_ms_p99: number | null;
  };
  ttft_error_ms_p50: number;
  ttft_error_ms_p99: number;
  tpot_error_ms_p50: number;
  event_loop_p99_ms: number | null;
}

/** A job from the CLI's own flags, run to completion into `outRoot`. */
async function run(
  url: string,
  options: Omit<CliJobOptions, 'url' | 'model'>,
  outRoot: string,
  events: RunEvents = {},
): Promise<RunResult> {
  const job = jobFromCli({ url, model: 'sim', name: 'self-gate', maxTimeMinutes: 5, seed: 1, ...options });
  const result = await executeRun({
    job,
    jobFile: null,
    endpoint: resolveEndpoint(job, {}),
    outRoot,
    events,
  });
  if (result.interrupted) throw new Error(`self-gate run ${result.runId} was interrupted`);
  return result;
}

/** Client CPU and wall per token and per request at each concurrency level, at zero server delay. */
export async function measureOverhead(config: OverheadConfig): Promise<OverheadResult> {
  const sim = await spawnSimulator({
    ttftMs: 0,
    ttftPerInputTokenMs: 0,
    itlMs: 0,
    itlJitterMs: 0,
    capacity: 100_000,
    eosProbability: 0,
  });
  const outRoot = await mkdtemp(join(tmpdir(), 'infermark-self-gate-overhead-'));
  const scenario = `D(${config.inputTokens},${config.outputTokens})`;
  const rows: OverheadRow[] = [];
  const runs: RunRef[] = [];
  try {
    // A discarded repeat first, the floor included, at every level: the first measured repeat
    // used to read up to 2 µs per token above the later ones (JIT and heap still settling, on
    // one side only), and with few repeats that one decided the median.
    await run(
      sim.url,
      { scenarios: [scenario], concurrency: config.streams, maxRequests: config.warmupRequests },
      outRoot,
    );
    for (const streams of config.streams) {
      await measureUndiciFloor(sim.url, streams, config.warmupRequests, config.outputTokens);
    }
    for (let repeat = 0; repeat < config.repeats; repeat++) {
      // Per iteration: CPU from its start to its end, and the tokens its records carried.
      const windows = new Map<number, { cpu: NodeJS.CpuUsage; tokens: number }>();
      const ended: EndedIteration[] = [];
      const result = await run(
        sim.url,
        { scenarios: [scenario], concurrency: config.streams, maxRequests: config.requests },
        outRoot,
        {
          onIterationStart: (plan) => windows.set(plan.index, { cpu: process.cpuUsage(), tokens: 0 }),
          onRecord: (plan, record) => {
            const window = windows.get(plan.index);
            if (window && record.status === 'ok') window.tokens += record.output_tokens;
          },
          onIterationEnd: (plan, summary) => {
            const window = windows.get(plan.index);
            if (!window) return;
            const cpu = process.cpuUsage(window.cpu);
            ended.push({ streams: plan.concurrency ?? 0, summary, cpu, tokens: window.tokens });
          },
        },
      );
      runs.push(refOf(result));
      // The floor right after the repeat, on the same simulator: drift of the host between
      // repeats moves both, and the difference is left.
      for (const iteration of ended) {
        const floor = await measureUndiciFloor(
          sim.url,
          iteration.streams,
          config.requests,
          config.outputTokens,
        );
        rows.push(overheadRow(repeat, iteration, floor));
      }
    }
    return { rows, runs };
  } finally {
    await sim.close();
    await rm(outRoot, { recursive: true, force: true });
  }
}

function refOf(result: RunResult): RunRef {
  return { run_id: result.runId, artifact_manifest_digest: result.artifactManifestDigest };
}

/** One measured iteration of a repeat, before its floor is known. */
interface EndedIteration {
  streams: number;
  summary: IterationSummary;
  cpu: NodeJS.CpuUsage;
  tokens: number;
}

function overheadRow(repeat: number, iteration: EndedIteration, floor: FloorCost): OverheadRow {
  const { streams, summary, cpu, tokens } = iteration;
  const requests = summary.requests.total;
  const cpuUs = cpu.user + cpu.system;
  const perToken = cpuUs / Math.max(1, tokens);
  const perRequest = cpuUs / Math.max(1, requests);
  return {
    repeat,
    streams,
    requests,
    errored: summary.requests.errored,
    tokens,
    wall_s: summary.wall_s,
    cpu_user_us: cpu.user,
    cpu_system_us: cpu.system,
    cpu_us_per_token: perToken,
    cpu_us_per_request: perRequest,
    floor_cpu_us_per_token: floor.cpu_us_per_token,
    floor_cpu_us_per_request: floor.cpu_us_per_request,
    cpu_us_per_token_above_floor: perToken - floor.cpu_us_per_token,
    cpu_us_per_request_above_floor: perRequest - floor.cpu_us_per_request,
    wall_ms_per_request: (summary.wall_s * 1000) / Math.max(1, requests),
    e2e_latency_ms_p50: summary.distributions.e2e_latency_ms.p50,
    event_loop_p99_ms: summary.flags.event_loop?.p99_ms ?? null,
  };
}

/** Measured TTFT and TPOT against a simulator whose TTFT and inter-token gap are known exactly. */
export async function measureTiming(config: TimingConfig): Promise<TimingResult> {
  const sim = await spawnSimulator({
    ttftMs: config.ttftMs,
    ttftPerInputTokenMs: 0,
    ttftJitterMs: 0,
    itlMs: config.itlMs,
    itlJitterMs: 0,
    capacity: config.concurrency * 2,
    batchSlowdown: 0,
    eosProbability: 0,
    seed: 7,
  });
  const outRoot = await mkdtemp(join(tmpdir(), 'infermark-self-gate-timing-'));
  try {
    const [low, high] = config.outputTokens;
    const result = await run(
      sim.url,
      {
        scenarios: [`U(100,100)/(${low},${high})`],
        concurrency: [config.concurrency],
        maxRequests: config.requests,
        warmupRequests: config.warmupRequests,
      },
      outRoot,
    );
    const summary = result.summaries[0] as IterationSummary;
    const { ttft_ms: ttft, tpot_ms: tpot } = summary.distributions;
    const error = (measured: number | null, truth: number): number =>
      measured === null ? Number.NaN : measured - truth;
    return {
      run: refOf(result),
      ttft_ms: config.ttftMs,
      itl_ms: config.itlMs,
      concurrency: config.concurrency,
      requests: summary.requests.measured,
      errored: summary.requests.errored,
      measured: {
        ttft_ms_p50: ttft.p50,
        ttft_ms_p99: ttft.p99,
        tpot_ms_p50: tpot.p50,
        tpot_ms_p99: tpot.p99,
      },
      ttft_error_ms_p50: error(ttft.p50, config.ttftMs),
      ttft_error_ms_p99: error(ttft.p99, config.ttftMs),
      tpot_error_ms_p50: error(tpot.p50, config.itlMs),
      event_loop_p99_ms: summary.flags.event_loop?.p99_ms ?? null,
    };
  } finally {
    await sim.close();
    await rm(outRoot, { recursive: true, force: true });
  }
}
