/**
 * A split run's merged folder (docs/shards.md): from the sealed shard folders under
 * `<run>/shards/<iii>/`, writes `<run>/run.json`, each iteration's records (the union,
 * on the coordinator's clock, each line saying its shard and shard line), workload,
 * scrapes (the coordinator's own, kept as it wrote them, or, in older runs, one shard's)
 * and a summary recomputed from the records, the run's summary.json, and seals
 * it so the manifest covers every shard file too. A shard lost for an iteration is
 * named there, its finished records kept, and the run is sealed `failed` (incomplete).
 * A folder already sealed is never rewritten: merging it again returns what it holds
 * when it verifies, and is refused when it does not.
 */
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ExitCode, InfermarkError } from '../base/errors.js';
import { MANIFEST_DIGEST_FILE, MANIFEST_FILE, sealIteration, sealRun } from '../evidence/manifest.js';
import type { KubernetesIdentity } from '../evidence/kubernetes-identity.js';
import { RunFolder } from '../evidence/run-folder.js';
import { TELEMETRY_DIR } from '../telemetry/scrape-files.js';
import { verifyRunFolder } from '../evidence/verify.js';
import type { IterationSummary } from '../metrics/iteration-summary.js';
import type { FailFastCause } from './fail-fast.js';
import { copyShardScrapes, setScrapeWindows } from './merge-scrapes.js';
import { mergeIterationOf, type LostShard, type MergeIterationOptions } from './merge-iteration.js';
import { DEFAULT_MAX_ERROR_RATE, judgeRun, type RunFailure, type RunStatus } from './run-status.js';
import { mergeRefused, readShardFolders, type ShardFolder, type ShardRunJson } from './shard-folders.js';

export type MergeOptions = MergeIterationOptions & {
  /** The coordinator's pod (docs/k8s.md): the merged run.json records it instead of shard 0's. */
  kubernetes?: KubernetesIdentity | null;
};

/** What `infermark merge` prints (RunResult's fields that a merge knows). */
export interface MergeResult {
  runId: string;
  dir: string;
  artifactManifestDigest: string;
  benchmarkCaseId: string;
  /** In plan order. */
  summaries: IterationSummary[];
  status: RunStatus;
  failure: RunFailure | null;
  interrupted: boolean;
  /** The folder was already merged and sealed, and verifies: nothing was written. */
  alreadyMerged: boolean;
}

/** The merged run.json's entry for one shard. */
export interface ShardEntry {
  index: number;
  of: number;
  run_id: string | null;
  dir: string;
  host: string | null;
  pid: number | null;
  clock_offset_us: number | null;
  clock_error_bound_us: number | null;
  /** The shard folder's sealed status, or `lost` when it is not sealed. */
  status: RunStatus | 'lost';
}

/** Merges the coordinated run folder `dir` from its shards; see the module header. */
export async function mergeRunFolder(dir: string, options: MergeOptions = {}): Promise<MergeResult> {
  const info = await stat(dir).catch(() => null);
  if (!info?.isDirectory())
    throw new InfermarkError(
      'E_NOT_A_RUN',
      `${dir}: ${info ? 'not a folder' : 'no such folder'} (expected a split run's folder)`,
      ExitCode.badInput,
    );
  if (await exists(join(dir, MANIFEST_DIGEST_FILE))) return alreadyMerged(dir);
  const shards = await readShardFolders(dir, options);
  const reference = shards.find((s) => s.run !== null)?.run as ShardRunJson;
  const runId = reference.shard.run_id;
  // The coordinator scraped the run into this folder: its scrapes are evidence, kept as they are.
  const scrapedHere = shards.some((s) => s.run?.shard.scraped_by === 'coordinator');
  const started = new Set(shards.flatMap((s) => s.iterations));
  // What a merge cut short left (never a shard's file): the merge writes it again whole.
  for (const path of ['summary.json', MANIFEST_FILE, 'run.json'])
    await rm(join(dir, path), { recursive: true, force: true });
  await clearIterations(dir, scrapedHere ? started : new Set());
  const folder = await RunFolder.create(dir);
  await folder.writeJson('run.json', mergedRunJson(reference, shards, options));

  const summaries: IterationSummary[] = [];
  const lostIn: { iteration: number; lost: LostShard[] }[] = [];
  for (const plan of reference.plan) {
    if (!started.has(plan.index)) continue;
    const merged = await mergeIterationOf(dir, shards, plan.index, options);
    const iterationDir = RunFolder.iterationDir(plan.index).split('\\').join('/');
    const lines = await folder.openLines(`${iterationDir}/requests.jsonl`);
    for (const record of merged.records) lines.write(record);
    await lines.close();
    if (merged.workload) await folder.writeJson(`${iterationDir}/workload.json`, merged.workload);
    const from = merged.scrapesFrom;
    if (scrapedHere) await setScrapeWindows(folder, iterationDir, merged.window);
    else if (from?.run)
      await copyShardScrapes(
        folder,
        iterationDir,
        join(from.dir, iterationDir),
        from.run.shard.clock_offset_us,
        merged.window,
      );
    await folder.writeJson(`${iterationDir}/summary.json`, merged.summary);
    await sealIteration(folder, runId, plan.index);
    summaries.push(merged.summary);
    if (merged.lost.length > 0) lostIn.push({ iteration: plan.index, lost: merged.lost });
  }

  const interrupted = shards.some((s) => s.sealedStatus === 'interrupted');
  const failFast = mergedFailFast(shards);
  const { status, failure } = judgeRun(summaries, {
    interrupted,
    failFast,
    maxErrorRate: reference.job.spec.maxErrorRate ?? DEFAULT_MAX_ERROR_RATE,
    incomplete: incompleteReason(shards, lostIn, options),
  });
  const benchmarkCaseId = reference.benchmark_case_id ?? '';
  await folder.writeJson('summary.json', {
    run_id: runId,
    benchmark_case_id: benchmarkCaseId,
    workload_spec_digest: reference.workload_spec_digest,
    status,
    failure,
    iterations_planned: reference.plan.length,
    iterations_completed: summaries.filter((s) => s.ended_by !== 'interrupted').length,
    iterations: summaries,
  });
  const artifactManifestDigest = await sealRun(folder, runId, status);
  return {
    runId,
    dir,
    artifactManifestDigest,
    benchmarkCaseId,
    summaries,
    status,
    failure,
    interrupted: status === 'interrupted',
    alreadyMerged: false,
  };
}

/**
 * The merged run.json: the lowest shard's, as the coordinated run (its id, its clock
 * anchor on the coordinator's clock), with every shard listed instead of its own block.
 */
function mergedRunJson(
  reference: ShardRunJson,
  shards: readonly ShardFolder[],
  options: MergeOptions,
): Record<string, unknown> {
  const { shard, ...rest } = reference;
  const offsetUs = shard.clock_offset_us;
  return {
    ...rest,
    run_id: shard.run_id,
    // A shard outside a run group is a group of one under its own id: the merged run is the group.
    run_group_id:
      reference.run_group_id === undefined || reference.run_group_id === reference.run_id
        ? shard.run_id
        : reference.run_group_id,
    ...(reference.clock
      ? { clock: { ...reference.clock, anchor_mono_us: reference.clock.anchor_mono_us - offsetUs } }
      : {}),
    shards: shards.map(shardEntry),
    ...(options.kubernetes ? { kubernetes: options.kubernetes } : {}),
  };
}

function shardEntry(s: ShardFolder): ShardEntry {
  const block = s.run?.shard;
  return {
    index: s.index,
    of: s.of,
    run_id: s.run?.run_id ?? null,
    dir: s.relativeDir,
    host: block?.host ?? null,
    pid: block?.pid ?? null,
    clock_offset_us: block?.clock_offset_us ?? null,
    clock_error_bound_us: block?.clock_error_bound_us ?? null,
    status: s.sealedStatus ?? 'lost',
  };
}

/** Why the merged run is not whole: a shard lost in an iteration, a shard folder unsealed, or a shard stopped. */
function incompleteReason(
  shards: readonly ShardFolder[],
  lostIn: readonly { iteration: number; lost: LostShard[] }[],
  options: MergeOptions,
): string | null {
  const first = lostIn[0];
  if (first) {
    const named = first.lost.map((l) => `shard ${l.index} lost (${l.reason})`).join(', ');
    return `iteration ${String(first.iteration).padStart(3, '0')} is incomplete: ${named}`;
  }
  const unsealed = shards.find((s) => s.sealedStatus === null);
  if (unsealed)
    return `shard ${unsealed.index} lost (${options.lostReasons?.get(unsealed.index) ?? `${unsealed.relativeDir} is not sealed`})`;
  const stopped = shards.find((s) => s.failure?.kind === 'incomplete');
  return stopped ? `shard ${stopped.index}: ${stopped.failure?.reason ?? 'incomplete'}` : null;
}

/**
 * A folder already merged and sealed is evidence: never rewritten. When it verifies, the
 * merge is done and its result is returned; when it does not, the merge is refused.
 */
async function alreadyMerged(dir: string): Promise<MergeResult> {
  const runJson = JSON.parse(await readFile(join(dir, 'run.json'), 'utf8').catch(() => '{}')) as {
    shards?: unknown;
  };
  if (!Array.isArray(runJson.shards))
    throw mergeRefused(dir, 'it is a sealed run with no shards (not a split run: nothing to merge)');
  const report = await verifyRunFolder(dir);
  if (report.status === 'corrupt') {
    const first = report.problems
      .slice(0, 3)
      .map((p) => `${p.path}: ${p.problem}`)
      .join('; ');
    throw mergeRefused(
      dir,
      `it is already merged and sealed, and no longer verifies (${first}); see: infermark verify ${dir}`,
    );
  }
  const summary = JSON.parse(await readFile(join(dir, 'summary.json'), 'utf8')) as {
    run_id: string;
    benchmark_case_id: string;
    status: RunStatus;
    failure: RunFailure | null;
    iterations: IterationSummary[];
  };
  return {
    runId: summary.run_id,
    dir,
    artifactManifestDigest: report.artifact_manifest_digest as string,
    benchmarkCaseId: summary.benchmark_case_id,
    summaries: summary.iterations,
    status: summary.status,
    failure: summary.failure,
    interrupted: summary.status === 'interrupted',
    alreadyMerged: true,
  };
}

/**
 * Removes what a merge writes in `iterations/`, all but the telemetry of the iterations in
 * `keepTelemetry` (the coordinator's scrapes of iterations a shard ran; of one that none
 * ran, as when Ctrl-C came while its start samples were taken, nothing is kept).
 */
async function clearIterations(dir: string, keepTelemetry: ReadonlySet<number>): Promise<void> {
  const iterations = join(dir, 'iterations');
  for (const name of await readdir(iterations).catch(() => [] as string[])) {
    const index = /^\d{3,}$/.test(name) ? Number(name) : null;
    if (index === null || !keepTelemetry.has(index)) {
      await rm(join(iterations, name), { recursive: true, force: true });
      continue;
    }
    for (const entry of await readdir(join(iterations, name)))
      if (entry !== TELEMETRY_DIR) await rm(join(iterations, name, entry), { recursive: true, force: true });
  }
}

async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null)) !== null;
}

/**
 * The run's fail-fast cause: the lowest shard's, counting every shard's failures of that
 * iteration and class (each shard's cause is its own part of them when their watches
 * tripped together, docs/shards.md).
 */
function mergedFailFast(shards: readonly ShardFolder[]): FailFastCause | null {
  const causes = shards.flatMap((s) => (s.failure?.fail_fast ? [s.failure.fail_fast] : []));
  const first = causes[0];
  if (!first) return null;
  const alike = causes.filter((c) => c.iteration === first.iteration && c.error_class === first.error_class);
  return { ...first, requests: alike.reduce((n, c) => n + c.requests, 0) };
}
