/**
 * Client-capacity benchmark: the highest streamed tokens/s at which infermark's TTFT
 * error against the simulator's logged write times stays under 1 ms at p99, with 1, 2
 * and `auto` (one per core) workers; the client's CPU per token; and infermark's cost
 * above the undici floor at 1, 64 and 512 streams (from `bench:client`, run as a child).
 *
 * Each load step runs the real CLI on a generated closed-loop job against a fresh
 * simulator in its own process (see capacity/step.ts). The search doubles the streams
 * until a step fails (p99 error ≥ 1 ms), then bisects between the last pass and the
 * first failure. Each failure is put down to one side: the error of a request is split
 * into the client's part (reading the first event late) and the simulator's (reading the
 * request late); a step fails on the simulator when the client's part stays within the
 * limit, or when the simulator used its whole core. That ends the search as
 * simulator-bound, so the client is not blamed for it.
 *
 * Run: `npm run build && npm run bench:capacity [-- --quick] [--workers 1,2,auto]
 * [--itl-ms 10] [--ttft-ms 20] [--ttft-jitter-ms 5] [--output-tokens 64] [--step-seconds 3]
 * [--min-streams 8] [--max-streams 1024] [--skip-floor] [--keep] [--json FILE]`.
 * At most about 4 minutes; `--quick` under 1. Every request goes to 127.0.0.1.
 */
import { runBareStep, type BareStep } from './capacity/bare-step.js';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ExitCode, InfermarkError } from '../src/base/errors.js';
import { runStep, WRITE_LOG_REQUESTS, type LoadShape, type StepResult } from './capacity/step.js';

/** The target: infermark's TTFT error against the server's write log, p99, ms. */
const ERROR_LIMIT_MS = 1;
/**
 * A simulator writing events later than this at p99 against its own schedule is behind
 * (its timers fire up to about 1 ms late even when idle): shown, not judged on. A failed
 * step is judged by where its error arose (capacity/step.ts, legsOf).
 */
const SIM_LATE_LIMIT_MS = 2;
/** A simulator using this much of its one core is saturated. */
const SIM_CORES_LIMIT = 0.9;
/** Scaling target: capacity grows at least this much per added core (×1-worker capacity). */
const SCALING_TARGET = 0.8;
/** Cost above the undici floor, µs per token, at every level. */
const FLOOR_TARGET_US = 1;

interface Settings {
  quick: boolean;
  workers: { label: string; n: number }[];
  shape: LoadShape;
  startStreams: number;
  /** The search halves no lower than this. */
  minStreams: number;
  maxStreams: number;
  stepSeconds: number;
  bisections: number;
  /** Run a step that fails once more, and keep the better of the two. */
  confirm: boolean;
  searchBudget_s: number;
  floor: { rounds: number; seconds: number } | null;
  keep: boolean;
  json: string | null;
}

type Verdict = 'pass' | 'client' | 'simulator';

interface Step extends StepResult {
  verdict: Verdict;
  /** The simulator used its whole core: more load cannot be written on schedule. */
  sim_saturated: boolean;
  /** The simulator wrote events late against its own schedule (p99 above SIM_LATE_LIMIT_MS). */
  sim_late: boolean;
}

type Bound = 'client' | 'simulator' | 'search limit' | 'time limit';

interface Row {
  label: string;
  workers: number;
  /** Why there is no figure (the CLI refused `--workers`), or null. */
  unsupported: string | null;
  /** A step that failed to run (the CLI or the simulator broke): the row ends there. */
  error: string | null;
  /** The highest passing step, or null when none passed. */
  best: Step | null;
  bound: Bound | null;
  /** The lowest streams at which the client failed, when found. */
  failed_at: number | null;
  /** The step that found the simulator behind, when one did. */
  sim_step: Step | null;
  steps: Step[];
  /** The row this one repeats (auto = N, already measured). */
  same_as: string | null;
}

function badInput(message: string): InfermarkError {
  return new InfermarkError('E_CAPACITY_INPUT', message, ExitCode.badInput);
}

function parseSettings(): Settings {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        quick: { type: 'boolean', default: false },
        workers: { type: 'string', default: '1,2,auto' },
        'ttft-ms': { type: 'string', default: '20' },
        'ttft-jitter-ms': { type: 'string', default: '5' },
        'itl-ms': { type: 'string', default: '10' },
        'input-tokens': { type: 'string', default: '16' },
        'output-tokens': { type: 'string', default: '64' },
        'start-streams': { type: 'string' },
        'min-streams': { type: 'string', default: '8' },
        'max-streams': { type: 'string', default: '1024' },
        'step-seconds': { type: 'string' },
        'skip-floor': { type: 'boolean', default: false },
        keep: { type: 'boolean', default: false },
        json: { type: 'string' },
      },
    });
  } catch (error) {
    throw badInput((error as Error).message);
  }
  const { values } = parsed;
  const quick = values.quick === true;
  const positive = (name: string, text: string | undefined, integer = false): number => {
    const n = Number(text);
    if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n)))
      throw badInput(`--${name}: "${text}": expected a positive ${integer ? 'integer' : 'number'}`);
    return n;
  };
  const nonNegative = (name: string, text: string | undefined): number => {
    const n = Number(text);
    if (!Number.isFinite(n) || n < 0) throw badInput(`--${name}: "${text}": expected a number ≥ 0`);
    return n;
  };
  const cores = os.availableParallelism();
  const workers = String(values.workers)
    .split(',')
    .map((w) => w.trim())
    .map((w) => (w === 'auto' ? { label: 'auto', n: cores } : { label: w, n: positive('workers', w, true) }));
  const maxStreams = positive('max-streams', values['max-streams'], true);
  // Warmup (one request per stream) and at least as many measured requests fit the write log.
  if (maxStreams * 2 > WRITE_LOG_REQUESTS)
    throw badInput(
      `--max-streams: ${maxStreams}: expected at most ${WRITE_LOG_REQUESTS / 2} (the write log keeps ${WRITE_LOG_REQUESTS} requests)`,
    );
  return {
    quick,
    workers,
    shape: {
      ttft_ms: positive('ttft-ms', values['ttft-ms']),
      ttft_jitter_ms: nonNegative('ttft-jitter-ms', values['ttft-jitter-ms']),
      itl_ms: positive('itl-ms', values['itl-ms']),
      input_tokens: positive('input-tokens', values['input-tokens'], true),
      output_tokens: positive('output-tokens', values['output-tokens'], true),
    },
    startStreams: positive('start-streams', values['start-streams'] ?? (quick ? '32' : '16'), true),
    minStreams: positive('min-streams', values['min-streams'], true),
    maxStreams,
    stepSeconds: positive('step-seconds', values['step-seconds'] ?? (quick ? '1.5' : '3')),
    bisections: quick ? 1 : 2,
    confirm: !quick,
    searchBudget_s: quick ? 45 : 170,
    floor: values['skip-floor'] ? null : quick ? { rounds: 1, seconds: 1 } : { rounds: 2, seconds: 2 },
    keep: values.keep === true,
    json: values.json ?? null,
  };
}

function judge(r: StepResult): Step {
  const sim_saturated = (r.sim_cores ?? 0) > SIM_CORES_LIMIT;
  const sim_late = r.sim_late_p99_ms > SIM_LATE_LIMIT_MS;
  // An error under the limit passes whatever the simulator did: the client kept up with it.
  const ok = r.err_p99_ms < ERROR_LIMIT_MS && r.failed === 0;
  // Over the limit, the simulator's when the client's own part (its late reads, with the
  // quickest round trip) is within it: the rest is the simulator reading requests late.
  const explains = r.failed === 0 && r.client_leg_p99_ms + r.base_round_trip_ms < ERROR_LIMIT_MS;
  return {
    ...r,
    sim_saturated,
    sim_late,
    verdict: ok ? 'pass' : sim_saturated || explains ? 'simulator' : 'client',
  };
}

const fmt = (n: number | null, digits = 0): string =>
  n === null || !Number.isFinite(n)
    ? '—'
    : n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

function stepLine(label: string, s: Step): string {
  return (
    `workers ${label}, ${s.concurrency} streams: ${fmt(s.tokens_per_s)} tokens/s, TTFT error p50 ` +
    `${fmt(s.err_p50_ms, 3)} p99 ${fmt(s.err_p99_ms, 3)} ms (client's part ${fmt(s.client_leg_p99_ms, 2)}, ` +
    `simulator's ${fmt(s.sim_leg_p99_ms, 2)}), client ${fmt(s.cpu_us_per_token, 2)} µs/token ` +
    `(${fmt(s.client_cores, 2)} cores), simulator ${fmt(s.sim_cores, 2)} cores late p99 ` +
    `${fmt(s.sim_late_p99_ms, 2)} ms → ${s.verdict}`
  );
}

const MIN_MEASURED = 100;

/** Measured requests per step: about `stepSeconds` of load, within what the write log keeps. */
function requestsFor(settings: Settings, streams: number): { warmup: number; measured: number } {
  const { shape } = settings;
  const request_ms = shape.ttft_ms + (shape.output_tokens - 1) * shape.itl_ms + 1;
  const warmup = streams;
  const wanted = Math.round((streams * settings.stepSeconds * 1000) / request_ms);
  // At least 100 for a p99 that is not just the maximum.
  const measured = Math.min(WRITE_LOG_REQUESTS - warmup, Math.max(2 * streams, MIN_MEASURED, wanted));
  return { warmup, measured };
}

/** Searches one worker count's capacity. */
async function searchRow(
  settings: Settings,
  dir: string,
  label: string,
  workers: number,
  deadline_ms: number,
): Promise<Row> {
  const row: Row = {
    label,
    workers,
    unsupported: null,
    error: null,
    best: null,
    bound: null,
    failed_at: null,
    sim_step: null,
    steps: [],
    same_as: null,
  };
  let stepNo = 0;
  /** Runs a step at `streams` (twice when it fails and `confirm` is on); null when it could not run. */
  const measure = async (streams: number): Promise<Step | null> => {
    const { warmup, measured } = requestsFor(settings, streams);
    const request_s = (settings.shape.ttft_ms + settings.shape.output_tokens * settings.shape.itl_ms) / 1000;
    const plan = {
      workers,
      concurrency: streams,
      warmup_requests: warmup,
      measured_requests: measured,
      timeout_s: Math.ceil(60 + 4 * request_s * (1 + (warmup + measured) / streams)),
    };
    let best: Step | null = null;
    for (let attempt = 0; attempt < (settings.confirm ? 2 : 1); attempt++) {
      let outcome;
      try {
        outcome = await runStep(
          join(dir, `w${workers}-${String(stepNo++).padStart(3, '0')}`),
          settings.shape,
          plan,
        );
      } catch (error) {
        row.error = error instanceof Error ? error.message : String(error);
        progress(`workers ${label}, ${streams} streams: the step did not run: ${row.error}`);
        return null;
      }
      if (outcome.kind === 'unsupported') {
        row.unsupported = outcome.message;
        return null;
      }
      const step = judge(outcome.result);
      progress(stepLine(label, step) + (attempt > 0 ? ' (second try)' : ''));
      row.steps.push(step);
      // Other work on the host only adds error, so the better of two tries is the client's own.
      if (best === null || step.err_p99_ms < best.err_p99_ms) best = step;
      if (best.verdict !== 'client' || performance.now() > deadline_ms) break;
    }
    return best;
  };

  let lo: Step | null = null;
  let hi: number | null = null;
  let streams = settings.startStreams;
  // Explore: double from a pass, halve from a failure (the client's or the simulator's),
  // until a pass and a failure bracket the capacity.
  for (;;) {
    if (performance.now() > deadline_ms) {
      if (row.bound === null) row.bound = 'time limit';
      break;
    }
    const step = await measure(streams);
    if (step === null) break;
    if (step.verdict === 'pass') {
      lo = step;
      if (step.sim_saturated) {
        row.bound = 'simulator';
        row.sim_step = step;
        break;
      }
      if (hi !== null || row.bound === 'simulator') break;
      if (streams >= settings.maxStreams) {
        row.bound = 'search limit';
        break;
      }
      streams = Math.min(settings.maxStreams, streams * 2);
    } else {
      row.bound = step.verdict;
      if (step.verdict === 'client') hi = streams;
      else row.sim_step = step;
      if (lo !== null || streams <= settings.minStreams) break;
      streams = Math.max(settings.minStreams, Math.floor(streams / 2));
    }
  }
  // Bisect between the last pass and the first failure.
  for (
    let i = 0;
    i < settings.bisections && row.error === null && row.bound === 'client' && lo !== null && hi !== null;
    i++
  ) {
    if (hi - lo.concurrency <= Math.max(1, lo.concurrency / 8) || performance.now() > deadline_ms) break;
    const mid = Math.round((lo.concurrency + hi) / 2);
    const step = await measure(mid);
    if (step === null) break;
    if (step.verdict === 'pass') lo = step;
    if (step.verdict === 'client') hi = mid;
    else if (step.verdict === 'simulator' || step.sim_saturated) {
      row.bound = 'simulator';
      row.sim_step = step;
    }
  }
  row.best = lo;
  row.failed_at = row.bound === 'client' ? hi : null;
  return row;
}

function markdown(header: string[], lines: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] as string).length)));
  const line = (cells: string[]): string =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...lines.map(line)].join('\n');
}

function boundText(row: Row): string {
  if (row.error !== null) return `error: ${row.error.split('\n')[0]?.slice(0, 80)}`;
  switch (row.bound) {
    case 'client': {
      if (row.best !== null) return `client (fails at ${row.failed_at} streams)`;
      // No step passed: say how little the client was doing, so a busy host is not read as a slow client.
      const low = row.steps.find((s) => s.concurrency === row.failed_at);
      return `client: fails even at ${row.failed_at} streams (using ${fmt(low?.client_cores ?? null, 2)} cores)`;
    }
    case 'simulator':
      // Saturated: the load reached what one simulator process can write. Otherwise the
      // error was in its reading of requests: busy with a burst of them, or held up by other work.
      return (row.sim_step?.sim_cores ?? 0) > SIM_CORES_LIMIT
        ? 'simulator-bound (its core saturated)'
        : 'simulator-bound (it read requests late)';
    case 'search limit':
      return 'search limit (not reached)';
    case 'time limit':
      return 'time limit (not reached)';
    default:
      return '—';
  }
}

function capacityTable(rows: Row[]): string {
  const cores = os.availableParallelism();
  const header = [
    'workers',
    'capacity tokens/s',
    'streams',
    'TTFT err p50/p99 ms',
    'CPU µs/token',
    'client cores',
    'simulator cores',
    'bound by',
    'host cores',
  ];
  const lines = rows.map((row) => {
    const label = row.label === 'auto' ? `auto (${row.workers})` : row.label;
    if (row.unsupported !== null)
      return [label, 'n/a (needs --workers)', '', '', '', '', '', '', String(cores)];
    const b = row.best;
    return [
      label + (row.same_as !== null ? ` = ${row.same_as}` : ''),
      b === null ? `< ${row.steps[row.steps.length - 1]?.concurrency ?? '?'} streams` : fmt(b.tokens_per_s),
      b === null ? '' : String(b.concurrency),
      b === null ? '' : `${fmt(b.err_p50_ms, 3)} / ${fmt(b.err_p99_ms, 3)}`,
      b === null ? '' : fmt(b.cpu_us_per_token, 2),
      b === null ? '' : fmt(b.client_cores, 2),
      b === null ? '' : fmt(b.sim_cores, 2),
      boundText(row),
      String(cores),
    ];
  });
  return markdown(header, lines);
}

function stepsTable(rows: Row[]): string {
  const header = [
    'workers',
    'streams',
    'requests',
    'window s',
    'tokens/s',
    'TTFT err p50',
    'p99',
    'max ms',
    "client's part p99",
    "sim's part p99",
    'CPU µs/token',
    'whole-process µs/token',
    'client cores',
    'client loop p99 ms',
    'sim cores',
    'sim late p50/p99 ms',
    'verdict',
  ];
  const lines = rows.flatMap((row) =>
    row.steps.map((s) => [
      row.label,
      String(s.concurrency),
      fmt(s.completed + s.failed),
      fmt(s.window_s, 2),
      fmt(s.tokens_per_s),
      fmt(s.err_p50_ms, 3),
      fmt(s.err_p99_ms, 3),
      fmt(s.err_max_ms, 2),
      fmt(s.client_leg_p99_ms, 2),
      fmt(s.sim_leg_p99_ms, 2),
      fmt(s.cpu_us_per_token, 2),
      fmt(s.cpu_us_per_token_whole, 2),
      fmt(s.client_cores, 2),
      fmt(s.client_loop_p99_ms, 2),
      fmt(s.sim_cores, 2),
      `${fmt(s.sim_late_p50_ms, 2)} / ${fmt(s.sim_late_p99_ms, 2)}`,
      s.verdict +
        (s.failed > 0 ? ` (${s.failed} failed)` : '') +
        (s.sim_late && s.verdict !== 'simulator' ? ' (sim late)' : ''),
    ]),
  );
  return markdown(header, lines);
}

/** Capacity per added core against 1 worker, where both figures are the client's. */
function scalingLines(rows: Row[]): string[] {
  const one = rows.find((r) => r.workers === 1 && r.unsupported === null);
  const out: string[] = [];
  for (const row of rows) {
    if (row.workers <= 1 || row.same_as !== null) continue;
    const name = `${row.label === 'auto' ? `auto (${row.workers})` : row.label} workers`;
    if (row.unsupported !== null) {
      out.push(`${name}: n/a (needs --workers)`);
      continue;
    }
    if (one?.best == null || row.best === null) {
      out.push(`${name}: no capacity to compare`);
      continue;
    }
    const perCore = (row.best.tokens_per_s / one.best.tokens_per_s - 1) / (row.workers - 1);
    const text = `${name}: ${fmt(row.best.tokens_per_s / one.best.tokens_per_s, 2)}× one worker, ${fmt(perCore, 2)} per added core`;
    const notClient = [one, row].filter((r) => r.bound !== 'client');
    const crowded = row.workers + 1 > os.availableParallelism();
    if (notClient.length > 0) {
      out.push(
        `${text} (not judged: ${notClient.map((r) => `${r.label} worker(s) ${boundText(r)}`).join(', ')})`,
      );
    } else {
      out.push(
        `${text}: target ≥ ${SCALING_TARGET} ${perCore >= SCALING_TARGET ? 'PASS' : 'FAIL'}` +
          (crowded
            ? ` (the simulator shares the host's ${os.availableParallelism()} cores with ${row.workers} workers)`
            : ''),
      );
    }
  }
  return out;
}

interface FloorLevel {
  streams: number;
  infermark_cpu_us_per_token: number | null;
  undici_floor_cpu_us_per_token: number | null;
  above_floor_us_per_token: number | null;
}

/** `bench:client` with infermark and the undici floor only, at 1, 64 and 512 streams; its JSON. */
async function measureFloor(dir: string, rounds: number, seconds: number): Promise<FloorLevel[]> {
  const script = fileURLToPath(new URL('./client-overhead.js', import.meta.url));
  const out = join(dir, 'floor.json');
  const args = [
    script,
    ...['--only', 'infermark,undici-floor', '--streams', '1,64,512'],
    ...['--rounds', String(rounds), '--seconds', String(seconds), '--json', out],
  ];
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('error', reject);
    child.on('close', resolve);
  });
  if (code !== 0) throw new Error(`bench:client exited ${code}`);
  return (JSON.parse(await readFile(out, 'utf8')) as { levels: FloorLevel[] }).levels;
}

function floorTable(levels: FloorLevel[]): string {
  const header = [
    'streams',
    'infermark µs/token',
    'undici floor µs/token',
    'above the floor µs/token',
    `≤ ${FLOOR_TARGET_US} µs`,
  ];
  const lines = levels.map((l) => [
    String(l.streams),
    fmt(l.infermark_cpu_us_per_token, 2),
    fmt(l.undici_floor_cpu_us_per_token, 2),
    fmt(l.above_floor_us_per_token, 2),
    l.above_floor_us_per_token === null
      ? '—'
      : l.above_floor_us_per_token <= FLOOR_TARGET_US
        ? 'PASS'
        : 'FAIL',
  ]);
  return markdown(header, lines);
}

async function main(): Promise<void> {
  const settings = parseSettings();
  const t0 = performance.now();
  const dir = await mkdtemp(join(os.tmpdir(), 'infermark-capacity-'));
  const rows: Row[] = [];
  let floor: FloorLevel[] | null = null;
  const bare: BareStep[] = [];
  try {
    const deadline_ms = t0 + settings.searchBudget_s * 1000;
    for (const { label, n } of settings.workers) {
      const earlier = rows.find((r) => r.workers === n);
      if (earlier !== undefined) {
        rows.push({ ...earlier, label, same_as: earlier.label });
        continue;
      }
      // Each row gets an equal share of what is left of the search's time.
      const measured = new Set(rows.map((r) => r.workers));
      const left = new Set(settings.workers.map((w) => w.n).filter((w) => !measured.has(w))).size;
      const rowDeadline = performance.now() + (deadline_ms - performance.now()) / Math.max(1, left);
      rows.push(await searchRow(settings, dir, label, n, rowDeadline));
    }
    // The TTFT error's floor beside the target: a bare client at each number of streams the first row tried.
    const streamsTried = [...new Set(rows[0]?.steps.map((s) => s.concurrency) ?? [])].sort((a, b) => a - b);
    for (const streams of streamsTried) {
      const { warmup, measured } = requestsFor(settings, streams);
      const step = await runBareStep(settings.shape, streams, warmup, measured);
      progress(
        `bare undici client, ${streams} streams: TTFT error p50 ${fmt(step.err_p50_ms, 3)} p99 ${fmt(step.err_p99_ms, 3)} ms`,
      );
      bare.push(step);
    }
    if (settings.floor !== null) {
      progress(
        `undici floor: bench:client, ${settings.floor.rounds} round(s) of ~${settings.floor.seconds} s`,
      );
      floor = await measureFloor(dir, settings.floor.rounds, settings.floor.seconds);
    }
  } finally {
    if (settings.keep) progress(`kept: ${dir}`);
    else await rm(dir, { recursive: true, force: true });
  }

  const { shape } = settings;
  const cpus = os.cpus();
  console.log(
    `client capacity: the most streamed tokens/s with infermark's TTFT error (client − simulator's write log) p99 < ${ERROR_LIMIT_MS} ms`,
  );
  console.log(
    `node ${process.version}, ${os.availableParallelism()} cores (${cpus[0]?.model ?? 'unknown'}); simulator in its own process: ` +
      `TTFT ${shape.ttft_ms} ms (jitter sd ${shape.ttft_jitter_ms} ms), ITL ${shape.itl_ms} ms, ${shape.output_tokens} output tokens, one event per token; ` +
      `closed loop, ~${settings.stepSeconds} s per step${settings.quick ? ' (quick)' : ''}`,
  );
  console.log(
    `CPU µs/token: user + system of the CLI's process tree (parent and workers, /proc) while every stream was busy, per token the simulator wrote then\n`,
  );
  console.log(capacityTable(rows));
  console.log('\nsteps\n');
  console.log(stepsTable(rows));
  console.log('');
  for (const line of scalingLines(rows)) console.log(`scaling: ${line}`);
  if (bare.length > 0) {
    console.log(
      `\nthe TTFT error's floor on this host: a bare undici client (stamps only, in the benchmark's process) at the same steps; ` +
        `a p99 above ${ERROR_LIMIT_MS} ms here puts the target out of any Node client's reach on this host\n`,
    );
    console.log(
      markdown(
        ['streams', 'requests', 'TTFT err p50 ms', 'p99 ms', 'CPU µs/token (whole loop)'],
        bare.map((b) => [
          String(b.concurrency),
          String(b.completed),
          fmt(b.err_p50_ms, 3),
          fmt(b.err_p99_ms, 3),
          fmt(b.cpu_us_per_token, 2),
        ]),
      ),
    );
  }
  if (floor !== null) {
    console.log(
      `\ninfermark's cost above the undici floor (bench:client, zero delay, medians of per-round figures)\n`,
    );
    console.log(floorTable(floor));
  }
  console.log(`\ntook ${fmt((performance.now() - t0) / 1000, 0)} s`);
  if (settings.json !== null) {
    await writeFile(
      settings.json,
      `${JSON.stringify({ host_cores: os.availableParallelism(), shape, rows, floor, bare }, null, 2)}\n`,
    );
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = err instanceof InfermarkError ? err.exitCode : ExitCode.failure;
});
