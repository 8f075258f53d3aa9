/**
 * A run split into shards (docs/shards.md): this process is the coordinator. It makes
 * the run folder, serves each worker its job and shard folder (`shards/<iii>/`), starts
 * every iteration at one instant on all live shards, waits until each has sealed it,
 * and shows the merged iteration. A worker lost mid-run ends the run after the
 * iteration it was in, which is kept and marked incomplete. At the end the run folder
 * is merged from the shards' raw records (merge-run.ts), as `infermark merge` does.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ExitCode, InfermarkError } from '../base/errors.js';
import { newRunId } from '../evidence/run-id.js';
import { iterationOrder, planIterations } from '../plan/build-plan.js';
import type { IterationPlan } from '../plan/plan.js';
import { jobDocument } from '../spec/validated-job.js';
import { Coordinator, type ShardState } from './coordinator.js';
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
}

/** Node's timers hold at most 2^31 − 1 ms (24.8 days); a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** How often the coordinator's view sums the shards' counts (their own interval is 250 ms). */
const PROGRESS_INTERVAL_MS = 250;

/** Beyond the longest iteration and a request's timeout: a worker's start-up and sealing. */
const SLACK_MS = 120_000;

export async function executeCoordinatedRun(inputs: RunInputs, pool: WorkerPool): Promise<RunResult> {
  const { job, events = {}, signal } = inputs;
  const { spec } = job;
  const of = pool.count;
  const runId = newRunId();
  const { runGroupId, repeat, repeats } = inputs.group ?? { runGroupId: runId, repeat: 0, repeats: 1 };
  const dir = resolve(
    inputs.group
      ? `${inputs.group.dir}/${runId}`
      : [inputs.outRoot, spec.resultFolderName, runId].filter(Boolean).join('/'),
  );
  await mkdir(join(dir, 'shards'), { recursive: true });
  const plans = planIterations(job).map((p) => p.plan);
  const order = iterationOrder(plans.length, spec.seed, repeat, repeats);
  // The longest a shard may wait for the others: the longest iteration, its last request, and slack.
  const waitMs = Math.min(
    MAX_TIMER_MS,
    Math.max(...plans.map((p) => p.max_time_s), 1) * 1000 + spec.requestTimeoutSeconds * 1000 + SLACK_MS,
  );
  const jobAnswer = (index: number): ShardJobAnswer => ({
    protocol: SHARD_PROTOCOL_VERSION,
    run_id: runId,
    dir: join(dir, 'shards', shardDirName(index)),
    segment: { index, of },
    job: jobDocument(job) as unknown as Record<string, unknown>,
    job_file: inputs.jobFile,
    job_provenance: (inputs.jobProvenance ?? null) as ShardJobAnswer['job_provenance'],
    endpoint: { baseUrl: inputs.endpoint.baseUrl, path: inputs.endpoint.path, model: inputs.endpoint.model },
    group: { runGroupId, repeat, repeats },
    ready_timeout_ms: waitMs,
  });
  const coordinator = await Coordinator.start({ of, jobFor: jobAnswer });
  const lostReasons = new Map<number, string>();
  const handles: WorkerHandle[] = [];
  const exits: Promise<unknown>[] = [];
  for (let index = 0; index < of; index++) {
    const handle = pool.launcher.launch({
      index,
      of,
      coordinatorUrl: coordinator.url,
      token: coordinator.tokenFor(index),
    });
    handles.push(handle);
    exits.push(
      handle.exited.then((exit) => {
        // A worker that said its end has finished, whatever its exit code says.
        // Nor one already lost (gone silent, then killed): its first reason stands.
        if (coordinator.shards[index]?.end || lostReasons.has(index)) return;
        const reason = `shard ${index} of ${of}: ${describeExit(exit)}`;
        lostReasons.set(index, reason);
        coordinator.lose(index, reason);
      }),
    );
  }
  const interrupt = (): void => {
    coordinator.stopAll('interrupted');
    for (const handle of handles) handle.kill('SIGINT');
  };
  signal?.addEventListener('abort', interrupt, { once: true });
  if (signal?.aborted) interrupt();
  let started = false;
  try {
    for (const index of order) {
      const plan = plans[index] as IterationPlan;
      const everyoneReady = (): boolean =>
        coordinator.live().every((s) => s.readyFor === index) || coordinator.lostShards().length > 0;
      if (!(await untilOrTimeout(coordinator, everyoneReady, waitMs, signal))) {
        for (const s of coordinator.live())
          if (s.readyFor !== index) loseSilent(s, coordinator, lostReasons, waitMs, handles);
      }
      if (signal?.aborted || coordinator.lostShards().length > 0) break;
      if (!started) {
        started = true;
        const first = await readShardRun(join(dir, 'shards', shardDirName(0)));
        events.onRunStart?.({
          runId,
          dir,
          plans,
          benchmarkCaseId: String(first.benchmark_case_id ?? ''),
          runGroupId,
          repeat,
          repeats,
        });
      }
      events.onIterationStart?.(plan, plans.length);
      for (const shard of coordinator.shards) shard.progress = null;
      coordinator.start(index);
      const view = events.onProgress
        ? setInterval(() => {
            const snapshot = summedProgress(coordinator.shards, index, plan.max_time_s);
            if (snapshot) events.onProgress?.(plan, snapshot);
          }, PROGRESS_INTERVAL_MS)
        : undefined;
      // Not cut by Ctrl-C: each worker ends its iteration itself, seals it, and says done.
      const everyoneDone = (): boolean =>
        coordinator.live().every((s) => s.done.has(index)) || coordinator.lostShards().length > 0;
      try {
        if (!(await untilOrTimeout(coordinator, everyoneDone, waitMs))) {
          for (const s of coordinator.live())
            if (!s.done.has(index)) loseSilent(s, coordinator, lostReasons, waitMs, handles);
        }
      } finally {
        clearInterval(view);
      }
      if (coordinator.lostShards().length > 0) break;
      events.onIterationEnd?.(
        plan,
        (await mergeIterationFromShards(dir, index, { slos: job.parsed.slos })).summary,
      );
      const dones = coordinator.live().map((s) => s.done.get(index));
      if (dones.some((d) => d?.fail_fast || d?.ended_by === 'interrupted')) break;
    }
  } finally {
    signal?.removeEventListener('abort', interrupt);
    coordinator.stopAll(coordinator.lostShards().length > 0 ? 'a shard was lost' : 'the run ended');
    // The others finish the iteration they are in (their records are evidence), then end.
    const allExited = Promise.all(exits);
    const ended = await Promise.race([allExited.then(() => true), delay(waitMs).then(() => false)]);
    if (!ended) for (const handle of handles) handle.kill('SIGKILL');
    await allExited;
    await coordinator.close();
  }
  // Nothing to merge when no worker got as far as its shard folder: say why each one did not.
  if (coordinator.shards.every((s) => s.hello === null)) {
    throw new InfermarkError(
      'E_NO_WORKER',
      `no worker of the run started (${dir}): ${[...lostReasons.values()].join('; ') || 'none said hello'}`,
      ExitCode.failure,
    );
  }
  const merged = await mergeRunFolder(dir, { lostReasons, slos: job.parsed.slos });
  return { ...merged, runGroupId, repeat, repeats, iterationOrder: order };
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
function loseSilent(
  shard: ShardState,
  coordinator: Coordinator,
  lost: Map<number, string>,
  waitMs: number,
  handles: WorkerHandle[],
): void {
  const reason = `shard ${shard.index} of ${coordinator.shards.length}: no word from its worker in ${Math.round(waitMs / 1000)} s`;
  lost.set(shard.index, reason);
  coordinator.lose(shard.index, reason);
  // A silent worker may be hung, not dead: it is ended now, so the others are not kept waiting on it.
  handles[shard.index]?.kill('SIGKILL');
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
