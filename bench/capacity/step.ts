/**
 * One load step of the client-capacity benchmark: a fresh simulator in its own process
 * (a jittered TTFT, a fixed inter-token gap, no queue, its write log on), a closed-loop
 * job at one concurrency written to a temp folder, and the real CLI run on it
 * (`infermark run JOB --json --quiet --no-warehouse [--workers N]`) as a child process.
 * The step then sets the run folder's records against the simulator's write log:
 *   TTFT error  per measured request, client TTFT − server TTFT (engine/testing/server-truth),
 *               and split into the client's and the simulator's part (legsOf);
 *   tokens/s    content events the simulator wrote while every slot was busy (from the
 *               first measured request's arrival to the last's), over that window;
 *   client CPU  the CLI's process tree (parent and workers) over the same window, read
 *               from /proc every 50 ms, and over its whole life (start-up and sealing too);
 *   simulator   its CPU over the window, and how late it wrote each event against its own
 *               schedule (its first event + k × ITL).
 */
import { spawn } from 'node:child_process';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { RequestRecord } from '../../src/metrics/record.js';
import { pairWithWrites, percentileOf } from '../../src/engine/testing/server-truth.js';
import { spawnSimulator } from '../../src/sim/spawn.js';
import { writesById, type RequestWrites, type WriteLogSnapshot } from '../../src/sim/write-log.js';
import { CpuSampler, procAvailable, reapedChildrenCpu_us } from './proc-cpu.js';

/** The simulated model every step runs against. */
export interface LoadShape {
  ttft_ms: number;
  /**
   * Standard deviation of the TTFT. Some jitter keeps the streams of a closed loop from
   * running in lockstep (every request ending, and the next arriving, in the same
   * millisecond), which would measure bursts rather than a rate.
   */
  ttft_jitter_ms: number;
  itl_ms: number;
  input_tokens: number;
  output_tokens: number;
}

export interface StepPlan {
  workers: number;
  concurrency: number;
  warmup_requests: number;
  measured_requests: number;
  /** Kill the CLI after this long (a hung step must not hang the benchmark). */
  timeout_s: number;
}

export interface StepResult {
  workers: number;
  concurrency: number;
  /** Measured requests that completed, and those that did not. */
  completed: number;
  failed: number;
  window_s: number;
  tokens_per_s: number;
  err_p50_ms: number;
  err_p99_ms: number;
  err_max_ms: number;
  /**
   * The error split by where it arose (see legsOf): the response leg (the simulator wrote
   * the first event → the client stamped it: the client's reading) and the request leg
   * (the client stamped sent_at → the simulator stamped the arrival: the simulator's
   * reading), each over its least value in the step, p99; and the least round trip.
   */
  client_leg_p99_ms: number;
  sim_leg_p99_ms: number;
  base_round_trip_ms: number;
  /** Client CPU over the window per token written in it; null without /proc. */
  cpu_us_per_token: number | null;
  /** Client cores busy over the window (CPU ÷ wall). */
  client_cores: number | null;
  /** The client's whole life (start-up, prompt synthesis, sealing included) per token of the step. */
  cpu_us_per_token_whole: number | null;
  sim_cores: number | null;
  /** How late the simulator wrote events against its own schedule, p50 and p99. */
  sim_late_p50_ms: number;
  sim_late_p99_ms: number;
  /** The client's own event-loop delay p99 (the run's flag), the worst iteration. */
  client_loop_p99_ms: number | null;
  wall_s: number;
}

export type StepOutcome = { kind: 'done'; result: StepResult } | { kind: 'unsupported'; message: string };

/** The simulator's write log keeps this many requests, the most it allows. */
export const WRITE_LOG_REQUESTS = 4096;

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const MODEL = 'infermark-sim';
const STDOUT_LIMIT_BYTES = 32 * 2 ** 20;
const STDERR_LIMIT_BYTES = 64 * 2 ** 10;
const KILL_GRACE_MS = 3_000;

/** The job of one step: closed loop at one concurrency, warmup by requests so the count is exact. */
function jobOf(url: string, shape: LoadShape, plan: StepPlan): object {
  return {
    apiVersion: 'ome.io/v1beta1',
    kind: 'BenchmarkJob',
    metadata: { name: 'client-capacity', namespace: 'default' },
    spec: {
      endpoint: { endpoint: { url: `${url}/v1/chat/completions`, apiFormat: 'openai', modelName: MODEL } },
      task: 'text-to-text',
      trafficScenarios: [`D(${shape.input_tokens},${shape.output_tokens})`],
      numConcurrency: [plan.concurrency],
      // Minutes, a bound only: the request count ends the iteration.
      maxTimePerIteration: Math.max(1, Math.ceil(plan.timeout_s / 60)),
      maxRequestsPerIteration: plan.measured_requests,
      warmup: { requests: plan.warmup_requests },
      seed: 42,
    },
  };
}

/** The CLI's answer: exit code, stdout and the tail of stderr (both bounded). */
interface CliExit {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  timed_out: boolean;
}

/**
 * Runs the CLI in its own process group (so a timeout reaches its workers too), with a
 * CPU sampler on its process tree from the moment it exists.
 */
function runCli(args: string[], timeout_s: number, onSpawn: (pid: number) => void): Promise<CliExit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (child.pid === undefined) {
      reject(new Error('could not start the infermark CLI'));
      return;
    }
    onSpawn(child.pid);
    const pid = child.pid;
    const out: Buffer[] = [];
    let outBytes = 0;
    let err = '';
    let timedOut = false;
    child.stdout.on('data', (chunk: Buffer) => {
      if (outBytes + chunk.length <= STDOUT_LIMIT_BYTES) out.push(chunk);
      outBytes += chunk.length;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      err = (err + chunk.toString('utf8')).slice(-STDERR_LIMIT_BYTES);
    });
    const signalGroup = (signal: NodeJS.Signals): void => {
      try {
        process.kill(-pid, signal);
      } catch {
        // The group is gone already.
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      signalGroup('SIGTERM');
      setTimeout(() => signalGroup('SIGKILL'), KILL_GRACE_MS).unref();
    }, timeout_s * 1000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: err,
        timed_out: timedOut,
      });
    });
  });
}

/** The run folder's records: `<run>/iterations/NNN/requests.jsonl` (a split run's merged ones, not its shards'). */
async function readRecords(runDir: string): Promise<RequestRecord[]> {
  const iterationsDir = join(runDir, 'iterations');
  const records: RequestRecord[] = [];
  for (const name of (await readdir(iterationsDir)).sort()) {
    let text: string;
    try {
      text = await readFile(join(iterationsDir, name, 'requests.jsonl'), 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n'))
      if (line.trim() !== '') records.push(JSON.parse(line) as RequestRecord);
  }
  return records;
}

/**
 * The TTFT error of a request is the sum of two legs on two clocks: request (the
 * simulator's arrival stamp − the client's sent_at) and response (the client's first
 * token − the simulator's first event written). Each process's clock is monotonic and
 * their difference constant, so a leg's least value over many requests is that difference
 * plus the quickest transport, and a leg's excess over it is delay on one side: in the
 * request leg, the simulator reading the request late (the client stamps sent_at just
 * before it writes); in the response leg, the client reading the event late. Shards of a
 * split run are each on their own clock (moved onto the coordinator's by an offset known
 * to tens of µs), so each has its own least values.
 */
function legsOf(
  records: RequestRecord[],
  byId: Map<string, RequestWrites>,
  measured: Set<string>,
): { client_ms: number[]; sim_ms: number[]; base_ms: number } {
  type Legs = { request_ms: number; response_ms: number; measured: boolean };
  const byShard = new Map<number, Legs[]>();
  for (const r of records) {
    const e = byId.get(r.request_id);
    const first = e?.token_ms[0];
    if (e === undefined || first === undefined || r.first_token_at_us === null || r.status !== 'ok') continue;
    const shard = (r as { shard_index?: number }).shard_index ?? 0;
    const legs = byShard.get(shard) ?? [];
    legs.push({
      request_ms: e.arrived_ms - r.sent_at_us / 1000,
      response_ms: r.first_token_at_us / 1000 - first,
      measured: measured.has(r.request_id),
    });
    byShard.set(shard, legs);
  }
  const client_ms: number[] = [];
  const sim_ms: number[] = [];
  let base_ms = Infinity;
  for (const legs of byShard.values()) {
    const minRequest = Math.min(...legs.map((l) => l.request_ms));
    const minResponse = Math.min(...legs.map((l) => l.response_ms));
    base_ms = Math.min(base_ms, minRequest + minResponse);
    for (const l of legs) {
      if (!l.measured) continue;
      client_ms.push(l.response_ms - minResponse);
      sim_ms.push(l.request_ms - minRequest);
    }
  }
  return { client_ms, sim_ms, base_ms };
}

/**
 * The simulator's lateness per event after the first: written − (first written + k × ITL),
 * ms. The first event's deadline is jittered, so it is the reference; its own lateness is
 * in the request's error already.
 */
function simLateness_ms(entries: RequestWrites[], shape: LoadShape): number[] {
  const late: number[] = [];
  for (const entry of entries) {
    const first = entry.token_ms[0];
    if (first === undefined) continue;
    for (let k = 1; k < entry.token_ms.length; k++) {
      late.push((entry.token_ms[k] as number) - (first + k * shape.itl_ms));
    }
  }
  return late;
}

/** Content events the simulator wrote within [from, to] (wall ms), over every request it logged. */
function eventsWithin(log: WriteLogSnapshot, from_ms: number, to_ms: number): number {
  let count = 0;
  for (const entry of log.requests)
    for (const at of entry.token_ms) if (at >= from_ms && at <= to_ms) count++;
  return count;
}

/** The worst event-loop p99 the run flagged over its iterations, from `--json`'s answer. */
function loopP99Of(answer: {
  iterations?: { flags?: { event_loop?: { p99_ms?: number } } }[];
}): number | null {
  const values = (answer.iterations ?? [])
    .map((it) => it.flags?.event_loop?.p99_ms)
    .filter((v): v is number => typeof v === 'number');
  return values.length === 0 ? null : Math.max(...values);
}

/** A window shorter than this is widened to the whole measured phase (a step too short to have a steady part). */
const MIN_WINDOW_MS = 500;

/** Whether the CLI refused `--workers` (the flag is not on this build yet). */
export function refusedWorkers(stderr: string): boolean {
  return /unknown option '--workers'|--workers[^\n]*(unknown|not supported|unsupported)/i.test(stderr);
}

/** Runs one step in `dir` (created); throws when the CLI fails for any other reason than `--workers`. */
/** A fresh simulator of the step's shape in its own process, its write log on. */
export function spawnStepSimulator(shape: LoadShape): ReturnType<typeof spawnSimulator> {
  return spawnSimulator({
    ttftMs: shape.ttft_ms,
    ttftPerInputTokenMs: 0,
    ttftJitterMs: shape.ttft_jitter_ms,
    itlMs: shape.itl_ms,
    itlJitterMs: 0,
    batchSlowdown: 0,
    capacity: 100_000,
    eosProbability: 0,
    writeLogRequests: WRITE_LOG_REQUESTS,
  });
}

export async function runStep(dir: string, shape: LoadShape, plan: StepPlan): Promise<StepOutcome> {
  if (plan.warmup_requests + plan.measured_requests > WRITE_LOG_REQUESTS) {
    throw new Error(
      `a step of ${plan.warmup_requests + plan.measured_requests} requests is more than the write log keeps (${WRITE_LOG_REQUESTS})`,
    );
  }
  await mkdir(dir, { recursive: true });
  const sim = await spawnStepSimulator(shape);
  const simCpu = procAvailable() ? new CpuSampler(sim.pid) : null;
  // Set when the CLI's process exists (a holder, so the callback's assignment is seen).
  const client: { cpu: CpuSampler | null } = { cpu: null };
  try {
    const jobPath = join(dir, 'job.yaml');
    // JSON is YAML: the loader reads it as any job file.
    await writeFile(jobPath, `${JSON.stringify(jobOf(sim.url, shape, plan), null, 2)}\n`);
    const args = ['run', jobPath, '--out', join(dir, 'runs'), '--json', '--quiet', '--no-warehouse'];
    if (plan.workers > 1) args.push('--workers', String(plan.workers));
    const reaped0 = reapedChildrenCpu_us();
    const t0 = performance.now();
    const exit = await runCli(args, plan.timeout_s, (pid) => {
      if (procAvailable()) client.cpu = new CpuSampler(pid);
    });
    const wall_s = (performance.now() - t0) / 1000;
    const reaped1 = reapedChildrenCpu_us();
    client.cpu?.stop();
    simCpu?.stop();
    if (exit.code !== 0 && refusedWorkers(exit.stderr)) {
      return { kind: 'unsupported', message: exit.stderr.trim().split('\n')[0] ?? '' };
    }
    let answer: { dir?: string; iterations?: { flags?: { event_loop?: { p99_ms?: number } } }[] };
    try {
      answer = JSON.parse(exit.stdout) as typeof answer;
    } catch {
      const why = exit.timed_out ? `killed after ${plan.timeout_s} s` : `exit ${exit.code ?? exit.signal}`;
      throw new Error(
        `infermark run (${args.slice(4).join(' ')}): ${why}: ${exit.stderr.trim().slice(-2000)}`,
      );
    }
    if (typeof answer.dir !== 'string') throw new Error('infermark run --json: no run folder in its answer');

    const all = await readRecords(answer.dir);
    const records = all.filter((r) => r.phase === 'measured');
    const log = await sim.writeLog();
    // Beside the run folder, for whoever keeps the step (`--keep`) to look into.
    await writeFile(join(dir, 'write-log.json'), JSON.stringify(log));
    const pairs = pairWithWrites(records, log);
    if (pairs.length === 0)
      throw new Error(`step at ${plan.concurrency} streams: no measured request completed`);
    const errors = pairs.map((p) => p.ttft_excess_ms);

    const byId = writesById(log);
    const measured = records
      .map((r) => byId.get(r.request_id))
      .filter((e): e is RequestWrites => e !== undefined);
    const arrivals = measured.map((e) => e.arrived_ms);
    let from_ms = Math.min(...arrivals);
    let to_ms = Math.max(...arrivals);
    if (to_ms - from_ms < MIN_WINDOW_MS) {
      to_ms = Math.max(...measured.map((e) => e.done_ms ?? e.arrived_ms));
      from_ms = Math.min(from_ms, to_ms - MIN_WINDOW_MS);
    }
    const window_us = (to_ms - from_ms) * 1000;
    const tokens = eventsWithin(log, from_ms, to_ms);
    const clientWindow_us = client.cpu?.between(from_ms, to_ms) ?? null;
    const simWindow_us = simCpu?.between(from_ms, to_ms) ?? null;
    const late = simLateness_ms(measured, shape);
    // Warmup requests count for the least values of the legs, not for the percentiles.
    const legs = legsOf(all, byId, new Set(records.map((r) => r.request_id)));
    const allTokens = log.requests.reduce((n, e) => n + e.token_ms.length + e.token_writes_dropped, 0);
    return {
      kind: 'done',
      result: {
        workers: plan.workers,
        concurrency: plan.concurrency,
        completed: pairs.length,
        failed: records.length - pairs.length,
        window_s: window_us / 1e6,
        tokens_per_s: tokens / (window_us / 1e6),
        err_p50_ms: percentileOf(errors, 50),
        err_p99_ms: percentileOf(errors, 99),
        err_max_ms: Math.max(...errors),
        client_leg_p99_ms: percentileOf(legs.client_ms, 99),
        sim_leg_p99_ms: percentileOf(legs.sim_ms, 99),
        base_round_trip_ms: legs.base_ms,
        cpu_us_per_token: clientWindow_us === null ? null : clientWindow_us / Math.max(1, tokens),
        client_cores: clientWindow_us === null ? null : clientWindow_us / window_us,
        cpu_us_per_token_whole:
          reaped0 === null || reaped1 === null ? null : (reaped1 - reaped0) / Math.max(1, allTokens),
        sim_cores: simWindow_us === null ? null : simWindow_us / window_us,
        sim_late_p50_ms: percentileOf(late, 50),
        sim_late_p99_ms: percentileOf(late, 99),
        client_loop_p99_ms: loopP99Of(answer),
        wall_s,
      },
    };
  } finally {
    client.cpu?.stop();
    simCpu?.stop();
    await sim.close();
  }
}
