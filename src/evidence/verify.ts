/**
 * `infermark verify RUN_DIR`: says exactly what in a run folder is complete,
 * partial or corrupt. A sealed run is checked against its manifest (every byte of
 * every artifact, nothing missing, nothing added, the manifest against
 * manifest.sha256). An unsealed run (killed before it ended) is checked iteration
 * by iteration: sealed iterations against their own manifests, the cut one by
 * reading its records, each of which must be a whole JSON line.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ExitCode, InfermarkError } from '../base/errors.js';
import { canonicalJson, digestFile, sha256, type FileDigests } from '../base/digest.js';
import {
  MANIFEST_DIGEST_FILE,
  MANIFEST_FILE,
  isSafeArtifactPath,
  isTempFile,
  listFiles,
  type IterationManifest,
  type ManifestArtifact,
  type RunManifest,
} from './manifest.js';

export type Integrity = 'complete' | 'partial' | 'corrupt';

export interface VerifyProblem {
  /** The file, relative to the run folder. */
  path: string;
  problem: string;
}

export interface IterationVerdict {
  iteration: number;
  status: Integrity;
  sealed: boolean;
  /** Whole request records in requests.jsonl. */
  records: number;
  /** From the iteration's summary.json, when it has one. */
  ended_by: string | null;
  detail: string;
}

export interface VerifyReport {
  run_dir: string;
  run_id: string | null;
  status: Integrity;
  sealed: boolean;
  /**
   * The manifest's own status when sealed: `complete`, `interrupted`, or `failed` (the
   * run failed, and its evidence is whole: such a folder verifies `complete`).
   */
  run_status: string | null;
  artifact_manifest_digest: string | null;
  artifacts_checked: number;
  iterations_planned: number | null;
  iterations: IterationVerdict[];
  problems: VerifyProblem[];
  /** What is unusual but not corruption (an unfinished seal). */
  notes: string[];
}

const ITERATION_DIR = /^iterations\/(\d+)\//;

/** Run statuses whose folder holds everything the run did: a failed run is evidence of its failure. */
const WHOLE_RUN_STATUSES: ReadonlySet<string> = new Set(['complete', 'failed']);

export async function verifyRunFolder(dir: string): Promise<VerifyReport> {
  const info = await stat(dir).catch(() => null);
  if (!info?.isDirectory()) {
    throw new InfermarkError(
      'E_NOT_A_RUN',
      `${dir}: ${info ? 'not a folder' : 'no such folder'} (expected a run folder)`,
      ExitCode.badInput,
    );
  }
  // A leftover temp file of an atomic write that a kill interrupted is not an artifact.
  const files = (await listFiles(dir)).filter((path) => !isTempFile(path));
  const checker = new ArtifactChecker(dir);
  const report: VerifyReport = {
    run_dir: dir,
    run_id: null,
    status: 'complete',
    sealed: false,
    run_status: null,
    artifact_manifest_digest: null,
    artifacts_checked: 0,
    iterations_planned: null,
    iterations: [],
    problems: [],
    notes: [],
  };
  const runJson = await readJson<{ run_id?: string; plan?: unknown[] }>(join(dir, 'run.json'));
  if (runJson.ok) {
    report.run_id = runJson.value.run_id ?? null;
    report.iterations_planned = Array.isArray(runJson.value.plan) ? runJson.value.plan.length : null;
  } else if (files.length === 0 && runJson.problem === 'missing') {
    // run.json is the first file a run writes: a folder with nothing in it was stopped
    // before it wrote anything, which is unfinished, not damaged.
    report.notes.push('the run stopped before it wrote run.json (the folder is empty)');
  } else {
    report.problems.push({ path: 'run.json', problem: runJson.problem });
  }

  const sealedPaths = new Set<string>();
  const notes: string[] = [];
  if (files.includes(MANIFEST_FILE)) {
    const manifest = await checkRunManifest(dir, report);
    // manifest.json is written whole before manifest.sha256: without the latter, sealing was cut.
    report.sealed = files.includes(MANIFEST_DIGEST_FILE);
    if (!report.sealed) notes.push('sealing did not finish (manifest.sha256 is missing)');
    if (manifest) {
      report.run_id ??= manifest.run_id;
      report.run_status = manifest.status;
      if (manifest.status === 'failed') notes.push('the run failed (its summary.json says why)');
      for (const artifact of manifest.artifacts) {
        sealedPaths.add(artifact.path);
        await checker.check(artifact, report.problems);
      }
      for (const path of files) {
        if (!sealedPaths.has(path) && path !== MANIFEST_FILE && path !== MANIFEST_DIGEST_FILE) {
          report.problems.push({ path, problem: 'not in the manifest (added after the run was sealed)' });
        }
      }
      checkCompleteness(manifest, files, report);
      blameSealPair(report);
    }
  } else if (files.includes(MANIFEST_DIGEST_FILE)) {
    report.problems.push({
      path: MANIFEST_FILE,
      problem: 'missing, but manifest.sha256 says the run was sealed',
    });
  } else if (files.includes('summary.json')) {
    notes.push(
      'the run ended (summary.json) but is not sealed: killed while sealing, or its manifest was removed',
    );
  }

  const byIteration = new Map<number, string[]>();
  for (const path of files) {
    const match = ITERATION_DIR.exec(path);
    if (!match) continue;
    const index = Number(match[1]);
    byIteration.set(index, [...(byIteration.get(index) ?? []), path]);
  }
  for (const [index, paths] of [...byIteration].sort((a, b) => a[0] - b[0])) {
    report.iterations.push(await verifyIteration(dir, index, paths, checker, report));
  }
  report.artifacts_checked = checker.checked;
  report.notes.push(...notes);

  if (report.problems.length > 0) report.status = 'corrupt';
  else if (!report.sealed || !WHOLE_RUN_STATUSES.has(report.run_status ?? '')) report.status = 'partial';
  else if (report.iterations.some((it) => it.status !== 'complete')) report.status = 'partial';
  return report;
}

/**
 * A run sealed `complete` ran every planned iteration (one sealed `failed` may have
 * stopped early, never run more), and its manifest covers each iteration's own
 * manifest: a removed iteration cannot hide behind a rewritten seal.
 */
function checkCompleteness(manifest: RunManifest, files: string[], report: VerifyReport): void {
  const isIterationManifest = (path: string): boolean => /^iterations\/\d+\/manifest\.json$/.test(path);
  const listed = new Set(manifest.artifacts.map((a) => a.path));
  for (const path of files) {
    if (isIterationManifest(path) && !listed.has(path)) {
      report.problems.push({ path, problem: "an iteration manifest the run's manifest does not list" });
    }
  }
  const sealed = [...listed].filter(isIterationManifest).length;
  const planned = report.iterations_planned;
  const wrongCount = manifest.status === 'failed' ? sealed > (planned ?? sealed) : sealed !== planned;
  if (WHOLE_RUN_STATUSES.has(manifest.status) && planned !== null && wrongCount) {
    report.problems.push({
      path: MANIFEST_FILE,
      problem: `sealed ${manifest.status} with ${sealed} iterations, but run.json plans ${planned}`,
    });
  }
}

/**
 * When the only problem is that manifest.json's digest differs from manifest.sha256,
 * while manifest.json is canonical and every artifact it lists verifies, the
 * altered file is manifest.sha256.
 */
function blameSealPair(report: VerifyReport): void {
  const [only, ...others] = report.problems;
  if (
    !only ||
    others.length > 0 ||
    only.path !== MANIFEST_FILE ||
    !only.problem.startsWith('changed: its sha256')
  )
    return;
  report.problems[0] = {
    path: MANIFEST_DIGEST_FILE,
    problem: `changed: manifest.json is canonical and every artifact it lists verifies, but its sha256 ${report.artifact_manifest_digest} is not what manifest.sha256 says`,
  };
}

async function checkRunManifest(dir: string, report: VerifyReport): Promise<RunManifest | null> {
  const bytes = await readFile(join(dir, MANIFEST_FILE));
  const digest = sha256(bytes);
  report.artifact_manifest_digest = digest;
  let recorded: string | null = null;
  try {
    recorded = (await readFile(join(dir, MANIFEST_DIGEST_FILE), 'utf8')).trim();
  } catch {
    report.problems.push({
      path: MANIFEST_DIGEST_FILE,
      problem: 'missing (the seal was not finished or was removed)',
    });
  }
  if (recorded !== null && !/^sha256:[0-9a-f]{64}$/.test(recorded)) {
    report.problems.push({
      path: MANIFEST_DIGEST_FILE,
      problem: `malformed: ${JSON.stringify(recorded.slice(0, 80))}`,
    });
  } else if (recorded !== null && recorded !== digest) {
    report.problems.push({
      path: MANIFEST_FILE,
      problem: `changed: its sha256 is ${digest} but ${MANIFEST_DIGEST_FILE} says ${recorded} (one of the two was altered)`,
    });
  }
  let manifest: RunManifest;
  try {
    manifest = JSON.parse(bytes.toString('utf8')) as RunManifest;
  } catch {
    report.problems.push({ path: MANIFEST_FILE, problem: 'not valid JSON' });
    return null;
  }
  if (canonicalJson(manifest) !== bytes.toString('utf8') || !Array.isArray(manifest.artifacts)) {
    report.problems.push({ path: MANIFEST_FILE, problem: 'not a canonical infermark manifest' });
    return Array.isArray(manifest.artifacts) ? manifest : null;
  }
  return manifest;
}

async function verifyIteration(
  dir: string,
  index: number,
  paths: string[],
  checker: ArtifactChecker,
  report: VerifyReport,
): Promise<IterationVerdict> {
  const prefix = `iterations/${String(index).padStart(3, '0')}/`;
  const problems: VerifyProblem[] = [];
  const verdict: IterationVerdict = {
    iteration: index,
    status: 'complete',
    sealed: false,
    records: 0,
    ended_by: null,
    detail: '',
  };
  const manifestPath = `${prefix}${MANIFEST_FILE}`;
  const notes: string[] = [];
  if (paths.includes(manifestPath)) {
    verdict.sealed = true;
    const manifest = await readJson<IterationManifest>(join(dir, manifestPath));
    if (!manifest.ok || !Array.isArray(manifest.value.artifacts)) {
      problems.push({
        path: manifestPath,
        problem: manifest.ok ? 'not an iteration manifest' : manifest.problem,
      });
    } else {
      const listed = new Set(manifest.value.artifacts.map((a) => a.path));
      for (const artifact of manifest.value.artifacts) await checker.check(artifact, problems);
      for (const path of paths) {
        // In a sealed run the run manifest already names what was added; say it once.
        if (report.sealed) break;
        if (!listed.has(path) && path !== manifestPath && !isTempFile(path)) {
          problems.push({ path, problem: "not in the iteration's manifest (added after it was sealed)" });
        }
      }
    }
  } else {
    notes.push('not sealed: the run stopped during this iteration');
  }

  const recordsPath = `${prefix}requests.jsonl`;
  // A sealed records file whose digest matched holds exactly the lines the writer wrote: counting them is enough.
  const trusted =
    verdict.sealed &&
    ![...problems, ...report.problems].some((p) => p.path === recordsPath || p.path === manifestPath);
  const records = trusted
    ? checker.lineCount(recordsPath)
    : await countRecords(dir, recordsPath, paths, problems, verdict.sealed);
  verdict.records = records.whole;
  if (records.cut) notes.push('its last record was cut off mid-line');
  const summary = await readJson<{ ended_by?: string }>(join(dir, `${prefix}summary.json`));
  verdict.ended_by = summary.ok ? (summary.value.ended_by ?? null) : null;
  if (verdict.ended_by === 'interrupted') notes.push('interrupted before its planned end');

  // Problems found in a file of this iteration belong to it; the run's list keeps them all.
  // The run's manifest and the iteration's both list this iteration's files, so the same
  // problem may have been found by both checks: keep each once.
  for (const problem of problems) {
    if (!report.problems.some((p) => p.path === problem.path && p.problem === problem.problem)) {
      report.problems.push(problem);
    }
  }
  const own = report.problems.filter(
    (p) => p.path.startsWith(prefix) || problems.some((q) => q.path === p.path && q.problem === p.problem),
  );
  if (own.length > 0) {
    verdict.status = 'corrupt';
    notes.unshift(own.map((p) => `${p.path}: ${p.problem}`).join('; '));
  } else if (!verdict.sealed || verdict.ended_by === 'interrupted' || records.cut) {
    verdict.status = 'partial';
  }
  // The record count is its own field (and printed beside the detail): not repeated here.
  verdict.detail = notes.join('; ') || 'sealed and verified';
  return verdict;
}

/** Whole JSON lines in a records file; a malformed line other than a cut-off last one is corruption. */
async function countRecords(
  dir: string,
  path: string,
  paths: string[],
  problems: VerifyProblem[],
  sealed: boolean,
): Promise<{ whole: number; cut: boolean }> {
  if (!paths.includes(path)) {
    if (sealed) problems.push({ path, problem: 'missing' });
    return { whole: 0, cut: false };
  }
  const text = await readFile(join(dir, path), 'utf8');
  const lines = text.split('\n');
  const tail = lines.pop() ?? '';
  let whole = 0;
  const bad: number[] = [];
  for (const [i, line] of lines.entries()) {
    try {
      JSON.parse(line);
      whole++;
    } catch {
      bad.push(i + 1);
    }
  }
  if (bad.length > 0) {
    const which = bad.length === 1 ? `line ${bad[0]} is` : `${bad.length} lines (the first: ${bad[0]}) are`;
    problems.push({ path, problem: `${which} not a whole JSON record` });
  }
  const cut = tail !== '';
  if (cut && sealed) problems.push({ path, problem: 'ends in the middle of a line' });
  return { whole, cut };
}

/** Digests each artifact once, however many manifests list it. */
class ArtifactChecker {
  private readonly cache = new Map<string, FileDigests | null>();
  checked = 0;
  constructor(private readonly dir: string) {}

  /** Lines of a records file this checker digested and found unchanged (a sealed file holds only whole lines). */
  lineCount(path: string): { whole: number; cut: boolean } {
    return { whole: this.cache.get(path)?.newlines ?? 0, cut: false };
  }

  async check(artifact: ManifestArtifact, problems: VerifyProblem[]): Promise<void> {
    if (!isSafeArtifactPath(artifact.path)) {
      problems.push({
        path: artifact.path,
        problem: 'a manifest path that leaves the run folder (not read)',
      });
      return;
    }
    let digests = this.cache.get(artifact.path);
    if (digests === undefined) {
      digests = await digestFile(join(this.dir, artifact.path)).catch(() => null);
      this.cache.set(artifact.path, digests);
      this.checked++;
    }
    const add = (problem: string): void => {
      if (!problems.some((p) => p.path === artifact.path && p.problem === problem)) {
        problems.push({ path: artifact.path, problem });
      }
    };
    if (digests === null) add('missing');
    else if (digests.size_bytes !== artifact.size_bytes) {
      add(`changed: ${digests.size_bytes} bytes, the manifest says ${artifact.size_bytes}`);
    } else if (digests.sha256 !== artifact.sha256) {
      add(`changed: sha256 is ${digests.sha256}, the manifest says ${artifact.sha256}`);
    }
  }
}

type JsonRead<T> = { ok: true; value: T } | { ok: false; problem: string };

async function readJson<T>(path: string): Promise<JsonRead<T>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return { ok: false, problem: 'missing' };
  }
  try {
    return { ok: true, value: JSON.parse(text) as T };
  } catch {
    return { ok: false, problem: 'not valid JSON' };
  }
}
