/**
 * The run folder on disk: one directory per run, written as the run goes so that
 * an interrupted run keeps what it finished. JSON documents are written whole
 * (temp file + rename); request records are appended as JSON lines as they complete.
 *
 *   <run_id>/run.json                          spec, plan, workload, endpoint, environment
 *   <run_id>/iterations/<NNN>/requests.jsonl   one request record per line
 *   <run_id>/iterations/<NNN>/summary.json     the iteration's metrics
 *   <run_id>/iterations/<NNN>/workload.json    what generated its items, and the items' digest
 *   <run_id>/iterations/<NNN>/telemetry/<target>/0000.prom.gz ...   each telemetry target's scrapes
 *                                              (the server's /metrics, GPU, node, cluster exporters):
 *                                              before, during (on a timer) and after the load, gzip;
 *                                              index.json says when each was taken (telemetry/scrape-files.ts)
 *   <run_id>/summary.json                      every iteration's summary, when the run ends
 *
 * A write that fails (disk full, quota, permissions) is a RunFolderWriteError naming
 * the file, relative to the folder, and the folder; the temp file of a failed atomic
 * write is removed, so the folder holds only what was written whole and `infermark
 * verify` reads it as partial, not corrupt.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { ExitCode, InfermarkError } from '../base/errors.js';
import { holdsKnownSecret, mayHoldSecretPattern, scrubText } from '../base/redact.js';

const gzipAsync = promisify(gzip);

/** What the file system's error codes mean, in the words a user reads. */
const ERRNO_WORDS: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EIO: 'input/output error',
  EISDIR: 'a folder is in the way',
  ENOTDIR: 'a file is in the way',
  EMFILE: 'too many open files',
};

/** A file of a run folder could not be written: which one, where, and why. */
export class RunFolderWriteError extends InfermarkError {
  constructor(
    readonly dir: string,
    readonly relativePath: string,
    cause: unknown,
  ) {
    const code = (cause as NodeJS.ErrnoException)?.code;
    const why = code
      ? `${ERRNO_WORDS[code] ?? (cause as Error).message.replace(/^[A-Z]+: /, '').replace(/, \w+.*$/, '')} (${code})`
      : String((cause as Error)?.message ?? cause);
    super(
      'E_RUN_FOLDER_WRITE',
      `cannot write ${relativePath} in the run folder ${dir}: ${why}; the folder keeps what was written before it (see: infermark verify ${dir})`,
      ExitCode.failure,
      { cause },
    );
    this.name = 'RunFolderWriteError';
  }
}

export class RunFolder {
  private constructor(readonly dir: string) {}

  static async create(dir: string): Promise<RunFolder> {
    try {
      await mkdir(join(dir, 'iterations'), { recursive: true });
    } catch (error) {
      throw new RunFolderWriteError(dir, 'iterations/', error);
    }
    return new RunFolder(dir);
  }

  /** Relative folder of an iteration: `iterations/007`. */
  static iterationDir(index: number): string {
    return join('iterations', String(index).padStart(3, '0'));
  }

  /** Writes a JSON document atomically (never a half-written file). */
  async writeJson(relativePath: string, value: unknown): Promise<void> {
    await this.writeText(relativePath, `${JSON.stringify(value, null, 2)}\n`);
  }

  async writeText(relativePath: string, text: string): Promise<void> {
    const path = join(this.dir, relativePath);
    const temp = `${path}.tmp-${process.pid}`;
    try {
      await mkdir(dirname(path), { recursive: true });
      // Whatever a server or an SDK put in the text, no registered secret is written.
      await writeFile(temp, scrubText(text));
      await rename(temp, path);
    } catch (error) {
      // A half-written temp file is not evidence: the document is either whole or absent.
      await rm(temp, { force: true }).catch(() => undefined);
      throw new RunFolderWriteError(this.dir, relativePath, error);
    }
  }

  /**
   * Writes text gzip-compressed, atomically, scrubbed of registered secrets before it is
   * compressed (a scrubber cannot read the compressed bytes). Compression runs on libuv's
   * thread pool, off the event loop.
   */
  async writeGzipText(relativePath: string, text: string): Promise<void> {
    await this.writeBytes(relativePath, await gzipAsync(scrubText(text)));
  }

  /** Writes bytes atomically, as they are (a copy of a file already written by a RunFolder). */
  async writeBytes(relativePath: string, bytes: Uint8Array): Promise<void> {
    const path = join(this.dir, relativePath);
    const temp = `${path}.tmp-${process.pid}`;
    try {
      await mkdir(dirname(path), { recursive: true });
      await writeFile(temp, bytes);
      await rename(temp, path);
    } catch (error) {
      await rm(temp, { force: true }).catch(() => undefined);
      throw new RunFolderWriteError(this.dir, relativePath, error);
    }
  }

  /** An append-only JSON-lines writer (see LineWriter). */
  async openLines(relativePath: string): Promise<LineWriter> {
    const path = join(this.dir, relativePath);
    try {
      await mkdir(dirname(path), { recursive: true });
    } catch (error) {
      throw new RunFolderWriteError(this.dir, relativePath, error);
    }
    return new LineWriter(path, (error) => new RunFolderWriteError(this.dir, relativePath, error));
  }
}

/**
 * Appends JSON lines with one `write(2)` each, synchronously: when `write` returns,
 * the record is in the kernel and survives the process being killed (SIGKILL
 * included). That costs a few microseconds per request, never per token.
 */
export class LineWriter {
  /** The first write error (disk full, ...): kept, not thrown mid-run, and reported by close(). */
  private failure: Error | null = null;
  private fd: number | null;
  /** `describe` turns a write error into the one close() reports (which file, where). */
  constructor(
    path: string,
    private readonly describe: (error: unknown) => Error = (error) => error as Error,
  ) {
    try {
      this.fd = openSync(path, 'a');
    } catch (error) {
      this.failure = error as Error;
      this.fd = null;
    }
  }

  /** Appends one JSON line; never throws (outputs must not break the request loop). */
  write(value: unknown): void {
    if (this.fd === null) return;
    let line = `${JSON.stringify(value)}\n`;
    if (holdsKnownSecret(line) || mayHoldSecretPattern(line)) line = scrubText(line);
    try {
      const bytes = Buffer.from(line);
      // A write to a regular file is whole unless the disk fills; a short one is retried for the rest.
      for (let at = 0; at < bytes.length;) at += writeSync(this.fd, bytes, at);
    } catch (error) {
      this.failure ??= error as Error;
      this.closeFd();
    }
  }

  close(): Promise<void> {
    this.closeFd();
    return this.failure ? Promise.reject(this.describe(this.failure)) : Promise.resolve();
  }

  private closeFd(): void {
    if (this.fd === null) return;
    try {
      closeSync(this.fd);
    } catch (error) {
      this.failure ??= error as Error;
    }
    this.fd = null;
  }
}
