/**
 * Runs a whole BenchmarkJob: plan → for each iteration (items, executor, backend,
 * records handed to the outputs as they finish, summary) → run summary. It writes
 * nothing itself: its outputs (engine/outputs/) do, the run folder first (records
 * appended, telemetry targets scraped before, during and after, summaries, seals).
 * Each iteration is ended in every output before the next starts, so completed work
 * is on disk by then; an interruption ends the current iteration and keeps it.
 * An iteration that fails fast ends the run, which is then sealed `failed`, as is
 * one where nothing completed or too much failed (see run-status.ts).
 * A run may be one repeat of a run group (see run-group.ts): then its folder is
 * inside the group's and it runs its iterations in the repeat's seeded order.
 */
import type { Backend, BackendKind } from '../backends/backend.js';
import { createBackend } from '../backends/registry.js';
import { captureEnvironment } from '../evidence/environment.js';
import { digestOf } from '../base/digest.js';
import type { JobFileProvenance } from '../evidence/job-provenance.js';
import type { KubernetesIdentity } from '../evidence/kubernetes-identity.js';
import { isSecretField, redactSecrets, redactUrl, registerSecret } from '../base/redact.js';
import { newRunId } from '../evidence/run-id.js';
import { fetchServerVersion } from '../evidence/server-probe.js';
import { summarizeIteration } from '../metrics/aggregate.js';
import type { HourlyPrice } from '../metrics/cost.js';
import { type IterationSummary } from '../metrics/iteration-summary.js';
import type { RequestRecord } from '../metrics/record.js';
import type { BenchmarkJob } from '../spec/job-schema.js';
import type { ResolvedEndpoint } from '../spec/endpoint.js';
import type { Slo } from '../spec/slo-types.js';
import { jobDocument, type ValidatedJob } from '../spec/validated-job.js';
import { Prng, keyFromString } from '../base/prng.js';
import { createItemSource } from '../workload/sampler.js';
import { loadTokenizer, type Tokenizer } from '../workload/tokenizer.js';
import { createTraceSource } from '../workload/trace.js';
import type { ItemSource } from '../workload/work-item.js';
import { createConversationSource, isConversationSource } from '../workload/conversations.js';
import { iterationOrder, planIterations } from '../plan/build-plan.js';
import { takeAnchor, wallIso, type WallAnchor } from '../base/clock.js';
import type { ProgressSnapshot, RunEvents } from '../metrics/run-events.js';
import type { ShardTotalsSink } from '../telemetry/hot-totals.js';
import { closedLoop } from './executors/closed-loop.js';
import type { Executor } from './executors/executor.js';
import { openLoopRate } from './executors/open-loop-rate.js';
import { traceReplay } from './executors/trace-replay.js';
import { ACROSS_SHARDS, type FailFastCause } from './fail-fast.js';
import { runIteration, type IterationLink, type IterationOutcome } from './iteration.js';
import { WHOLE, dealingFor, plannedShare, type Segment } from '../plan/segments.js';
import type { IterationPlan, PlannedIteration } from '../plan/plan.js';
import { DEFAULT_MAX_ERROR_RATE, judgeRun, type RunFailure, type RunStatus } from './run-status.js';
import type { IterationEnd, RunOutput, RunSeal, ScrapeTarget } from './outputs/output.js';
import { createOutputs } from './outputs/registry.js';
import {
  probeNotices,
  probeTelemetry,
  runTelemetryTargets,
  scrapeTargets,
  type RunTelemetryTarget,
  type TelemetryProbe,
} from './run-telemetry.js';

export { sameOrigin } from './run-telemetry.js';

export interface RunInputs {
  /** Validated: its scenarios, SLOs and storage URI come parsed, so the run refuses nothing. */
  job: ValidatedJob;
  /** The job file as given, or null for the command-line form. */
  jobFile: string | null;
  /** The job file's digest and git state, when there is a file (see jobFileProvenance). */
  jobProvenance?: JobFileProvenance | null;
  endpoint: ResolvedEndpoint;
  /** Bearer token; kept in memory only. */
  apiKey?: string;
  /** Parent folder of run folders. */
  outRoot: string;
  /** Aborted on Ctrl-C: the current iteration ends, finished ones are kept. */
  signal?: AbortSignal;
  events?: RunEvents;
  /**
   * More outputs, by name in engine/outputs/registry.ts: each is fed after the run folder
   * and before the events (the run folder and the events are always there).
   */
  outputs?: string[];
  /** The run group this run is a repeat of; without it the run is a group of one, in plan order. */
  group?: RunGroupMember;
  /** This process runs one shard of a coordinated run (see docs/shards.md); the whole run by default. */
  shard?: ShardRole;
  /** The BenchmarkJob, pod and node this process runs in, recorded in run.json (docs/k8s.md). */
  kubernetes?: KubernetesIdentity | null;
  /**
   * A plan that grows as the run goes (an SLA search, docs/search.md): the job's own plan is
   * not run; the extension gives each next iteration once the previous one has ended.
   */
  extension?: PlanExtension;
  /** The deployment's price per hour (metrics/cost.ts), recorded in run.json's `price` for ingest and reports. */
  price?: HourlyPrice | null;
  /**
   * Hot metrics served while the run goes, for a split run to feed with its shards' totals
   * (docs/hot-metrics.md). A run in one process feeds them through `events` and ignores this.
   */
  hot?: ShardTotalsSink;
}

/**
 * Where a growing plan's iterations come from. The run asks for the first before it starts
 * and for the next after each iteration has ended and been sealed; run.json's `plan` is
 * rewritten as it grows, so a run killed mid-way still says what it was running.
 */
export interface PlanExtension {
  /** What decides the plan (run.json's `plan_extension`; named in the benchmark case instead of the plan). */
  describe(): Record<string, unknown>;
  /** The most requests any iteration keeps in flight (sizes the connection pool). */
  readonly maxInFlight: number;
  /**
   * The next iteration (its index is set by the run), given the summaries of those that ran,
   * in the order they ran (none for the first); null ends the run.
   */
  next(ran: readonly IterationSummary[]): PlannedIteration | null;
  /** Documents (file name → JSON) written into the run folder before it is sealed. */
  documents(ran: readonly IterationSummary[]): Record<string, unknown>;
}

/**
 * One shard of a coordinated run: which part of every iteration it sends, where its
 * folder is, and the coordinator that starts each iteration at one instant for all.
 */
export interface ShardRole {
  segment: Segment;
  /** The coordinated (merged) run's id; the shard's own folder gets a run id of its own. */
  runId: string;
  /** The shard folder (instead of outRoot/runId). */
  dir: string;
  /** Recorded in run.json's `shard`: who ran it and how its clock relates to the coordinator's. */
  identity: ShardIdentity;
  gate: IterationGate;
  /**
   * The coordinator scrapes the telemetry targets for the whole run (docs/shards.md): the
   * shard neither probes nor scrapes them, and records in run.json whether each answered the
   * coordinator's probe (these, in the targets' order). Absent: the shard scrapes them itself.
   */
  scrapedByCoordinator?: readonly boolean[];
}

export interface ShardIdentity {
  host: string;
  pid: number;
  /** This process's clock minus the coordinator's (µs), measured NTP-style (engine/clock-offset.ts). */
  clock_offset_us: number;
  /** The offset is within ± this (µs). */
  clock_error_bound_us: number;
}

/** The coordinator's side of a shard's iteration loop. */
export interface IterationGate {
  /**
   * Resolves when the coordinator starts plan iteration `index`: with the start instant on
   * the coordinator's clock, or with why the shard is to stop instead.
   */
  ready(index: number): Promise<{ startAtUs: number } | { stop: string }>;
  /** The iteration is sealed in the shard folder. */
  done(index: number, summary: IterationSummary): Promise<void>;
  /** The coordinator's word while plan iteration `index` runs: fail fast across shards. */
  link?(index: number): IterationLink;
}

export interface RunGroupMember {
  runGroupId: string;
  /** 0-based. */
  repeat: number;
  repeats: number;
  /** The group folder, parent of this run's folder (instead of outRoot). */
  dir: string;
}

export interface RunResult {
  runId: string;
  dir: string;
  /** sha256 of the sealed manifest (see evidence/manifest.ts). */
  artifactManifestDigest: string;
  benchmarkCaseId: string;
  /** In plan order, whatever the order they ran in. */
  summaries: IterationSummary[];
  interrupted: boolean;
  /** `failed` when it stopped early, nothing completed, or too much failed; `failure` says which. */
  status: RunStatus;
  failure: RunFailure | null;
  /** The run's own id for a run alone. */
  runGroupId: string;
  repeat: number;
  repeats: number;
  /** Plan indexes in the order they ran (or were to run, when interrupted). */
  iterationOrder: number[];
}

/**
 * Which protocol adapter a job needs: the apiFormat, then the URL's path, else the task and
 * `spec.api`. The embeddings kinds serve rerank (R) items too.
 */
export function backendKindFor(job: BenchmarkJob, endpoint: ResolvedEndpoint): BackendKind {
  const embeddings = job.spec.task.endsWith('-embeddings');
  if (endpoint.apiFormat === 'cohere') return embeddings ? 'cohere-embed' : 'cohere-chat';
  if (endpoint.apiFormat === 'oci-cohere') return embeddings ? 'oci-cohere-embed' : 'oci-cohere-chat';
  if (endpoint.path === '/v1/embeddings' || job.spec.task.endsWith('-embeddings')) return 'openai-embeddings';
  if (endpoint.path === '/v1/completions') return 'openai-completions';
  if (endpoint.path === '/v1/chat/completions') return 'openai-chat';
  return job.spec.api === 'completions' ? 'openai-completions' : 'openai-chat';
}

/**
 * OME's additionalRequestParams are strings (`temperature: "0.0"`); servers want
 * typed JSON, so values that read as JSON numbers, booleans or null are converted.
 */
export function coerceRequestParams(params: Record<string, string> = {}): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, text] of Object.entries(params)) {
    out[key] = /^(-?\d+(\.\d+)?([eE][-+]?\d+)?|true|false|null)$/.test(text.trim()) ? JSON.parse(text) : text;
  }
  return out;
}

/**
 * Runs one job: opens the run (run.json first), probes the server, describes the
 * workloads, runs the iterations in the run's order, then judges and seals the run.
 * What the run writes, shows and exports is its outputs' doing (engine/outputs/).
 */
export async function executeRun(inputs: RunInputs): Promise<RunResult> {
  // The run folder first: an output later in the list sees a record once it is on disk.
  const outputs = createOutputs(['run-folder', ...(inputs.outputs ?? []), 'events'], {
    events: inputs.events ?? {},
  });
  try {
    const run = await openRun(inputs, outputs);
    const probes = await probeServer(run);
    const described = await describeRun(run, probes);
    // A shard whose coordinator scrapes for the whole run scrapes nothing.
    const scrapes = run.inputs.shard?.scrapedByCoordinator
      ? []
      : scrapeTargets(run.telemetry, probes.telemetry, run.inputs.job.spec, run.anchor);
    const outcome = await runIterations(run, described.sources, scrapes);
    return await sealAndJudge(run, described, outcome);
  } catch (error) {
    // Nothing is sealed: the outputs only release what they hold (an iteration's file, its scraper).
    await Promise.allSettled(outputs.map((output) => output.fail?.(error)));
    throw error;
  }
}

/** What a run holds from its start to its seal. */
interface OpenRun {
  inputs: RunInputs;
  outputs: RunOutput[];
  planned: PlannedIteration[];
  plans: IterationPlan[];
  tokenizer: Tokenizer;
  kind: BackendKind;
  backend: Backend;
  authHeaders: Record<string, string>;
  runId: string;
  runGroupId: string;
  repeat: number;
  repeats: number;
  /** Plan indexes in the order this run takes them. */
  order: number[];
  anchor: WallAnchor;
  /** The run's folder. */
  dir: string;
  /** Every telemetry target (docs/telemetry.md), the server's /metrics among them unless listed. */
  telemetry: RunTelemetryTarget[];
  /** The server's target: the implicit one, or the first listed of role server. */
  serverTarget: RunTelemetryTarget;
  /** run.json's fields known before the probes: identity, intent, job, endpoint. */
  head: { identity: Record<string, unknown>; described: Record<string, unknown> };
  /** run.json whole, once the run has started (a growing plan rewrites it). */
  document?: Record<string, unknown>;
}

/** The server's answers before any load: environment, version, and which telemetry targets scrape. */
interface ServerProbes {
  environment: Awaited<ReturnType<typeof captureEnvironment>>;
  serverVersion: Awaited<ReturnType<typeof fetchServerVersion>>;
  /** One per target, in order: whether it answered before the run (a target that did not is not scraped). */
  telemetry: TelemetryProbe[];
}

/** The run's workloads: their item sources and the digests that name the benchmark case. */
interface DescribedRun {
  sources: Map<number, ItemSource>;
  workloadSpecDigest: string;
  benchmarkCaseId: string;
}

/** How the iteration loop ended. */
interface LoopOutcome {
  /** In the order they ran. */
  summaries: IterationSummary[];
  interrupted: boolean;
  failFast: FailFastCause | null;
  /** Why the coordinator stopped this shard before its last iteration, else absent. */
  stopped?: string;
}

/** The client side of a run: its iterations, tokenizer, protocol and backend. */
type RunClient = Pick<OpenRun, 'planned' | 'plans' | 'tokenizer' | 'kind' | 'backend' | 'authHeaders'>;

/** Plans the iterations and prepares the tokenizer and the backend (no request is sent). */
async function prepareClient(inputs: RunInputs): Promise<RunClient> {
  const { job, endpoint } = inputs;
  const { spec } = job;
  const planned = inputs.extension ? [firstExtended(inputs.extension)] : planIterations(job);
  const plans = planned.map((p) => p.plan);
  // A secret-named request parameter (`api_key`) goes to the server, which may quote it back in an error.
  for (const [name, value] of Object.entries(spec.additionalRequestParams ?? {})) {
    if (isSecretField(name)) registerSecret(value);
  }
  const tokenizer = await loadTokenizer(spec.tokenizer);
  const kind = backendKindFor(job, endpoint);
  const authHeaders: Record<string, string> = inputs.apiKey
    ? { authorization: `Bearer ${inputs.apiKey}` }
    : {};
  const backend = createRunBackend(inputs, kind, plans, tokenizer);
  try {
    // The OCI formats load their signing key here: a wrong config is a setup error, before any request.
    await backend.prepare?.();
  } catch (error) {
    await backend.close();
    throw error;
  }
  return { planned, plans, tokenizer, kind, backend, authHeaders };
}

/** A growing plan's first iteration, as iteration 0. */
function firstExtended(extension: PlanExtension): PlannedIteration {
  const first = extension.next([]);
  if (!first) throw new Error('the plan extension gave no first iteration');
  return { ...first, plan: { ...first.plan, index: 0 } };
}

/** Prepares the client, names the run and its folder, and opens the outputs with its first run.json. */
async function openRun(inputs: RunInputs, outputs: RunOutput[]): Promise<OpenRun> {
  const { job, endpoint } = inputs;
  const { spec } = job;
  const client = await prepareClient(inputs);
  const { plans, tokenizer, kind, authHeaders } = client;
  const runId = newRunId();
  const { runGroupId, repeat, repeats } = inputs.group ?? { runGroupId: runId, repeat: 0, repeats: 1 };
  // A growing plan runs in the order it grows.
  const order = inputs.extension ? [0] : iterationOrder(plans.length, spec.seed, repeat, repeats);
  const anchor = takeAnchor();
  const dir = inputs.shard
    ? inputs.shard.dir
    : inputs.group
      ? `${inputs.group.dir}/${runId}`
      : [inputs.outRoot, spec.resultFolderName, runId].filter(Boolean).join('/');
  const telemetry = runTelemetryTargets(spec, endpoint, authHeaders);
  const serverTarget = telemetry.find((t) => t.role === 'server') as RunTelemetryTarget;
  const head = runHead(inputs, kind, anchor, {
    schema_version: 1,
    run_id: runId,
    run_group_id: runGroupId,
    repeat,
    repeats,
    iteration_order: order,
    ...(inputs.shard ? { shard: shardBlock(inputs.shard) } : {}),
    ...(inputs.kubernetes ? { kubernetes: inputs.kubernetes } : {}),
    ...(inputs.extension ? { plan_extension: inputs.extension.describe() } : {}),
  });
  // Before the probes, which wait on the server: a run killed while they wait has its
  // run.json (verify: PARTIAL, not CORRUPT). Rewritten whole once they answer.
  const document = {
    ...head.identity,
    ...head.described,
    server: null,
    tokenizer: tokenizer.name,
    plan: plans,
    environment: null,
  };
  for (const output of outputs) await output.open?.({ runId, dir, document });
  return {
    inputs,
    outputs,
    ...client,
    runId,
    runGroupId,
    repeat,
    repeats,
    order,
    anchor,
    dir,
    telemetry,
    serverTarget,
    head,
  };
}

/** run.json's `shard`: which part of which coordinated run this folder holds, and who ran it. */
function shardBlock(shard: ShardRole): Record<string, unknown> {
  return {
    run_id: shard.runId,
    index: shard.segment.index,
    of: shard.segment.of,
    ...shard.identity,
    // The merge keeps the coordinator's scrapes of such a run (engine/merge-run.ts).
    ...(shard.scrapedByCoordinator ? { scraped_by: 'coordinator' } : {}),
  };
}

/** run.json's fields known before the probes: the run's identity, intent, job and endpoint. */
function runHead(
  inputs: RunInputs,
  kind: BackendKind,
  anchor: WallAnchor,
  identity: Record<string, unknown>,
): OpenRun['head'] {
  const { job, endpoint } = inputs;
  const described = {
    started_at: wallIso(anchor, anchor.mono_us),
    intent: job.spec.intent,
    job_file:
      inputs.jobProvenance ?? (inputs.jobFile ? { path: inputs.jobFile, sha256: null, git: null } : null),
    job: redactSecrets(jobDocument(job)),
    endpoint: {
      base_url: redactUrl(endpoint.baseUrl),
      path: endpoint.path,
      model: endpoint.model,
      backend: kind,
    },
    ...(inputs.price ? { price: inputs.price } : {}),
  };
  return { identity, described };
}

/** The protocol adapter for the job, with one connection per request the plan keeps in flight at most. */
function createRunBackend(
  inputs: RunInputs,
  kind: BackendKind,
  plans: IterationPlan[],
  tokenizer: Tokenizer,
): Backend {
  const { job, endpoint } = inputs;
  const { spec } = job;
  const connections = Math.max(
    ...plans.map((plan) => plan.max_in_flight),
    inputs.extension?.maxInFlight ?? 1,
  );
  return createBackend(kind, {
    baseUrl: endpoint.baseUrl,
    ...(endpoint.path ? { path: endpoint.path } : {}),
    model: endpoint.model,
    ...(inputs.apiKey ? { apiKey: inputs.apiKey } : {}),
    stream: spec.stream,
    requestTimeoutMs: spec.requestTimeoutSeconds * 1000,
    additionalParams: coerceRequestParams(spec.additionalRequestParams),
    forceOutputLength: spec.ignoreEos,
    connections,
    // The server's text, not ours: counted in bounded segments (linear whatever it sends).
    countTokens: (text) => tokenizer.countBounded(text),
    ...(spec.oci ? { oci: spec.oci } : {}),
  });
}

/**
 * Captures the environment and asks the server its version and each telemetry target for
 * its metrics, all at once; a shard whose coordinator scrapes takes the coordinator's answers.
 */
async function probeServer(run: OpenRun): Promise<ServerProbes> {
  const { endpoint, signal, shard } = run.inputs;
  const byCoordinator = shard?.scrapedByCoordinator;
  const [environment, serverVersion, telemetry] = await Promise.all([
    captureEnvironment(),
    // Ctrl-C ends the probes too: a hanging server must not hold the interruption for their deadlines.
    fetchServerVersion(endpoint.baseUrl, run.authHeaders, signal),
    byCoordinator
      ? run.telemetry.map((_, i) => ({ ok: byCoordinator[i] === true }))
      : probeTelemetry(run.telemetry, signal),
  ]);
  // The coordinator has told the user of a target that did not answer it.
  if (!byCoordinator)
    for (const message of probeNotices(run.telemetry, telemetry)) notify(run.outputs, message);
  return { environment, serverVersion, telemetry };
}

/** Builds each iteration's item source, names the benchmark case, and starts the outputs with run.json whole. */
async function describeRun(run: OpenRun, probes: ServerProbes): Promise<DescribedRun> {
  const { job, endpoint } = run.inputs;
  const sources = new Map<number, ItemSource>();
  for (const planned of run.planned) {
    sources.set(planned.plan.index, await itemSourceFor(planned, job, run.tokenizer));
  }
  const workloads = run.plans.map((plan) => {
    const { description } = sources.get(plan.index) as ItemSource;
    return { iteration: plan.index, description, spec_digest: digestOf(description) };
  });
  const workloadSpecDigest = digestOf(workloads.map((w) => w.spec_digest));
  const benchmarkCaseId = benchmarkCaseIdOf(
    job,
    endpoint,
    run.kind,
    run.plans,
    workloadSpecDigest,
    run.inputs.extension?.describe(),
  );
  const document = {
    ...run.head.identity,
    benchmark_case_id: benchmarkCaseId,
    workload_spec_digest: workloadSpecDigest,
    ...run.head.described,
    server: {
      version: probes.serverVersion,
      metrics_url: redactUrl(run.serverTarget.url),
      metrics_scraped: probes.telemetry[run.telemetry.indexOf(run.serverTarget)]?.ok ?? false,
    },
    telemetry: run.telemetry.map((target, i) => ({
      name: target.name,
      role: target.role,
      url: redactUrl(target.url),
      labels: target.labels,
      scraped: probes.telemetry[i]?.ok ?? false,
    })),
    tokenizer: run.tokenizer.name,
    plan: run.plans,
    // The items' own digest is written per iteration (workload.json), from the items it sent.
    workloads,
    environment: probes.environment,
    clock: { anchor_wall_ms: run.anchor.wall_ms, anchor_mono_us: run.anchor.mono_us, unit: 'us' },
  };
  run.document = document;
  const { runId, dir, plans, runGroupId, repeat, repeats } = run;
  const growing = run.inputs.extension !== undefined;
  for (const output of run.outputs) {
    await output.start?.({
      runId,
      dir,
      plans,
      benchmarkCaseId,
      runGroupId,
      repeat,
      repeats,
      document,
      growing,
    });
  }
  return { sources, workloadSpecDigest, benchmarkCaseId };
}

/**
 * Runs the iterations in the run's order, each ended in every output before the next
 * starts, until the end, an interruption or a fail-fast cause; the backend is closed
 * whatever happens.
 */
async function runIterations(
  run: OpenRun,
  sources: Map<number, ItemSource>,
  scrapes: readonly ScrapeTarget[],
): Promise<LoopOutcome> {
  const { job, signal } = run.inputs;
  const { spec } = job;
  const { plans } = run;
  const outcome: LoopOutcome = { summaries: [], interrupted: false, failFast: null };
  try {
    // A growing plan appends to run.order as it goes.
    for (let at = 0; at < run.order.length; at++) {
      const plan = plans[run.order[at] as number] as IterationPlan;
      if (signal?.aborted) {
        outcome.interrupted = true;
        break;
      }
      const shard = run.inputs.shard;
      let startAtUs: number | undefined;
      if (shard) {
        const go = await shard.gate.ready(plan.index);
        if ('stop' in go) {
          // Ctrl-C while waiting for the start: this shard was interrupted, not cut short.
          if (signal?.aborted) outcome.interrupted = true;
          else outcome.stopped = go.stop;
          break;
        }
        startAtUs = go.startAtUs + shard.identity.clock_offset_us;
      }
      const items = sources.get(plan.index) as ItemSource;
      const { summary, failFast: cause } = await runOneIteration(plan, {
        total: plans.length,
        segment: shard?.segment ?? WHOLE,
        startAtUs,
        link: shard?.gate.link?.(plan.index),
        runId: run.runId,
        outputs: run.outputs,
        backend: run.backend,
        items,
        executor: executorFor(plan, items, spec.seed),
        slos: job.parsed.slos,
        scrapes,
        signal,
      });
      await shard?.gate.done(plan.index, summary);
      outcome.summaries.push(summary);
      if (summary.ended_by === 'interrupted') {
        outcome.interrupted = true;
        break;
      }
      // The server is wrong for this job: the later iterations would only repeat the failure.
      // Not so in a growing plan (a search): a probe past capacity that a shedding or
      // rate-limiting server answers with quick 429s is a failed probe, and the search
      // goes on below it (it stops by itself when its lowest load fails).
      if (cause && !run.inputs.extension) {
        outcome.failFast = cause;
        break;
      }
      // Another shard failed fast and the coordinator ended this one's iteration: the run
      // stops here as well; the tripping shard's folder holds the cause.
      const endedBy = summary.shard?.ended_by_shard;
      if (endedBy !== undefined && !run.inputs.extension) {
        outcome.stopped =
          endedBy === ACROSS_SHARDS
            ? `the shards' first measured requests of iteration ${plan.index} failed alike`
            : `shard ${endedBy} failed fast in iteration ${plan.index}`;
        break;
      }
      const next = run.inputs.extension?.next(outcome.summaries);
      if (next) await growPlan(run, sources, next);
    }
  } finally {
    await run.backend.close();
  }
  return outcome;
}

/** Appends a growing plan's next iteration: its item source, and run.json rewritten with it in every output. */
async function growPlan(
  run: OpenRun,
  sources: Map<number, ItemSource>,
  next: PlannedIteration,
): Promise<void> {
  const index = run.plans.length;
  const planned: PlannedIteration = { ...next, plan: { ...next.plan, index } };
  run.planned.push(planned);
  run.plans.push(planned.plan);
  run.order.push(index);
  const source = await itemSourceFor(planned, run.inputs.job, run.tokenizer);
  sources.set(index, source);
  // Each probe's workload is described like a planned iteration's: the warehouse files its
  // outcome under it (workload_dim, workload_spec_digest) and lineage reaches it.
  const workloads = [
    ...((run.document?.workloads as unknown[] | undefined) ?? []),
    { iteration: index, description: source.description, spec_digest: digestOf(source.description) },
  ];
  const document = { ...run.document, plan: run.plans, workloads };
  run.document = document;
  for (const output of run.outputs) await output.planGrown?.({ plan: planned.plan, document });
}

/** Judges the run from its summaries and stops the outputs: the run folder writes summary.json and seals. */
async function sealAndJudge(run: OpenRun, described: DescribedRun, outcome: LoopOutcome): Promise<RunResult> {
  const { spec } = run.inputs.job;
  const { interrupted, failFast } = outcome;
  const summaries = outcome.summaries.sort((a, b) => a.iteration - b.iteration);
  const { status, failure } = judgeRun(summaries, {
    interrupted,
    failFast,
    maxErrorRate: spec.maxErrorRate ?? DEFAULT_MAX_ERROR_RATE,
    incomplete: outcome.stopped ? `stopped by the coordinator: ${outcome.stopped}` : null,
  });
  const { runId } = run;
  const { benchmarkCaseId } = described;
  const summary = {
    run_id: runId,
    benchmark_case_id: benchmarkCaseId,
    workload_spec_digest: described.workloadSpecDigest,
    status,
    failure,
    iterations_planned: run.plans.length,
    iterations_completed: summaries.filter((s) => s.ended_by !== 'interrupted').length,
    iterations: summaries,
  };
  // In the order they ran, which for a growing plan is plan order.
  const documents = run.inputs.extension?.documents(summaries) ?? {};
  let seal: RunSeal | undefined;
  for (const output of run.outputs) {
    const sealed = await output.stop?.({ runId, status, summary, documents });
    seal ??= sealed ?? undefined;
  }
  if (!seal) throw new Error('no output sealed the run (the run-folder output is always there)');
  return {
    runId,
    dir: run.dir,
    artifactManifestDigest: seal.artifactManifestDigest,
    benchmarkCaseId,
    summaries,
    interrupted,
    status,
    failure,
    runGroupId: run.runGroupId,
    repeat: run.repeat,
    repeats: run.repeats,
    iterationOrder: run.order,
  };
}

/**
 * What makes two runs the same benchmark case: the model, protocol, request shape,
 * plan and workload, not the endpoint's address, the time or the server under test
 * (comparing servers on one case is the point).
 */
export function benchmarkCaseIdOf(
  job: BenchmarkJob,
  endpoint: ResolvedEndpoint,
  kind: BackendKind,
  plans: IterationPlan[],
  workloadSpecDigest: string,
  /** A growing plan's description, which names the case instead of the plan it happened to run. */
  planExtension?: Record<string, unknown>,
): string {
  const { spec } = job;
  return digestOf({
    model: endpoint.model,
    backend: kind,
    task: spec.task,
    stream: spec.stream,
    ignore_eos: spec.ignoreEos,
    request_params: coerceRequestParams(spec.additionalRequestParams),
    request_timeout_s: spec.requestTimeoutSeconds,
    slos: spec.slos ?? [],
    plan: planExtension ?? plans,
    workload_spec_digest: workloadSpecDigest,
  });
}

interface IterationContext {
  /** How many iterations the run plans. */
  total: number;
  /** The part of the iteration this process sends (the whole of it unless it is a shard). */
  segment: Segment;
  /** The iteration's start instant on this process's clock, when a coordinator set it. */
  startAtUs: number | undefined;
  /** A shard's line to its coordinator during the iteration. */
  link: IterationLink | undefined;
  runId: string;
  outputs: RunOutput[];
  backend: Backend;
  items: ItemSource;
  executor: Executor;
  slos: readonly Slo[];
  /** The telemetry targets that answered before the run. */
  scrapes: readonly ScrapeTarget[];
  signal: AbortSignal | undefined;
}

/**
 * Runs one iteration through the outputs: started in each, its records handed to each as
 * they finish, its summary computed, and ended in each (the run folder writes and seals it).
 */
async function runOneIteration(
  plan: IterationPlan,
  ctx: IterationContext,
): Promise<{ summary: IterationSummary; failFast: FailFastCause | null }> {
  const { outputs } = ctx;
  for (const output of outputs) {
    await output.startIteration?.({ plan, total: ctx.total, scrapes: ctx.scrapes, signal: ctx.signal });
  }
  let outcome: IterationOutcome;
  try {
    outcome = await runIteration(plan, {
      backend: ctx.backend,
      items: ctx.items,
      executor: ctx.executor,
      runId: ctx.runId,
      segment: ctx.segment,
      ...(ctx.startAtUs !== undefined ? { startAtUs: ctx.startAtUs } : {}),
      ...(ctx.link ? { link: ctx.link } : {}),
      onRecord: recordSink(plan, outputs),
      ...(ctx.signal ? { signal: ctx.signal } : {}),
      ...progressSink(plan, outputs),
    });
  } catch (error) {
    await endIteration(outputs, { plan, records: [], completed: null });
    throw error;
  }
  const summary = summarizeOutcome(plan, outcome, ctx);
  if (ctx.segment.of > 1) {
    const { started_at_us, ended_at_us } = outcome;
    summary.shard = {
      index: ctx.segment.index,
      of: ctx.segment.of,
      started_at_us,
      ended_at_us,
      ...(outcome.ended_by_shard !== undefined ? { ended_by_shard: outcome.ended_by_shard } : {}),
    };
  }
  const workload = {
    description: ctx.items.description,
    spec_digest: digestOf(ctx.items.description),
    items: outcome.workload.items,
    items_digest: outcome.workload.digest,
  };
  await endIteration(outputs, { plan, records: outcome.records, completed: { summary, workload } });
  return { summary, failFast: outcome.fail_fast };
}

/** Ends the iteration in each output, in order: awaited, so it is written before the next one starts. */
async function endIteration(outputs: RunOutput[], end: IterationEnd): Promise<void> {
  for (const output of outputs) await output.endIteration?.(end);
}

/** Hands each finished record to every output that takes records: on the request path, nothing awaited. */
function recordSink(plan: IterationPlan, outputs: RunOutput[]): (record: RequestRecord) => void {
  const adds = outputs.flatMap((output) => (output.addRecord ? [output.addRecord.bind(output)] : []));
  return (record) => {
    for (const add of adds) add(plan, record);
  };
}

/** The iteration's progress timer, only when an output shows progress. */
function progressSink(
  plan: IterationPlan,
  outputs: RunOutput[],
): { onProgress?: (snapshot: ProgressSnapshot) => void } {
  const shows = outputs.flatMap((output) => (output.progress ? [output.progress.bind(output)] : []));
  if (shows.length === 0) return {};
  return {
    onProgress: (snapshot) => {
      for (const show of shows) show(plan, snapshot);
    },
  };
}

/** Tells every output something worth telling the user that does not stop the run. */
function notify(outputs: RunOutput[], message: string): void {
  for (const output of outputs) output.notice?.(message);
}

/** The iteration's summary from its records and what the loop counted. */
function summarizeOutcome(
  plan: IterationPlan,
  outcome: IterationOutcome,
  ctx: IterationContext,
): IterationSummary {
  return summarizeIteration(
    outcome.records,
    {
      iteration: plan.index,
      scenario: plan.scenario,
      mode: plan.mode,
      ...(plan.concurrency !== undefined ? { concurrency: plan.concurrency } : {}),
      ...(plan.rate_rps !== undefined ? { rate_rps: plan.rate_rps } : {}),
      wall_s: outcome.wall_s,
      // A shard plans its share of the measured requests (the whole's, unless it is a shard).
      planned_requests: plannedRequests(plan, ctx),
      dropped_arrivals: outcome.dropped_arrivals,
      late_arrivals: outcome.late_arrivals,
      warmup_requests: plan.warmup.requests,
      event_loop_delay: outcome.event_loop_delay,
      ended_by: outcome.ended_by,
      ...(outcome.conversations ? { conversations: outcome.conversations } : {}),
    },
    ctx.slos,
  );
}

/**
 * The measured requests the shard plans. Multi-turn, the plan counts conversations: the
 * requests are the turns of the measured conversations the shard is dealt.
 */
function plannedRequests(plan: IterationPlan, ctx: IterationContext): number {
  if (!isConversationSource(ctx.items)) return plannedShare(ctx.segment, plan, ctx.items.size);
  const dealing = dealingFor(ctx.segment, plan);
  const conversations = Math.min(plan.max_requests, ctx.items.size);
  const source = ctx.items;
  const from = dealing.below(plan.warmup.requests);
  const to = dealing.below(plan.warmup.requests + conversations);
  let requests = 0;
  for (let k = from; k < to; k++) {
    const c = dealing.at(k);
    requests += source.firstRequestIndex(c + 1) - source.firstRequestIndex(c);
  }
  return requests;
}

function executorFor(plan: IterationPlan, items: ItemSource, seed: number): Executor {
  if (plan.mode === 'concurrency') return closedLoop(plan.concurrency ?? 1);
  if (plan.mode === 'trace') return traceReplay(items);
  // Arrivals get their own seeded stream, so the schedule repeats run to run.
  const [keyA, keyB] = keyFromString(`arrivals:${seed}:${plan.index}:${plan.scenario}:${plan.rate_rps}`);
  const prng = new Prng(keyA, keyB);
  return openLoopRate(plan.rate_rps ?? 1, plan.arrival ?? { distribution: 'poisson', burstiness: 1 }, () =>
    prng.nextFloat(),
  );
}

/** The items an iteration sends: its parsed scenario's, or its trace's. */
async function itemSourceFor(
  { plan, workload }: PlannedIteration,
  job: ValidatedJob,
  tokenizer: Tokenizer,
): Promise<ItemSource> {
  const { spec } = job;
  const iterationKey = `${plan.index}:${plan.scenario}`;
  if (workload.kind === 'trace') {
    return createTraceSource({
      path: workload.path,
      tokenizer,
      seed: spec.seed,
      iterationKey,
      task: spec.task,
    });
  }
  const items = await createItemSource({
    scenario: workload.scenario,
    tokenizer,
    seed: spec.seed,
    iterationKey,
    task: spec.task,
    ...(spec.datasetFile ? { datasetPath: spec.datasetFile } : {}),
    ...(spec.sharedPrefix ? { sharedPrefix: spec.sharedPrefix } : {}),
  });
  return spec.multiTurn ? createConversationSource(items, spec.multiTurn, tokenizer) : items;
}
