/**
 * Ships a sealed run folder to a store, and fetches one back. Done once for every
 * scheme, over the ObjectStore interface:
 * - only a sealed folder whose manifest verifies is shipped;
 * - objects go under `<folder>/<run_id>/`, with the same keys and bytes every time,
 *   so uploading a run twice leaves the same objects; an object already there with
 *   the same size and sha256 is skipped, which makes an interrupted upload resume;
 * - each object is checked after it is written (size, and sha256 where the store
 *   keeps one); the manifest goes last, so its presence marks a whole upload;
 * - failures that may pass (network, 5xx, throttling) are retried with backoff;
 *   the local folder is never touched.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ExitCode, InfermarkError } from '../errors.js';
import { digestFile } from '../evidence/digest.js';
import { MANIFEST_DIGEST_FILE, MANIFEST_FILE, type RunManifest } from '../evidence/manifest.js';
import { verifyRunFolder, type VerifyReport } from '../evidence/verify.js';
import type { ObjectStore, ObjectToPut } from './object-store.js';
import { isRetryable, StorageError } from './storage-error.js';

export interface RetryPolicy {
  /** Give up on an object after this long of failed attempts. */
  giveUpAfterMs: number;
  firstDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { giveUpAfterMs: 120_000, firstDelayMs: 250, maxDelayMs: 8_000 };

export interface UploadOptions {
  /** Key folder above `<run_id>/` (the job's resultFolderName), if any. */
  folder?: string;
  retry?: RetryPolicy;
  /** Objects in flight at once. */
  parallel?: number;
  /** Told of each retried failure (already scrubbed of secrets). */
  onRetry?(key: string, attempt: number, error: Error): void;
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
  const manifest = JSON.parse(await readFile(join(runDir, MANIFEST_FILE), 'utf8')) as RunManifest;
  const prefix = [options.folder, manifest.run_id].filter(Boolean).join('/');
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
    const digests = await digestFile(localPath);
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

/** Downloads a run (`[folder/]<run_id>`) into `destDir` and verifies it; throws if it does not verify. */
export async function downloadRun(
  store: ObjectStore,
  runPrefix: string,
  destDir: string,
  options: Pick<UploadOptions, 'retry' | 'parallel' | 'onRetry'> = {},
): Promise<VerifyReport> {
  const retry = options.retry ?? DEFAULT_RETRY;
  const fetch = async (path: string): Promise<void> => {
    const target = join(destDir, path);
    await mkdir(dirname(target), { recursive: true });
    await withRetry(`${runPrefix}/${path}`, retry, options, async () => {
      await store.get(`${runPrefix}/${path}`, target);
      return true;
    });
  };
  const present = await store.head(`${runPrefix}/${MANIFEST_DIGEST_FILE}`);
  if (!present) {
    throw new InfermarkError(
      'E_NOT_FOUND',
      `${store.display}: no whole run at ${runPrefix} (${MANIFEST_DIGEST_FILE} is missing: never uploaded, or the upload did not finish)`,
      ExitCode.badInput,
    );
  }
  await fetch(MANIFEST_FILE);
  await fetch(MANIFEST_DIGEST_FILE);
  const manifest = JSON.parse(await readFile(join(destDir, MANIFEST_FILE), 'utf8')) as RunManifest;
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

/** Runs `attempt` until it succeeds, a non-retryable error, or the policy gives up. */
async function withRetry<T>(
  key: string,
  policy: RetryPolicy,
  options: Pick<UploadOptions, 'onRetry'>,
  attempt: () => Promise<T>,
): Promise<T> {
  const started = Date.now();
  let delay = policy.firstDelayMs;
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (error) {
      const elapsed = Date.now() - started;
      if (!isRetryable(error) || elapsed + delay > policy.giveUpAfterMs) {
        if (error instanceof StorageError) throw error;
        throw new StorageError(`${key}: ${describe(error)}`, { retryable: isRetryable(error), cause: error });
      }
      options.onRetry?.(key, n, new StorageError(describe(error), { retryable: true }));
      // Full jitter: parallel uploads that failed together do not retry together.
      await sleep(Math.round(Math.random() * delay));
      delay = Math.min(delay * 2, policy.maxDelayMs);
    }
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code && !error.message.includes(code) ? `${error.message} (${code})` : error.message || error.name;
  }
  return String(error);
}

async function inParallel<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    // After one failure no new work starts; what is in flight finishes.
    while (!failed && next < items.length) {
      try {
        await work(items[next++] as T);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

function contentTypeOf(path: string): string {
  if (path.endsWith('.json')) return 'application/json';
  if (path.endsWith('.jsonl')) return 'application/x-ndjson';
  if (path.endsWith('.prom') || path.endsWith('.sha256')) return 'text/plain; charset=utf-8';
  return 'application/octet-stream';
}
