/**
 * Sealing a run folder: a manifest lists every artifact with its size and sha256.
 * Each iteration is sealed as it ends (`iterations/NNN/manifest.json`, which also
 * covers run.json), so a run killed mid-way leaves its finished iterations
 * verifiable; the run is sealed when it ends (`manifest.json`, covering every file
 * including the iteration manifests). A manifest is written as canonical JSON, so
 * the sha256 of its bytes is the digest of its content: the run's
 * `artifact_manifest_digest`, also written to `manifest.sha256`.
 * Nothing in the folder is rewritten after it is sealed.
 */
import { readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { isSafeRelativePath } from '../base/safe-path.js';
import { canonicalJson, digestFile, sha256 } from '../base/digest.js';
import { RunFolder } from './run-folder.js';

export const MANIFEST_FILE = 'manifest.json';
export const MANIFEST_DIGEST_FILE = 'manifest.sha256';
export const MANIFEST_SCHEMA_VERSION = 1;

export interface ManifestArtifact {
  /** Relative to the run folder, `/`-separated. */
  path: string;
  size_bytes: number;
  /** `sha256:<hex>`. */
  sha256: string;
}

export interface RunManifest {
  schema_version: number;
  kind: 'run';
  run_id: string;
  /**
   * `complete`; `interrupted` when the run was stopped and kept what it finished;
   * `failed` when it ran but failed (stopped early, nothing completed, or too many
   * errors: summary.json's `failure` says which). Its evidence is whole all the same.
   */
  status: 'complete' | 'interrupted' | 'failed';
  sealed_at: string;
  artifacts: ManifestArtifact[];
}

export interface IterationManifest {
  schema_version: number;
  kind: 'iteration';
  run_id: string;
  iteration: number;
  sealed_at: string;
  artifacts: ManifestArtifact[];
}

/**
 * Whether a manifest path may be joined to a folder (see isSafeRelativePath):
 * manifests read from a store, or a folder someone else made, are not trusted to
 * stay inside their run folder.
 */
export const isSafeArtifactPath = isSafeRelativePath;

/** Files that are scaffolding, not artifacts: a temp file of an atomic write never counts. */
export function isTempFile(path: string): boolean {
  return /\.tmp-\d+$/.test(path);
}

/** Every file under `dir`, relative to `root`, `/`-separated, sorted. */
export async function listFiles(root: string, dir: string = root): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(root, path)));
    else if (entry.isFile()) out.push(relative(root, path).split(sep).join('/'));
  }
  return out.sort();
}

/** Size and sha256 of each listed file. */
export async function describeArtifacts(root: string, paths: string[]): Promise<ManifestArtifact[]> {
  const artifacts: ManifestArtifact[] = [];
  for (const path of paths) {
    const { size_bytes, sha256: digest } = await digestFile(join(root, path));
    artifacts.push({ path, size_bytes, sha256: digest });
  }
  return artifacts;
}

/**
 * Seals one finished iteration: its files and run.json, listed with their digests. A run whose
 * plan grows as it goes (an SLA search) rewrites run.json after its iterations are sealed: its
 * iterations leave run.json out (`runJson: false`), and the run's own seal covers its last form.
 */
export async function sealIteration(
  folder: RunFolder,
  runId: string,
  iteration: number,
  options: { runJson?: boolean } = {},
): Promise<string> {
  const dir = RunFolder.iterationDir(iteration).split(sep).join('/');
  const inside = (await listFiles(folder.dir, join(folder.dir, dir))).filter(
    (path) => !isTempFile(path) && path !== `${dir}/${MANIFEST_FILE}`,
  );
  const manifest: IterationManifest = {
    schema_version: MANIFEST_SCHEMA_VERSION,
    kind: 'iteration',
    run_id: runId,
    iteration,
    sealed_at: new Date().toISOString(),
    artifacts: await describeArtifacts(folder.dir, [
      ...(options.runJson === false ? [] : ['run.json']),
      ...inside,
    ]),
  };
  const text = canonicalJson(manifest);
  await folder.writeText(`${dir}/${MANIFEST_FILE}`, text);
  return sha256(text);
}

/**
 * Seals the run: every file in the folder (iteration manifests included) goes into
 * manifest.json; returns the artifact_manifest_digest.
 */
export async function sealRun(
  folder: RunFolder,
  runId: string,
  status: RunManifest['status'],
): Promise<string> {
  const paths = (await listFiles(folder.dir)).filter(
    (path) => !isTempFile(path) && path !== MANIFEST_FILE && path !== MANIFEST_DIGEST_FILE,
  );
  const manifest: RunManifest = {
    schema_version: MANIFEST_SCHEMA_VERSION,
    kind: 'run',
    run_id: runId,
    status,
    sealed_at: new Date().toISOString(),
    artifacts: await describeArtifacts(folder.dir, paths),
  };
  const text = canonicalJson(manifest);
  const digest = sha256(text);
  await folder.writeText(MANIFEST_FILE, text);
  // Written last: its presence says the manifest beside it is whole.
  await folder.writeText(MANIFEST_DIGEST_FILE, `${digest}\n`);
  return digest;
}
