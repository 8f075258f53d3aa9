/**
 * Ships a sealed run folder to a store, and fetches one back. Done once for every
 * scheme, over the ObjectStore interface:
 * - only a sealed folder whose manifest verifies is shipped, and each file only
 *   with the size and sha256 its manifest gives (a file changed since is refused);
 * - a manifest is not trusted to stay inside its folder: an artifact path or a
 *   run_id that could climb out of it is refused, on upload and on download;
 * - objects go under `<folder>/<run_id>/`, with the same keys and bytes every time,
 *   so uploading a run twice leaves the same objects; an object already there with
 *   the same size and sha256 is skipped, which makes an interrupted upload resume;
 * - each object is checked after it is written (size, and sha256 where the store
 *   keeps one); the manifest goes last, so its presence marks a whole upload;
 * - failures that may pass (network, 5xx, throttling) are retried by the one
 *   policy of `retry-policy.ts` (the SDKs retry nothing themselves); the local
 *   folder is never touched.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ExitCode, InfermarkError } from '../base/errors.js';
import { digestFile, sha256, type FileDigests } from '../base/digest.js';
import {
  isSafeArtifactPath,
  MANIFEST_DIGEST_FILE,
  MANIFEST_FILE,
  type ManifestArtifact,
  type RunManifest,
} from '../evidence/manifest.js';
import { verifyRunFolder, type VerifyReport } from '../evidence/verify.js';
import type { ObjectStore, ObjectToPut } from './object-store.js';
import { DEFAULT_RETRY, withRetry, type RetryHooks, type RetryPolicy } from './retry-policy.js';
import { configError, describeError, permanentKindOf, StorageError } from './storage-error.js';

export interface UploadOptions extends RetryHooks {
  /** Key folder above `<run_id>/` (the job's resultFolderName), if any. */
  folder?: string;
  /** Default DEFAULT_RETRY (`retry-policy.ts`). */
  retry?: RetryPolicy;
  /** Objects in flight at once. */
  parallel?: number;
}

export interface UploadResult {
  store: string;
  run_id: string;
  /** The run's key prefix in the store: `[folder/]<run_id>`. */
  prefix: string;
  artifact_manifest_digest: string;
  objects: number;
  uploaded: number;
  /** Already there with the same size and digest. */
  skipped: number;
  bytes_uploaded: number;
}

/** Uploads a sealed run folder; resolves once every object is written and checked. */
export async function uploadRunFolder(
  runDir: string,
  store: ObjectStore,
  options: UploadOptions = {},
): Promise<UploadResult> {
  const report = await verifyRunFolder(runDir);
  refuseUnsealed(runDir, report);
  const { manifest, sealed } = await readSeal(runDir, report);
  const prefix = runPrefixOf(runDir, options.folder, manifest.run_id);
  const retry = options.retry ?? DEFAULT_RETRY;
  const result: UploadResult = {
    store: store.display,
    run_id: manifest.run_id,
    prefix,
    artifact_manifest_digest: report.artifact_manifest_digest as string,
    objects: manifest.artifacts.length + 2,
    uploaded: 0,
    skipped: 0,
    bytes_uploaded: 0,
  };
  const toPut = async (path: string): Promise<ObjectToPut> => {
    const localPath = join(runDir, path);
    const digests = await digestFile(localPath, { md5: true }).catch((error: unknown) => {
      throw new StorageError(`${runDir}: ${path}: cannot read it: ${describeError(error)}`, {
        retryable: false,
        kind: permanentKindOf(error),
      });
    });
    refuseChanged(runDir, path, digests, sealed.get(path));
    return { key: `${prefix}/${path}`, localPath, ...digests, content_type: contentTypeOf(path) };
  };
  const ship = async (path: string): Promise<void> => {
    const object = await toPut(path);
    const wrote = await withRetry(object.key, retry, options, () => putChecked(store, object));
    if (wrote) {
      result.uploaded++;
      result.bytes_uploaded += object.size_bytes;
    } else {
      result.skipped++;
    }
  };
  await inParallel(
    manifest.artifacts.map((a) => a.path),
    options.parallel ?? 4,
    ship,
  );
  // The manifest last, its digest after it: a store holding manifest.sha256 holds the whole run.
  await ship(MANIFEST_FILE);
  await ship(MANIFEST_DIGEST_FILE);
  return result;
}

type Sealed = Map<string, Pick<ManifestArtifact, 'size_bytes' | 'sha256'>>;

/**
 * The manifest the verify report speaks of, and the size and sha256 every file to
 * ship must still have: the manifest's artifacts, and the two seal files as they
 * were verified. A seal file that changed since, or a manifest naming a path
 * outside the folder, is refused here.
 */
async function readSeal(
  runDir: string,
  report: VerifyReport,
): Promise<{ manifest: RunManifest; sealed: Sealed }> {
  const bytes = await readFile(join(runDir, MANIFEST_FILE));
  const digestText = await readFile(join(runDir, MANIFEST_DIGEST_FILE), 'utf8');
  const digest = sha256(bytes);
  if (digest !== report.artifact_manifest_digest || digestText.trim() !== digest) {
    throw new StorageError(
      `${runDir}: ${MANIFEST_FILE} or ${MANIFEST_DIGEST_FILE} changed while it was being verified; run \`infermark verify ${runDir}\``,
      { retryable: false },
    );
  }
  const manifest = JSON.parse(bytes.toString('utf8')) as RunManifest;
  refuseUnsafeManifest(runDir, manifest);
  const sealed: Sealed = new Map(manifest.artifacts.map((a) => [a.path, a]));
  sealed.set(MANIFEST_FILE, { size_bytes: bytes.length, sha256: digest });
  sealed.set(MANIFEST_DIGEST_FILE, {
    size_bytes: Buffer.byteLength(digestText),
    sha256: sha256(digestText),
  });
  return { manifest, sealed };
}

/** A file that no longer has the size and sha256 it was sealed with is not shipped under new digests. */
function refuseChanged(
  runDir: string,
  path: string,
  digests: FileDigests,
  sealed: Pick<ManifestArtifact, 'size_bytes' | 'sha256'> | undefined,
): void {
  if (sealed && digests.size_bytes === sealed.size_bytes && digests.sha256 === sealed.sha256) return;
  const was = sealed ? `${sealed.size_bytes} bytes, ${sealed.sha256}` : 'not in it';
  throw new StorageError(
    `${runDir}: ${path} changed after the run was sealed (now ${digests.size_bytes} bytes, ${digests.sha256}; ` +
      `the manifest says ${was}); it is not uploaded: \`infermark verify ${runDir}\` shows what changed`,
    { retryable: false },
  );
}

/**
 * A manifest from a store, or from a folder someone else made, is not trusted:
 * every artifact path must stay inside the run folder, and the run_id must make a
 * clean key prefix.
 */
function refuseUnsafeManifest(where: string, manifest: RunManifest): void {
  if (!Array.isArray(manifest.artifacts)) {
    throw new StorageError(`${where}: ${MANIFEST_FILE} is not an infermark run manifest (no artifacts)`, {
      retryable: false,
    });
  }
  for (const artifact of manifest.artifacts as unknown[]) {
    const path = (artifact as { path?: unknown } | null)?.path;
    if (typeof path !== 'string' || !isSafeArtifactPath(path)) {
      throw new StorageError(
        `${where}: ${MANIFEST_FILE} lists the artifact path ${JSON.stringify(path)}, which is not a relative path inside the run folder; nothing is transferred`,
        { retryable: false },
      );
    }
  }
  if (typeof manifest.run_id !== 'string' || !isSafeArtifactPath(manifest.run_id)) {
    throw new StorageError(
      `${where}: ${MANIFEST_FILE}: run_id ${JSON.stringify(manifest.run_id)} cannot name a folder (empty, or with an empty, '.' or '..' segment)`,
      { retryable: false },
    );
  }
}

/** `[folder/]<run_id>`, refusing a folder that would climb out of, or blur, the key space. */
function runPrefixOf(runDir: string, folder: string | undefined, runId: string): string {
  if (folder && !isSafeArtifactPath(folder)) {
    throw new StorageError(
      `${runDir}: folder ${JSON.stringify(folder)} is not a relative folder (an empty, '.' or '..' segment): name one like nightly or team/nightly`,
      { retryable: false },
    );
  }
  return [folder, runId].filter(Boolean).join('/');
}

/** Writes an object unless it is already there, then checks what the store holds. True if written. */
async function putChecked(store: ObjectStore, object: ObjectToPut): Promise<boolean> {
  const before = await store.head(object.key);
  if (before && before.size_bytes === object.size_bytes && before.sha256 === object.sha256) return false;
  await store.put(object);
  const after = await store.head(object.key);
  if (!after)
    throw new StorageError(`${store.display}: ${object.key} is not there after writing it`, {
      retryable: true,
    });
  if (after.size_bytes !== object.size_bytes || (after.sha256 !== null && after.sha256 !== object.sha256)) {
    throw new StorageError(
      `${store.display}: ${object.key} holds ${after.size_bytes} bytes (${after.sha256 ?? 'no digest'}) after writing ${object.size_bytes} bytes (${object.sha256})`,
      { retryable: true },
    );
  }
  return true;
}

/**
 * Downloads a run (`[folder/]<run_id>`) into `destDir`, then verifies it and
 * returns the verify report: a run that does not verify (corrupt, partial) is
 * reported there, not thrown. Throws when the store holds no whole run under
 * `runPrefix`, when `runPrefix` or the stored manifest names a path outside the
 * run folder (before anything but the manifest is fetched), or when a download
 * fails for good.
 */
export async function downloadRun(
  store: ObjectStore,
  runPrefix: string,
  destDir: string,
  options: Pick<UploadOptions, 'retry' | 'parallel' | 'onRetry'> = {},
): Promise<VerifyReport> {
  // The rule for an artifact path: the prefix is joined to every key read.
  if (!isSafeArtifactPath(runPrefix)) {
    throw configError(
      store.display,
      `run ${JSON.stringify(runPrefix)} is not [folder/]<run_id> (an empty, '.' or '..' segment)`,
    );
  }
  const retry = options.retry ?? DEFAULT_RETRY;
  const fetch = async (path: string): Promise<void> => {
    const target = join(destDir, path);
    await withRetry(`${runPrefix}/${path}`, retry, options, async () => {
      await mkdir(dirname(target), { recursive: true });
      await store.get(`${runPrefix}/${path}`, target);
      return true;
    });
  };
  const sealKey = `${runPrefix}/${MANIFEST_DIGEST_FILE}`;
  const present = await withRetry(sealKey, retry, options, () => store.head(sealKey));
  if (!present) {
    throw new InfermarkError(
      'E_NOT_FOUND',
      `${store.display}: no whole run at ${runPrefix} (${MANIFEST_DIGEST_FILE} is missing: never uploaded, or the upload did not finish)`,
      ExitCode.badInput,
    );
  }
  await fetch(MANIFEST_FILE);
  await fetch(MANIFEST_DIGEST_FILE);
  const where = `${store.display}: ${runPrefix}`;
  let manifest: RunManifest;
  try {
    manifest = JSON.parse(await readFile(join(destDir, MANIFEST_FILE), 'utf8')) as RunManifest;
  } catch {
    throw new StorageError(`${where}: ${MANIFEST_FILE} is not valid JSON`, { retryable: false });
  }
  refuseUnsafeManifest(where, manifest);
  await inParallel(
    manifest.artifacts.map((a) => a.path),
    options.parallel ?? 4,
    fetch,
  );
  return verifyRunFolder(destDir);
}

function refuseUnsealed(runDir: string, report: VerifyReport): void {
  if (!report.sealed) {
    throw new InfermarkError(
      'E_NOT_SEALED',
      `${runDir}: the run was not sealed (it stopped before it ended); \`infermark verify ${runDir}\` shows what it holds`,
      ExitCode.badInput,
    );
  }
  if (report.status === 'corrupt') {
    const first = report.problems
      .slice(0, 3)
      .map((p) => `${p.path}: ${p.problem}`)
      .join('; ');
    throw new InfermarkError('E_CORRUPT', `${runDir}: does not verify (${first})`, ExitCode.badInput);
  }
}

/**
 * Runs `work` over `items`, at most `limit` at once. After one failure no new work
 * starts, but what is in flight is waited for: a caller that closes the store
 * after a failure must not close it under a put. The first failure is thrown.
 */
async function inParallel<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const failures: unknown[] = [];
  const worker = async (): Promise<void> => {
    while (failures.length === 0 && next < items.length) {
      try {
        await work(items[next++] as T);
      } catch (error) {
        failures.push(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failures.length > 0) throw failures[0];
}

function contentTypeOf(path: string): string {
  if (path.endsWith('.json')) return 'application/json';
  if (path.endsWith('.jsonl')) return 'application/x-ndjson';
  if (path.endsWith('.prom') || path.endsWith('.sha256')) return 'text/plain; charset=utf-8';
  return 'application/octet-stream';
}
