/**
 * `infermark run [job.yaml]`: load and validate the job (or build one from flags),
 * resolve endpoint and API key, run it with a live view, print the summary table
 * (or JSON) and where the run folder is. With repeats, each repeat is uploaded and
 * ingested as it ends, and the last repeat's table is printed with a line per
 * repeat. Ctrl-C ends the run cleanly (and the group: no later repeat starts); a
 * second Ctrl-C exits at once. Before any load, the model is checked against the
 * server's /v1/models (exit 2 when it is not served); a run that failed (status
 * `failed`: stopped early, nothing completed, or errors above --max-error-rate)
 * is kept, sealed and ingested, its reason printed, and exits 1.
 */
import { availableParallelism } from 'node:os';
import { resolveApiKey } from '../backends/api-key.js';
import type { WorkerPool } from '../engine/coordinated-run.js';
import { MAX_WORKERS } from '../spec/job-limits.js';
import { localWorkers } from './local-workers.js';
import { externalWorkers } from './external-workers.js';
import { COORDINATOR_TOKEN_ENV } from '../engine/shard-protocol.js';
import { runnerTarget } from '../k8s/runner-identity.js';
import type { RunnerLink } from '../k8s/runner.js';
import { bothEvents, runOutcome } from '../k8s/runner-events.js';
import { checkModelServed, notServedMessage } from '../engine/preflight.js';
import { executeRunGroup, type RunGroupResult } from '../engine/run-group.js';
import type { PlanExtension, RunResult } from '../engine/run.js';
import { pricePerHour, type HourlyPrice } from '../metrics/cost.js';
import { loadJobPriceTable } from '../spec/price-table.js';
import type { RunEvents } from '../metrics/run-events.js';
import { ExitCode, InfermarkError, ValidationError, type ValidationIssue } from '../base/errors.js';
import { jobFileProvenance, type JobFileProvenance } from '../evidence/job-provenance.js';
import { registerSecret, registerUrlSecrets, scrubText } from '../base/redact.js';
import type { ResolvedEndpoint } from '../spec/endpoint.js';
import type { ObjectStore } from '../storage/object-store.js';
import { openStore } from '../storage/registry.js';
import { uploadRunFolder, type UploadResult } from '../storage/upload.js';
import { preflightStore } from '../storage/retry-policy.js';
import { renderUpload } from './upload.js';
import { renderSummaryTable } from '../report/summary-table.js';
import type { BenchmarkJob } from '../spec/job-schema.js';
import {
  jobFromCli,
  loadJobFile,
  resolveEndpoint,
  type CliJobOptions,
  type ValidatedJob,
} from '../spec/load-job.js';
import { ProgressView } from './progress.js';
import type { RunFlags } from './run-flags.js';

/**
 * What runAndReport and runJob read of the flags: where the run goes and how it prints.
 * `out` alone is required; `demo` and `gate --job` give only some.
 */
export type RunJobFlags = Pick<RunFlags, 'out'> &
  Partial<
    Pick<
      RunFlags,
      'url' | 'model' | 'warehouse' | 'json' | 'quiet' | 'metricsPort' | 'metricsHost' | 'coordinatorListen'
    >
  >;

/**
 * Runs the command; returns the process exit code. In a BenchmarkJob's pod (docs/k8s.md) the
 * run also keeps the BenchmarkJob's status, ends on its spec.cancel, and says its outcome,
 * a refused job's included.
 */
export async function runCommand(jobFile: string | undefined, flags: RunFlags): Promise<number> {
  // Only a BenchmarkJob's pod loads the Kubernetes client.
  const runner = runnerTarget(process.env)
    ? (await import('../k8s/runner.js')).startRunnerLink(process.env)
    : null;
  try {
    const job = jobFile ? await loadJobFileWithOverrides(jobFile, flags) : jobFromCli(cliJobOptions(flags));
    return await runAndReport(job, jobFile ?? null, flags, undefined, runner);
  } catch (error) {
    await runner?.finish({ result: 'failed', reason: scrubText((error as Error).message ?? String(error)) });
    throw error;
  }
}

/**
 * The job file, with the flags that override its spec (`--repeats`, `--max-error-rate`,
 * `--no-preflight`); a bad flag is reported with the file's own problems.
 */
async function loadJobFileWithOverrides(jobFile: string, flags: RunFlags): Promise<ValidatedJob> {
  const maxErrorRate = flags.maxErrorRate === undefined ? undefined : num(flags.maxErrorRate);
  const issues = [
    flags.repeats === undefined ? null : repeatsIssue(flags.repeats),
    flags.workers === undefined ? null : workersIssue(flags.workers),
    maxErrorRate === undefined ? null : maxErrorRateIssue(maxErrorRate),
  ].filter((issue): issue is ValidationIssue => issue !== null);
  let job: ValidatedJob;
  try {
    job = await loadJobFile(jobFile);
  } catch (error) {
    if (issues.length > 0 && error instanceof ValidationError)
      throw new ValidationError([...error.issues, ...issues]);
    throw error;
  }
  if (issues.length > 0) throw new ValidationError(issues);
  const spec = { ...job.spec };
  if (flags.repeats !== undefined) spec.repeats = Number(flags.repeats);
  if (flags.workers !== undefined) spec.workers = flags.workers === 'auto' ? 'auto' : Number(flags.workers);
  if (typeof maxErrorRate === 'number') spec.maxErrorRate = maxErrorRate;
  if (flags.preflight === false) spec.preflight = false;
  return { ...job, spec };
}

/** `--max-error-rate` checked as the schema checks spec.maxErrorRate (a number from 0 to 1). */
function maxErrorRateIssue(value: number | string): ValidationIssue | null {
  if (typeof value === 'number' && value >= 0 && value <= 1) return null;
  return {
    file: 'command line',
    path: '--max-error-rate',
    value,
    message: 'expected a number from 0 to 1 (a fraction of the measured requests)',
  };
}

/** `--workers` checked as the schema checks spec.workers (`auto`, or an integer from 1 to 256). */
function workersIssue(text: string): ValidationIssue | null {
  if (text === 'auto') return null;
  const value = num(text);
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_WORKERS) return null;
  return {
    file: 'command line',
    path: '--workers',
    value,
    message: `expected auto or an integer from 1 to ${MAX_WORKERS}`,
  };
}

/** `--repeats` checked as the schema checks spec.repeats (an integer ≥ 1), in its words. */
function repeatsIssue(text: string): ValidationIssue | null {
  const value = num(text);
  const message =
    typeof value !== 'number'
      ? 'expected an integer, got string'
      : !Number.isInteger(value)
        ? `expected an integer, got ${value}`
        : value < 1
          ? 'must be ≥ 1'
          : null;
  return message === null ? null : { file: 'command line', path: '--repeats', value, message };
}

/** Runs a validated job, prints the table (or JSON) and the run folder; returns the exit code. */
export async function runAndReport(
  job: ValidatedJob,
  jobFile: string | null,
  flags: RunJobFlags,
  /** Sees the last run (the demo prints its next commands with its folder). */
  onRun?: (last: RunOutcome) => void,
  /** The BenchmarkJob this run reports to, in its pod. */
  runner?: RunnerLink | null,
): Promise<number> {
  const group = await runJob(job, jobFile, flags, runner);
  const last = group.runs[group.runs.length - 1] as RunOutcome;
  onRun?.(last);
  if (flags.json) {
    const document =
      group.dir === null
        ? runJsonOf(last)
        : {
            run_group_id: group.runGroupId,
            group_dir: group.dir,
            repeats: group.repeats,
            runs: group.runs.map((run) => ({
              repeat: run.repeat,
              ...runJsonOf(run),
              iteration_order: run.iterationOrder,
            })),
          };
    process.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
  } else {
    process.stdout.write(
      `\n${renderSummaryTable(last.summaries, { color: process.stdout.isTTY === true, width: process.stdout.columns ?? 160 })}\n`,
    );
    if (group.dir === null) {
      process.stdout.write(
        `\nrun ${last.runId}${last.status === 'complete' ? '' : ` (${last.status})`}\nrun folder: ${last.dir}\n` +
          `artifact_manifest_digest ${last.artifactManifestDigest}\n`,
      );
    } else {
      // The table above is the last repeat's; each repeat's own is in its folder.
      process.stdout.write(
        `\nrun group ${group.runGroupId}: ${group.runs.length} of ${group.repeats} repeats` +
          `${group.interrupted ? ' (interrupted)' : ''}; the table is repeat ${last.repeat + 1}'s\n`,
      );
      for (const run of group.runs) {
        process.stdout.write(
          `${repeatLabel(run)}: run ${run.runId} (${run.dir})${run.status === 'complete' ? '' : ` (${run.status})`}\n`,
        );
      }
      process.stdout.write(`group folder: ${group.dir}\n`);
    }
    for (const run of group.runs) if (run.upload?.ok) process.stdout.write(renderUpload(run.upload.result));
    if (last.warehouse?.ok) process.stdout.write(`warehouse: ${last.warehouse.path}\n`);
  }
  // Printed whatever else went wrong, --quiet or not: a failed run must say so and why.
  const failed = group.runs.filter((run) => run.status === 'failed');
  for (const run of failed) {
    const which = group.dir === null ? '' : ` (${repeatLabel(run)})`;
    process.stderr.write(
      `infermark: run failed${which}: ${scrubText(run.failure?.reason ?? 'no reason recorded')}\n` +
        `infermark: the run is sealed and kept (status failed): ${run.dir}\n`,
    );
  }
  for (const run of group.runs) {
    if (run.warehouse && !run.warehouse.ok) {
      process.stderr.write(
        `infermark: not ingested into the warehouse ${run.warehouse.path}: ${run.warehouse.error}\n` +
          `infermark: the run folder is kept; ingest it with: infermark warehouse ingest ${run.dir}\n`,
      );
    }
    if (run.upload && !run.upload.ok) {
      process.stderr.write(
        `infermark: upload failed: ${run.upload.error}\n` +
          `infermark: the run folder is kept; retry with: infermark upload ${run.dir}\n`,
      );
    }
  }
  await runner?.finish(runOutcome(group, runner.cancelReason()));
  if (group.interrupted) return ExitCode.interrupted;
  if (group.runs.some((run) => run.upload && !run.upload.ok)) return ExitCode.failure;
  if (group.runs.some((run) => run.warehouse && !run.warehouse.ok)) return ExitCode.failure;
  return failed.length > 0 ? ExitCode.failure : ExitCode.ok;
}

/** One run as `--json` prints it. */
function runJsonOf(run: RunOutcome): Record<string, unknown> {
  const upload = run.upload ? (run.upload.ok ? run.upload.result : { error: run.upload.error }) : null;
  return {
    run_id: run.runId,
    dir: run.dir,
    benchmark_case_id: run.benchmarkCaseId,
    artifact_manifest_digest: run.artifactManifestDigest,
    status: run.status,
    failure: run.failure,
    upload,
    warehouse: run.warehouse,
    iterations: run.summaries,
  };
}

/** `repeat 2/5` (1-based, as a person counts). */
function repeatLabel(run: Pick<RunResult, 'repeat' | 'repeats'>): string {
  return `repeat ${run.repeat + 1}/${run.repeats}`;
}

/** Runs a validated job with the terminal's live view; shared by `run` and `demo`. */
export async function runJob(
  job: ValidatedJob,
  jobFile: string | null,
  flags: RunJobFlags,
  runner?: RunnerLink | null,
  /** A plan that grows as the run goes (`search`): the job's own plan is not run. */
  extension?: PlanExtension,
): Promise<RunGroupResult<RunOutcome>> {
  const endpoint = resolveEndpoint(job, {
    ...(flags.url ? { url: flags.url } : {}),
    ...(flags.model ? { model: flags.model } : {}),
  });
  // Secrets in the URLs themselves (userinfo, `?code=`) are scrubbed from all output from here on.
  registerUrlSecrets(endpoint.baseUrl);
  if (job.spec.metricsUrl) registerUrlSecrets(job.spec.metricsUrl);
  for (const target of job.spec.telemetry ?? []) registerUrlSecrets(target.url);
  // spec.search is the search's: a run that ignored it would sweep the job's own plan instead, silently.
  if (job.spec.search !== undefined && extension === undefined) {
    throw new ValidationError([
      {
        path: 'spec.search',
        value: 'a search section',
        message:
          'is read by `infermark search job.yaml`; `infermark run` would not search (remove it to run the plan)',
      },
    ]);
  }
  const apiKey = await resolveApiKey(job.spec.apiKey, process.env, endpoint.apiFormat);
  // The price table is read before any load: a bad one costs nothing.
  const price = pricePerHour(job.spec, await loadJobPriceTable(job.spec, jobFile));
  const jobProvenance = jobFile ? await jobFileProvenance(jobFile) : null;
  refuseUnpinnedClaim(job, jobFile, jobProvenance);
  // Before any load or store is touched: a split run's listen address and token are checked first.
  const workers = workerPool(job, flags);
  // Storage is checked before any load is sent: missing credentials cost nothing (the URI was parsed with the job).
  const output = job.parsed.outputLocation
    ? await openStore({
        location: job.parsed.outputLocation,
        parameters: job.spec.outputLocation?.parameters ?? {},
        env: process.env,
      })
    : null;
  try {
    if (output) await preflightStore(output);
    // Each repeat is shipped and ingested as it ends: an interrupted group keeps them there too.
    const context = {
      job,
      jobFile,
      jobProvenance,
      endpoint,
      apiKey,
      flags,
      workers,
      runner,
      extension,
      price,
    };
    return await executeWithView(context, async (result) => {
      const upload = output ? await uploadAtEnd(result, output, job, flags) : null;
      const uploadedTo = upload?.ok && job.spec.outputLocation ? [job.spec.outputLocation.storageUri] : [];
      runner?.sealed({
        runId: result.runId,
        artifactManifestDigest: result.artifactManifestDigest,
        ...(upload?.ok && uploadedTo[0] ? { results: joinUri(uploadedTo[0], upload.result.prefix) } : {}),
      });
      return { ...result, upload, warehouse: await ingestAtEnd(result, uploadedTo, flags) };
    });
  } finally {
    await output?.close();
  }
}

export interface RunOutcome extends RunResult {
  /** The outputLocation upload: its result, or its error (the run itself is kept either way). */
  upload: { ok: true; result: UploadResult } | { ok: false; error: string } | null;
  /** The ingest into the warehouse: where, or its error; null with --no-warehouse. */
  warehouse: { ok: true; path: string } | { ok: false; path: string; error: string } | null;
}

/** Ingests the sealed run into the warehouse, unless told not to; a failure is reported, the run kept. */
async function ingestAtEnd(
  result: RunResult,
  rawUris: string[],
  flags: RunJobFlags,
): Promise<RunOutcome['warehouse']> {
  if (flags.warehouse === false) return null;
  const { Warehouse, defaultWarehousePath } = await import('../warehouse/warehouse.js');
  const { ingestRunFolder } = await import('../warehouse/ingest-run.js');
  const path = flags.warehouse ?? defaultWarehousePath();
  try {
    const warehouse = await Warehouse.open(path);
    try {
      await ingestRunFolder(warehouse, result.dir, { rawUris });
    } finally {
      warehouse.close();
    }
    return { ok: true, path };
  } catch (error) {
    return { ok: false, path, error: scrubText((error as Error).message) };
  }
}

async function uploadAtEnd(
  result: RunResult,
  store: ObjectStore,
  job: BenchmarkJob,
  flags: RunJobFlags,
): Promise<RunOutcome['upload']> {
  const quiet = flags.quiet === true || flags.json === true;
  // A repeat goes where it is locally: `[resultFolderName/]<run_group_id>/<run_id>/`.
  const folder = [job.spec.resultFolderName, result.repeats > 1 ? result.runGroupId : undefined]
    .filter(Boolean)
    .join('/');
  try {
    const uploaded = await uploadRunFolder(result.dir, store, {
      ...(folder ? { folder } : {}),
      onRetry: (key, attempt, error) => {
        if (!quiet)
          process.stderr.write(
            `infermark: retrying upload of ${key} (attempt ${attempt}): ${error.message}\n`,
          );
      },
    });
    return { ok: true, result: uploaded };
  } catch (error) {
    return { ok: false, error: scrubText((error as Error).message) };
  }
}

/**
 * A claim run's numbers may be published, so its methodology must be pinned: the
 * job file committed, unchanged, in git (performance-warehouse.md, "Claims cannot").
 */
function refuseUnpinnedClaim(
  job: BenchmarkJob,
  jobFile: string | null,
  provenance: JobFileProvenance | null,
): void {
  if (job.spec.intent !== 'claim') return;
  const why = !jobFile
    ? 'a claim run needs a job file (the command-line form cannot be pinned)'
    : !provenance?.git
      ? 'a claim run needs its job file in a git repository'
      : !provenance.git.committed_unchanged
        ? 'a claim run needs its job file committed with no uncommitted change'
        : null;
  if (why)
    throw new ValidationError([
      { ...(jobFile ? { file: jobFile } : {}), path: 'spec.intent', value: 'claim', message: why },
    ]);
}

/** `file:///x` + `folder/run` → `file:///x/folder/run`. */
function joinUri(base: string, prefix: string): string {
  return `${base.replace(/\/+$/, '')}/${prefix.replace(/^\/+/, '')}`;
}

/** What a run is executed with, once the job is resolved. */
interface RunContext {
  job: ValidatedJob;
  jobFile: string | null;
  jobProvenance: JobFileProvenance | null;
  endpoint: ResolvedEndpoint;
  apiKey: string | undefined;
  flags: RunJobFlags;
  workers: WorkerPool | undefined;
  runner: RunnerLink | null | undefined;
  extension: PlanExtension | undefined;
  price: HourlyPrice | null;
}

async function executeWithView(
  context: RunContext,
  afterRun: (result: RunResult) => Promise<RunOutcome>,
): Promise<RunGroupResult<RunOutcome>> {
  const { job, jobFile, jobProvenance, endpoint, apiKey, flags, workers, runner, extension, price } = context;
  const view = new ProgressView(process.stderr, flags.quiet === true || flags.json === true);
  // Listening before any load is sent: a taken port or a bad topology label costs nothing.
  const hot =
    flags.metricsPort === undefined
      ? null
      : await (
          await import('../telemetry/metrics-server.js')
        ).serveHotMetrics(job, jobFile, { port: flags.metricsPort, host: flags.metricsHost });
  if (hot) view.notice(`hot metrics: ${hot.url}`);
  const interrupt = new AbortController();
  let total = 0;
  const onSigint = (): void => {
    if (interrupt.signal.aborted) process.exit(ExitCode.interrupted);
    view.notice(
      `interrupted: finishing the current iteration${job.spec.repeats > 1 ? '; no later repeat starts' : ''} (Ctrl-C again to exit now)`,
    );
    interrupt.abort();
  };
  const viewEvents: RunEvents = {
    onRunStart: ({ runId, dir, plans, repeat, repeats }) => {
      total = plans.length;
      view.notice(
        `${repeats > 1 ? `${repeatLabel({ repeat, repeats })}: ` : ''}` +
          `run ${runId}: ${plans.length} iterations against ${endpoint.baseUrl} (${endpoint.model}); folder ${dir}`,
      );
    },
    onProgress: (plan, snapshot) => view.update(plan, total, snapshot),
    onIterationEnd: (plan, summary) => view.done(plan, total, summary),
    onNotice: (message) => view.notice(message),
  };
  const events = runner ? bothEvents(viewEvents, runner.events) : viewEvents;
  // The BenchmarkJob's spec.cancel ends the run as the first Ctrl-C does.
  const onCancel = (): void => {
    if (interrupt.signal.aborted) return;
    view.notice('cancelled (spec.cancel is true): finishing the current iteration');
    interrupt.abort();
  };
  runner?.cancel.addEventListener('abort', onCancel, { once: true });
  if (runner?.cancel.aborted) onCancel();
  process.on('SIGINT', onSigint);
  // A service manager's stop (SIGTERM) or a closed terminal (SIGHUP) ends the run as Ctrl-C does.
  process.on('SIGTERM', onSigint);
  process.on('SIGHUP', onSigint);
  try {
    // GET /v1/models is OpenAI's list (and an unsigned request to OCI): other formats are not checked.
    if (job.spec.preflight !== false && endpoint.apiFormat === 'openai') {
      await preflightModel(endpoint, apiKey, jobFile, flags, view, interrupt.signal);
    }
    return await executeRunGroup(
      {
        job,
        jobFile,
        jobProvenance,
        endpoint,
        ...(apiKey ? { apiKey } : {}),
        outRoot: flags.out,
        signal: interrupt.signal,
        ...(runner ? { kubernetes: runner.identity } : {}),
        ...(extension ? { extension } : {}),
        price,
        events: hot ? hot.events(events) : events,
        // A split run's records are in its workers: it feeds their totals in.
        ...(hot ? { hot: hot.shards } : {}),
      },
      afterRun,
      workers,
    );
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    process.off('SIGHUP', onSigint);
    runner?.cancel.removeEventListener('abort', onCancel);
    await hot?.close();
  }
}

/**
 * The workers the job asks for (`auto`: one per core); none for one. Local processes, or with
 * `--coordinator-listen` workers started elsewhere (shard pods) that reach the coordinator
 * there with shard tokens derived from INFERMARK_COORDINATOR_TOKEN.
 */
function workerPool(job: ValidatedJob, flags: RunJobFlags): WorkerPool | undefined {
  const { workers } = job.spec;
  const count = workers === 'auto' ? availableParallelism() : (workers ?? 1);
  if (flags.coordinatorListen === undefined) return count > 1 ? { count, launcher: localWorkers } : undefined;
  const listen = parseListen(flags.coordinatorListen);
  if (count < 2 || workers === 'auto')
    throw new ValidationError([
      {
        file: 'command line',
        path: '--coordinator-listen',
        value: flags.coordinatorListen,
        message: `needs a split run of a known size: --workers N (N from 2), got ${String(workers ?? 1)}`,
      },
    ]);
  const token = process.env[COORDINATOR_TOKEN_ENV];
  // Read once and kept out of sight: no child of this process, log or error can carry it.
  delete process.env[COORDINATOR_TOKEN_ENV];
  if (!token || token.length < 16)
    throw new InfermarkError(
      'E_COORDINATOR_TOKEN',
      `--coordinator-listen needs the run's coordinator token (16 characters or more) in ${COORDINATOR_TOKEN_ENV}; the shards' tokens derive from it`,
      ExitCode.badInput,
    );
  registerSecret(token);
  return { count, launcher: externalWorkers(), listen, token };
}

/** `HOST:PORT` (`[::]:7700` for IPv6); a bad one is refused as a bad flag. */
function parseListen(text: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text.trim());
  const port = match ? Number(match[3]) : NaN;
  if (!match || port < 1 || port > 65535)
    throw new ValidationError([
      {
        file: 'command line',
        path: '--coordinator-listen',
        value: text,
        message: 'expected HOST:PORT, e.g. 0.0.0.0:7700 or [::]:7700 (port 1 to 65535)',
      },
    ]);
  return { host: (match[1] ?? match[2]) as string, port };
}

/**
 * Refuses a model the server does not list (exit 2: the name given is wrong, and
 * nothing was sent or recorded); a server with no list gets a notice and the run.
 */
async function preflightModel(
  endpoint: ResolvedEndpoint,
  apiKey: string | undefined,
  jobFile: string | null,
  flags: RunJobFlags,
  view: ProgressView,
  signal: AbortSignal,
): Promise<void> {
  const result = await checkModelServed(
    endpoint.baseUrl,
    endpoint.model,
    apiKey ? { authorization: `Bearer ${apiKey}` } : {},
    { signal },
  );
  if (result.outcome === 'served') return;
  if (result.outcome === 'unchecked') {
    view.notice(`model not checked at ${result.url}: ${result.reason}`);
    return;
  }
  const fromFlag = flags.model !== undefined || jobFile === null;
  throw new ValidationError([
    {
      ...(fromFlag ? { file: 'command line' } : { file: jobFile }),
      path: fromFlag ? '--model' : 'spec.endpoint.endpoint.modelName',
      value: endpoint.model,
      message: notServedMessage(result, endpoint.model),
    },
  ]);
}

/** Flags → the command-line job; numbers are passed as written when they do not parse, so errors show them. */
function cliJobOptions(flags: RunFlags): CliJobOptions {
  const options: Record<string, unknown> = {
    url: flags.url ?? '',
    model: flags.model ?? '',
    scenarios: flags.scenario,
    concurrency: list(flags.concurrency),
    rates: list(flags.rate),
    task: flags.task,
    maxRequests: num(flags.maxRequests),
    maxTimeMinutes: num(flags.maxTime),
    seed: num(flags.seed),
    arrival: flags.arrival,
    burstiness: num(flags.burstiness),
    trace: flags.trace,
    warmupRequests: num(flags.warmupRequests),
    warmupSeconds: num(flags.warmupSeconds),
    slos: flags.slo,
    tokenizer: flags.tokenizer,
    stream: flags.stream,
    timeoutSeconds: num(flags.timeout),
    ignoreEos: flags.ignoreEos,
    api: flags.api,
    apiFormat: flags.apiFormat,
    ociAuth: flags.ociAuth,
    ociConfigFile: flags.ociConfigFile,
    ociProfile: flags.ociProfile,
    ociCompartment: flags.ociCompartment,
    apiKeyEnv: flags.apiKeyEnv,
    apiKeyFile: flags.apiKeyFile,
    metricsUrl: flags.metricsUrl,
    metricsIntervalSeconds: num(flags.metricsInterval),
    telemetry: flags.telemetry,
    datasetFile: flags.dataset,
    prefixTokens: num(flags.prefixTokens),
    prefixGroups: num(flags.prefixGroups),
    repeats: num(flags.repeats),
    workers: flags.workers === 'auto' ? 'auto' : num(flags.workers),
    maxErrorRate: num(flags.maxErrorRate),
    preflight: flags.preflight === false ? false : undefined,
    params: flags.param ? Object.fromEntries(flags.param.map(splitParam)) : undefined,
  };
  for (const key of Object.keys(options)) if (options[key] === undefined) delete options[key];
  return options as unknown as CliJobOptions;
}

function num(text: string | undefined): number | string | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  return text.trim() !== '' && Number.isFinite(value) ? value : text;
}

function list(text: string | undefined): Array<number | string> | undefined {
  return text === undefined ? undefined : text.split(',').map((part) => num(part.trim()) as number | string);
}

function splitParam(text: string): [string, string] {
  const at = text.indexOf('=');
  return at < 0 ? [text, ''] : [text.slice(0, at), text.slice(at + 1)];
}
