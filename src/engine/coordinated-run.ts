/**
 * A run split into shards (docs/shards.md): this process is the coordinator. It makes
 * the run folder, serves each worker its job and shard folder (`shards/<iii>/`), starts
 * every iteration at one instant on all live shards, waits until each has sealed it,
 * and shows the merged iteration. A worker lost mid-run ends the run after the
 * iteration it was in, which is kept and marked incomplete. It scrapes the telemetry
 * targets itself, once for all shards, which scrape none (coordinator-telemetry.ts). At
 * the end the run folder is merged from the shards' raw records (merge-run.ts), as
 * `infermark merge` does.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ExitCode, InfermarkError } from '../base/errors.js';
import { newRunId } from '../evidence/run-id.js';
import { iterationOrder, planIterations } from '../plan/build-plan.js';
import type { IterationPlan } from '../plan/plan.js';
import { jobDocument } from '../spec/validated-job.js';
import { Coordinator, type CoordinatorLimits, type ShardState } from './coordinator.js';
import { CoordinatorTelemetry } from './coordinator-telemetry.js';
import { mergeIterationFromShards } from './merge-iteration.js';
import { mergeRunFolder } from './merge-run.js';
import { shardDirName } from './shard-folders.js';
import type { ProgressSnapshot } from '../metrics/run-events.js';
import type { RunInputs, RunResult } from './run.js';
import { SHARD_PROTOCOL_VERSION, type ShardJobAnswer } from './shard-protocol.js';
import { describeExit, type WorkerHandle, type WorkerLauncher } from './worker-launcher.js';

/** Workers that run the shards: how many, and what starts them. */
export interface WorkerPool {
  count: number;
  launcher: WorkerLauncher;
  /** Where the coordinator listens (a pod's port for shard pods); 127.0.0.1 and a free port by default. */
  listen?: { host: string; port: number };
  /** The run's coordinator token, when whoever starts the workers already holds it; made here otherwise. */
  token?: string;
  /** What a peer may hold at the coordinator; its named constants unless a test shortens them. */
  coordinatorLimits?: Partial<CoordinatorLimits>;
}

/** Node's timers hold at most 2^31 − 1 ms (24.8 days); a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** How often the coordinator's view sums the shards' counts (their own interval is 250 ms). */
const PROGRESS_INTERVAL_MS = 250;

/** Beyond the longest iteration and a request's timeout: a worker's start-up and sealing. */
const SLACK_MS = 120_000;

/** How long a run that could not start all its workers waits for those it started to exit (SIGKILLed). */
const LAUNCH_ABANDON_WAIT_MS = 10_000;

export async function executeCoordinatedRun(inputs: RunInputs, pool: WorkerPool): Promise<RunResult> {
  const run = await openCoordinatedRun(inputs, pool.count, pool.launcher.startupWaitMs ?? 0);
  // Workers started elsewhere (pods) share no file system with this process: they ship their folders.
  run.shipFiles = pool.listen !== undefined;
  const coordinator = await Coordinator.start(
    {
      of: pool.count,
      jobFor: (index) => jobAnswer(run, index),
      ...(pool.token ? { token: pool.token } : {}),
      ...(pool.coordinatorLimits ? { limits: pool.coordinatorLimits } : {}),
    },
    pool.listen?.host,
    pool.listen?.port,
  );
  // The shards' records are in their processes: a scrape sums each shard's latest totals.
  inputs.hot?.readShards(() => coordinator.shards.flatMap((s) => [...s.hot.values()]));
  const workers = await startWorkers(coordinator, pool, run);
  const { signal } = inputs;
  const interrupt = (): void => {
    coordinator.stopAll('interrupted');
    for (const handle of workers.handles) handle.kill('SIGINT');
  };
  signal?.addEventListener('abort', interrupt, { once: true });
  if (signal?.aborted) interrupt();
  try {
    await coordinateIterations(run, coordinator, workers);
  } finally {
    signal?.removeEventListener('abort', interrupt);
    try {
      await stopWorkers(coordinator, workers, run.waitMs);
    } finally {
      // An iteration cut short (a shard lost, an error): its end samples once the live shards have drained.
      await run.telemetry.endIteration();
    }
  }
  // Its index, with no window: the merge below sets the merged records' window.
  await run.telemetry.stopIteration(null);
  // Nothing to merge when no worker got as far as its shard folder: say why each one did not.
  if (coordinator.shards.every((s) => s.hello === null)) {
    throw new InfermarkError(
      'E_NO_WORKER',
      `no worker of the run started (${run.dir}): ${[...workers.lostReasons.values()].join('; ') || 'none said hello'}`,
      ExitCode.failure,
    );
  }
  const merged = await mergeRunFolder(run.dir, {
    lostReasons: workers.lostReasons,
    slos: inputs.job.parsed.slos,
    ...(inputs.kubernetes ? { kubernetes: inputs.kubernetes } : {}),
  });
  const { runGroupId, repeat, repeats, order } = run;
  return { ...merged, runGroupId, repeat, repeats, iterationOrder: order };
}

/** A split run before its workers start: its identity, folder, plan and order, and how long to wait for a worker. */
interface CoordinatedRun {
  inputs: RunInputs;
  of: number;
  runId: string;
  runGroupId: string;
  repeat: number;
  repeats: number;
  dir: string;
  plans: IterationPlan[];
  order: number[];
  /** The longest a shard may keep the others waiting: the longest iteration, its last request, and slack. */
  waitMs: number;
  /** The longest the first iteration waits for every worker to be ready: at least waitMs. */
  startWaitMs: number;
  /** Workers write their folders elsewhere and ship them here (answer.ship_files). */
  shipFiles: boolean;
  /** The run's telemetry targets, probed and scraped here for every shard. */
  telemetry: CoordinatorTelemetry;
}

/** The run's workers as they run: their handles, their exits, and why any was lost. */
interface Workers {
  handles: WorkerHandle[];
  exits: Promise<unknown>[];
  lostReasons: Map<number, string>;
}

/** Names the run, makes its folder (with `shards/`), plans it and orders its iterations. */
async function openCoordinatedRun(
  inputs: RunInputs,
  of: number,
  startupWaitMs: number,
): Promise<CoordinatedRun> {
  const { job } = inputs;
  const { spec } = job;
  const runId = newRunId();
  const { runGroupId, repeat, repeats } = inputs.group ?? { runGroupId: runId, repeat: 0, repeats: 1 };
  const dir = resolve(
    inputs.group
      ? `${inputs.group.dir}/${runId}`
      : [inputs.outRoot, spec.resultFolderName, runId].filter(Boolean).join('/'),
  );
  await mkdir(join(dir, 'shards'), { recursive: true });
  // Probed before any worker asks for its job: the answer says which targets answered.
  const telemetry = await CoordinatorTelemetry.open(inputs, dir);
  const plans = planIterations(job).map((p) => p.plan);
  const order = iterationOrder(plans.length, spec.seed, repeat, repeats);
  const waitMs = Math.min(
    MAX_TIMER_MS,
    Math.max(...plans.map((p) => p.max_time_s), 1) * 1000 + spec.requestTimeoutSeconds * 1000 + SLACK_MS,
  );
  const startWaitMs = Math.min(MAX_TIMER_MS, Math.max(waitMs, startupWaitMs));
  return {
    inputs,
    of,
    runId,
    runGroupId,
    repeat,
    repeats,
    dir,
    plans,
    order,
    waitMs,
    startWaitMs,
    shipFiles: false,
    telemetry,
  };
}

/** What shard `index`'s worker is served: the job, its segment and folder, the run's identity. */
function jobAnswer(run: CoordinatedRun, index: number): ShardJobAnswer {
  const { inputs } = run;
  return {
    protocol: SHARD_PROTOCOL_VERSION,
    run_id: run.runId,
    dir: join(run.dir, 'shards', shardDirName(index)),
    segment: { index, of: run.of },
    job: jobDocument(inputs.job) as unknown as Record<string, unknown>,
    job_file: inputs.jobFile,
    job_provenance: (inputs.jobProvenance ?? null) as ShardJobAnswer['job_provenance'],
    endpoint: { baseUrl: inputs.endpoint.baseUrl, path: inputs.endpoint.path, model: inputs.endpoint.model },
    group: { runGroupId: run.runGroupId, repeat: run.repeat, repeats: run.repeats },
    // The first start may wait for the slowest worker to come up (a pod being scheduled).
    ready_timeout_ms: run.startWaitMs,
    ...(run.shipFiles ? { ship_files: true } : {}),
    ...(inputs.hot ? { hot_metrics: true } : {}),
    // This process scrapes for the whole run: one scrape load on the server, whatever N.
    scraped_by_coordinator: [...run.telemetry.answered],
  };
}

/**
 * Starts one worker per shard; a worker that exits before its end is lost, with why. When
 * one cannot be started, the run does not begin: those started are ended, the coordinator
 * closed, and the run fails naming the shard.
 */
async function startWorkers(
  coordinator: Coordinator,
  pool: WorkerPool,
  run: CoordinatedRun,
): Promise<Workers> {
  const workers: Workers = { handles: [], exits: [], lostReasons: new Map() };
  for (let index = 0; index < pool.count; index++) {
    let handle: WorkerHandle;
    try {
      handle = pool.launcher.launch({
        index,
        of: pool.count,
        coordinatorUrl: coordinator.url,
        token: coordinator.tokenFor(index),
      });
    } catch (error) {
      await abandonStart(coordinator, workers);
      throw new InfermarkError(
        'E_WORKER_LAUNCH',
        `the worker of shard ${index} of ${pool.count} could not be started (${run.dir}): ${(error as Error).message}; the ${index} started before it were stopped`,
        ExitCode.failure,
        { cause: error },
      );
    }
    workers.handles.push(handle);
    workers.exits.push(
      handle.exited.then((exit) => {
        // A worker that said its end has finished, whatever its exit code says.
        // Nor one already lost (gone silent, then killed): its first reason stands.
        if (coordinator.shards[index]?.end || workers.lostReasons.has(index)) return;
        const reason = `shard ${index} of ${run.of}: ${describeExit(exit)}`;
        workers.lostReasons.set(index, reason);
        coordinator.lose(index, reason);
      }),
    );
  }
  return workers;
}

/**
 * Ends the workers started so far (no iteration has started: none has sent a request) and
 * waits for those running here, at most LAUNCH_ABANDON_WAIT_MS; then closes the coordinator.
 */
async function abandonStart(coordinator: Coordinator, workers: Workers): Promise<void> {
  coordinator.stopAll('a worker of the run could not be started');
  for (const handle of workers.handles) handle.kill('SIGKILL');
  const local = workers.exits.filter((_, index) => !workers.handles[index]?.external);
  await Promise.race([Promise.all(local), delay(LAUNCH_ABANDON_WAIT_MS)]);
  await coordinator.close();
}

/**
 * Starts each iteration, in the run's order, once every live shard is ready for it, and
 * waits until every one has sealed it; stops at a lost shard, Ctrl-C, fail fast or the end.
 */
async function coordinateIterations(
  run: CoordinatedRun,
  coordinator: Coordinator,
  workers: Workers,
): Promise<void> {
  const { inputs, plans, waitMs } = run;
  const { events = {}, signal } = inputs;
  const lost = (): boolean => coordinator.lostShards().length > 0;
  let started = false;
  for (const index of run.order) {
    const plan = plans[index] as IterationPlan;
    const everyoneReady = (): boolean => coordinator.live().every((s) => s.readyFor === index) || lost();
    const readyWaitMs = started ? waitMs : run.startWaitMs;
    if (!(await untilOrTimeout(coordinator, everyoneReady, readyWaitMs, signal))) {
      for (const s of coordinator.live())
        if (s.readyFor !== index) loseSilent(s, coordinator, workers, readyWaitMs);
    }
    if (signal?.aborted || lost()) break;
    if (!started) {
      started = true;
      const first = await readShardRun(join(run.dir, 'shards', shardDirName(0)));
      const { runId, dir, runGroupId, repeat, repeats } = run;
      const benchmarkCaseId = String(first.benchmark_case_id ?? '');
      events.onRunStart?.({ runId, dir, plans, benchmarkCaseId, runGroupId, repeat, repeats });
    }
    events.onIterationStart?.(plan, plans.length);
    for (const shard of coordinator.shards) shard.progress = null;
    // Around the load of every shard, as one process scrapes around its own: the start samples first.
    await run.telemetry.startIteration(plan);
    // Ctrl-C while they were taken has answered every `ready` with stop: none starts this one.
    if (signal?.aborted) break;
    coordinator.start(index);
    const view = events.onProgress
      ? setInterval(() => {
          const snapshot = summedProgress(coordinator.shards, index, plan.max_time_s);
          if (snapshot) events.onProgress?.(plan, snapshot);
        }, PROGRESS_INTERVAL_MS)
      : undefined;
    // Not cut by Ctrl-C: each worker ends its iteration itself, seals it, and says done.
    // A shard that has ended (told to stop as it re-asked) says no more `done`.
    const everyoneDone = (): boolean =>
      coordinator.live().every((s) => s.done.has(index) || s.end !== null) || lost();
    try {
      if (!(await untilOrTimeout(coordinator, everyoneDone, waitMs))) {
        for (const s of coordinator.live())
          if (!s.done.has(index)) loseSilent(s, coordinator, workers, waitMs);
      }
    } finally {
      clearInterval(view);
    }
    // The shards' last counts (sent before their done: nothing in flight), as one process's last progress.
    const last = summedProgress(coordinator.shards, index, plan.max_time_s);
    if (last) events.onProgress?.(plan, last);
    // A shard lost: the live ones finish the iteration, and its end samples wait for them (below).
    if (lost()) break;
    // Every shard has drained: the end samples now, the indexes once the window is known.
    await run.telemetry.endIteration();
    // During the run: a shard that has ended may be sealing (or shipping) its run right now.
    const merged = await mergeIterationFromShards(run.dir, index, {
      slos: inputs.job.parsed.slos,
      during: true,
    });
    await run.telemetry.stopIteration(merged.window);
    events.onIterationEnd?.(plan, merged.summary);
    const dones = coordinator.live().map((s) => s.done.get(index));
    if (dones.some((d) => d?.fail_fast || d?.ended_by === 'interrupted')) break;
  }
}

/**
 * Tells every worker the run is over and waits for them: each finishes the iteration it
 * is in (its records are evidence) and ends; one that does not within the wait is killed.
 */
async function stopWorkers(coordinator: Coordinator, workers: Workers, waitMs: number): Promise<void> {
  coordinator.stopAll(coordinator.lostShards().length > 0 ? 'a shard was lost' : 'the run ended');
  // A worker started elsewhere has no process here: it is done when its shard has ended or is
  // lost, or never said hello (it has written nothing; if it comes later, it finds no coordinator).
  const allExited = Promise.all(
    workers.handles.map((handle, index) =>
      handle.external
        ? coordinator.until(() => {
            const shard = coordinator.shards[index];
            return !shard || shard.hello === null || shard.end !== null || shard.lost !== null;
          })
        : workers.exits[index],
    ),
  );
  const ended = await Promise.race([allExited.then(() => true), delay(waitMs).then(() => false)]);
  if (!ended) {
    for (const handle of workers.handles) handle.kill('SIGKILL');
    // An external worker's end cannot be awaited past here: one still silent is lost.
    for (const shard of coordinator.shards) {
      if (workers.handles[shard.index]?.external && shard.end === null && shard.lost === null) {
        const reason = `shard ${shard.index} of ${coordinator.shards.length}: no end from its worker in ${Math.round(waitMs / 1000)} s`;
        workers.lostReasons.set(shard.index, reason);
        coordinator.lose(shard.index, reason);
      }
    }
  }
  await allExited;
  await coordinator.close();
}

/** The shards' latest live counts for the iteration, summed; null before any arrived. */
function summedProgress(shards: ShardState[], iteration: number, maxTimeS: number): ProgressSnapshot | null {
  const live = shards.flatMap((s) =>
    s.progress !== null && s.progress.iteration === iteration ? [s.progress] : [],
  );
  if (live.length === 0) return null;
  const sum = (pick: (p: (typeof live)[number]) => number): number => live.reduce((n, p) => n + pick(p), 0);
  return {
    sent: sum((p) => p.sent),
    done: sum((p) => p.done),
    errors: sum((p) => p.errors),
    in_flight: sum((p) => p.in_flight),
    measured_done: sum((p) => p.measured_done),
    max_requests: live.some((p) => p.max_requests === null) ? Infinity : sum((p) => p.max_requests ?? 0),
    elapsed_s: Math.max(...live.map((p) => p.elapsed_s)),
    max_time_s: maxTimeS,
  };
}

/** A shard that did not answer within the wait is lost: the run cannot be whole without it. */
function loseSilent(shard: ShardState, coordinator: Coordinator, workers: Workers, waitMs: number): void {
  const reason = `shard ${shard.index} of ${coordinator.shards.length}: no word from its worker in ${Math.round(waitMs / 1000)} s`;
  workers.lostReasons.set(shard.index, reason);
  coordinator.lose(shard.index, reason);
  // A silent worker may be hung, not dead: it is ended now, so the others are not kept waiting on it.
  workers.handles[shard.index]?.kill('SIGKILL');
}

async function untilOrTimeout(
  coordinator: Coordinator,
  condition: () => boolean,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<boolean> {
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), timeoutMs);
  const either = signal ? AbortSignal.any([signal, timeout.signal]) : timeout.signal;
  try {
    await coordinator.until(condition, either);
  } finally {
    clearTimeout(timer);
  }
  return condition() || signal?.aborted === true;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

async function readShardRun(dir: string): Promise<Record<string, unknown>> {
  try {
    return JSON.parse(await readFile(join(dir, 'run.json'), 'utf8')) as Record<string, unknown>;
  } catch {
    return {};
  }
}
