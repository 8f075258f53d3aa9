/**
 * The shard folders of a coordinated run (`<run>/shards/<iii>/`, docs/shards.md), read
 * for a merge: each shard's run.json and seal, checked to be parts of one run (same
 * coordinated run id, shard count and benchmark case, every index present), and each
 * iteration's whole JSON lines with their line numbers. A folder that disagrees with the
 * others, or a shard that is missing, is refused: merging them would not be one run.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ExitCode, InfermarkError } from '../base/errors.js';
import { MANIFEST_DIGEST_FILE, MANIFEST_FILE, type RunManifest } from '../evidence/manifest.js';
import { RunFolder } from '../evidence/run-folder.js';
import { verifyRunFolder } from '../evidence/verify.js';
import type { IterationSummary } from '../metrics/iteration-summary.js';
import type { RequestRecord } from '../metrics/record.js';
import type { IterationPlan } from '../plan/plan.js';
import type { BenchmarkJob } from '../spec/job-schema.js';
import { shiftRecord } from './merge-shards.js';
import type { RunFailure } from './run-status.js';

export const SHARDS_DIR = 'shards';

/** A shard folder's name: `001`. */
export function shardDirName(index: number): string {
  return String(index).padStart(3, '0');
}

/** run.json's `shard` block, as a shard writes it (engine/run.ts). */
export interface ShardBlock {
  run_id: string;
  index: number;
  of: number;
  host: string;
  pid: number;
  clock_offset_us: number;
  clock_error_bound_us: number;
  /** The coordinator scraped the telemetry targets for the whole run; absent: this shard scraped them. */
  scraped_by?: 'coordinator';
}

/** The parts of a shard's run.json a merge reads; the rest is carried over as it is. */
export interface ShardRunJson {
  run_id: string;
  run_group_id?: string;
  benchmark_case_id?: string;
  workload_spec_digest?: string;
  shard: ShardBlock;
  plan: IterationPlan[];
  job: BenchmarkJob;
  clock?: { anchor_wall_ms: number; anchor_mono_us: number; unit: string };
  [field: string]: unknown;
}

export interface ShardFolder {
  index: number;
  of: number;
  /** Absolute. */
  dir: string;
  /** Relative to the merged run folder: `shards/001`. */
  relativeDir: string;
  /** Null when the folder has no readable run.json (a worker lost before it wrote one). */
  run: ShardRunJson | null;
  /** The manifest's status when the folder is sealed (manifest.sha256 written), else null. */
  sealedStatus: RunManifest['status'] | null;
  /** The failure its summary.json records, when it has one. */
  failure: RunFailure | null;
  /** Plan indexes of the iterations it started (those with a folder), ascending. */
  iterations: number[];
}

/** A merged record: the shard's record on the coordinator's clock, and where it came from. */
export type MergedRecord = RequestRecord & { shard_index: number; shard_line: number };

/** What one shard holds of one iteration. */
export interface ShardIteration {
  /** The iteration's manifest is written: the shard finished it. */
  sealed: boolean;
  /** Whole lines only (a line cut by a kill is left out), on the coordinator's clock. */
  records: MergedRecord[];
  summary: IterationSummary | null;
  workload: WorkloadFile | null;
}

/** An iteration's workload.json. */
export interface WorkloadFile {
  description: unknown;
  spec_digest: string;
  items: number;
  items_digest: string;
}

export interface ReadShardsOptions {
  /** Shards the coordinator knows to be lost, with why: one with no folder or run.json is then merged as lost. */
  lostReasons?: ReadonlyMap<number, string>;
  /**
   * The run is still going (the coordinator's merge of one iteration): a shard that has
   * finished may be sealing its run, or shipping its seal, at this very moment, so only its
   * iterations must verify; its run-level files are checked by the merge at the end.
   */
  during?: boolean;
}

/** A merge refused: what is wrong, naming the folder; exit 2 (the folder, not the tool, is at fault). */
export function mergeRefused(dir: string, why: string): InfermarkError {
  return new InfermarkError('E_MERGE_REFUSED', `${dir}: cannot merge: ${why}`, ExitCode.badInput);
}

/**
 * Reads and checks every shard folder of the coordinated run folder `dir`, ordered by
 * index. Throws (mergeRefused) when there are none, when one is missing, or when they
 * are not parts of one run.
 */
export async function readShardFolders(dir: string, options: ReadShardsOptions = {}): Promise<ShardFolder[]> {
  const lostReasons = options.lostReasons ?? new Map<number, string>();
  const shardsDir = join(dir, SHARDS_DIR);
  const entries = await readdir(shardsDir, { withFileTypes: true }).catch(() => null);
  if (entries === null) throw mergeRefused(dir, `no ${SHARDS_DIR}/ folder (not a split run's folder)`);
  const names = entries.filter((e) => e.isDirectory()).map((e) => e.name);
  const strange = names.filter((name) => !/^\d{3}$/.test(name));
  if (strange.length > 0)
    throw mergeRefused(dir, `${SHARDS_DIR}/${strange[0]}: not a shard folder name (expected 000, 001, ...)`);
  const folders: ShardFolder[] = [];
  for (const name of names.sort())
    folders.push(await readShardFolder(dir, Number(name), options.during ?? false));
  const present = folders.filter((f): f is ShardFolder & { run: ShardRunJson } => f.run !== null);
  if (present.length === 0) throw mergeRefused(dir, `no shard folder under ${SHARDS_DIR}/ holds a run.json`);
  const first = present[0]!;
  for (const f of present) {
    const problem = disagreement(first, f);
    if (problem) throw mergeRefused(dir, problem);
  }
  const of = first.run.shard.of;
  const byIndex = new Map(folders.map((f) => [f.index, f]));
  const whole: ShardFolder[] = [];
  for (let index = 0; index < of; index++) {
    const folder = byIndex.get(index);
    if (folder?.run) {
      whole.push(folder);
      continue;
    }
    // A worker lost before it wrote its run.json sent nothing that could be kept: merged as
    // lost when the coordinator says so, else the folder is not the whole run.
    if (!lostReasons.has(index)) {
      const where = `${SHARDS_DIR}/${shardDirName(index)}`;
      throw mergeRefused(
        dir,
        folder
          ? `${where}/run.json is missing or unreadable (shard ${index} of ${of})`
          : `${where}: shard ${index} of ${of} is missing`,
      );
    }
    whole.push(folder ?? { ...emptyShard(dir, index), of });
  }
  const extra = folders.find((f) => f.index >= of);
  if (extra)
    throw mergeRefused(dir, `${extra.relativeDir}: shard ${extra.index}, but the run has ${of} shards`);
  return whole.map((f) => ({ ...f, of }));
}

/** Why shard `f` is not a part of the same run as `first`, or null. */
function disagreement(
  first: ShardFolder & { run: ShardRunJson },
  f: ShardFolder & { run: ShardRunJson },
): string | null {
  const a = first.run;
  const b = f.run;
  if (b.shard.index !== f.index)
    return `${f.relativeDir}/run.json: shard.index is ${b.shard.index}, but the folder is shard ${f.index}`;
  if (b.shard.run_id !== a.shard.run_id)
    return `${f.relativeDir}/run.json: shard.run_id is ${b.shard.run_id}, but ${first.relativeDir} says ${a.shard.run_id} (shards of different runs)`;
  if (b.shard.of !== a.shard.of)
    return `${f.relativeDir}/run.json: shard.of is ${b.shard.of}, but ${first.relativeDir} says ${a.shard.of} (shards cut for different counts)`;
  if (b.benchmark_case_id !== a.benchmark_case_id || b.workload_spec_digest !== a.workload_spec_digest)
    return `${f.relativeDir}/run.json: benchmark_case_id/workload_spec_digest differ from ${first.relativeDir}'s (shards of different jobs or workloads)`;
  return null;
}

function emptyShard(dir: string, index: number): ShardFolder {
  const relativeDir = `${SHARDS_DIR}/${shardDirName(index)}`;
  return {
    index,
    of: 0,
    dir: join(dir, relativeDir),
    relativeDir,
    run: null,
    sealedStatus: null,
    failure: null,
    iterations: [],
  };
}

async function readShardFolder(dir: string, index: number, during: boolean): Promise<ShardFolder> {
  const folder = emptyShard(dir, index);
  const run = await readJson<ShardRunJson>(join(folder.dir, 'run.json'));
  if (run === null) return folder;
  if (typeof run.shard !== 'object' || run.shard === null || !Array.isArray(run.plan))
    throw mergeRefused(
      dir,
      `${folder.relativeDir}/run.json: no shard block or plan (not a shard's run folder)`,
    );
  for (const field of ['index', 'of', 'clock_offset_us'] as const) {
    if (!Number.isFinite(run.shard[field]))
      throw mergeRefused(
        dir,
        `${folder.relativeDir}/run.json: shard.${field} is ${JSON.stringify(run.shard[field])}, expected a number`,
      );
  }
  if (typeof run.shard.run_id !== 'string' || run.shard.run_id === '')
    throw mergeRefused(dir, `${folder.relativeDir}/run.json: shard.run_id is missing`);
  // A shard changed after it was sealed (or a cut one whose whole lines were altered) must
  // not be laundered into a new seal: the merge takes only what still matches its evidence.
  const integrity = await verifyRunFolder(folder.dir);
  const problems = during
    ? integrity.problems.filter((p) => p.path.startsWith('iterations/'))
    : integrity.problems;
  if (integrity.status === 'corrupt' && problems.length > 0) {
    const first = problems[0];
    throw mergeRefused(
      dir,
      `${folder.relativeDir} does not verify${first ? ` (${folder.relativeDir}/${first.path}: ${first.problem})` : ''}`,
    );
  }
  const sealed = await exists(join(folder.dir, MANIFEST_DIGEST_FILE));
  const manifest = sealed ? await readJson<RunManifest>(join(folder.dir, MANIFEST_FILE)) : null;
  const summary = await readJson<{ failure?: RunFailure | null }>(join(folder.dir, 'summary.json'));
  const iterationEntries = await readdir(join(folder.dir, 'iterations'), { withFileTypes: true }).catch(
    () => [],
  );
  return {
    ...folder,
    of: run.shard.of,
    run,
    sealedStatus: manifest?.status ?? null,
    failure: summary?.failure ?? null,
    iterations: iterationEntries
      .filter((e) => e.isDirectory() && /^\d{3,}$/.test(e.name))
      .map((e) => Number(e.name))
      .sort((x, y) => x - y),
  };
}

/** Shard `folder`'s iteration `iteration`, its records on the coordinator's clock; null when it has none. */
export async function readShardIteration(
  folder: ShardFolder,
  iteration: number,
): Promise<ShardIteration | null> {
  if (folder.run === null || !folder.iterations.includes(iteration)) return null;
  const relative = RunFolder.iterationDir(iteration);
  const base = join(folder.dir, relative);
  const offsetUs = folder.run.shard.clock_offset_us;
  const path = `${folder.relativeDir}/${relative.split('\\').join('/')}/requests.jsonl`;
  const text = await readFile(join(base, 'requests.jsonl'), 'utf8').catch(() => '');
  const lines = text.split('\n');
  // The last piece has no newline: empty when the file ends whole, else a line a kill cut.
  lines.pop();
  const records: MergedRecord[] = [];
  for (const [i, line] of lines.entries()) {
    let record: RequestRecord;
    try {
      record = JSON.parse(line) as RequestRecord;
    } catch {
      throw mergeRefused(folder.dir, `${path}: line ${i + 1} is not a whole JSON record`);
    }
    records.push({ ...shiftRecord(record, -offsetUs), shard_index: folder.index, shard_line: i + 1 });
  }
  return {
    sealed: await exists(join(base, MANIFEST_FILE)),
    records,
    summary: await readJson<IterationSummary>(join(base, 'summary.json')),
    workload: await readJson<WorkloadFile>(join(base, 'workload.json')),
  };
}

async function readJson<T>(path: string): Promise<T | null> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return null;
  }
}

async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null)) !== null;
}
