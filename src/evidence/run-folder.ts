/**
 * The run folder on disk: one directory per run, written as the run goes so that
 * an interrupted run keeps what it finished. JSON documents are written whole
 * (temp file + rename); request records are appended as JSON lines as they complete.
 *
 *   <run_id>/run.json                          spec, plan, workload, endpoint, environment
 *   <run_id>/iterations/<NNN>/requests.jsonl   one request record per line
 *   <run_id>/iterations/<NNN>/summary.json     the iteration's metrics
 *   <run_id>/iterations/<NNN>/workload.json    what generated its items, and the items' digest
 *   <run_id>/iterations/<NNN>/metrics/0000.prom ...   server /metrics scrapes: before, during (on
 *                                              a timer) and after the load; metrics/index.json
 *                                              says when each was taken (telemetry/scrape-files.ts)
 *   <run_id>/summary.json                      every iteration's summary, when the run ends
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { holdsKnownSecret, mayHoldSecretPattern, scrubText } from './redact.js';

export class RunFolder {
  private constructor(readonly dir: string) {}

  static async create(dir: string): Promise<RunFolder> {
    await mkdir(join(dir, 'iterations'), { recursive: true });
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
    await mkdir(dirname(path), { recursive: true });
    const temp = `${path}.tmp-${process.pid}`;
    // Whatever a server or an SDK put in the text, no registered secret is written.
    await writeFile(temp, scrubText(text));
    await rename(temp, path);
  }

  /** An append-only JSON-lines writer (see LineWriter). */
  async openLines(relativePath: string): Promise<LineWriter> {
    const path = join(this.dir, relativePath);
    await mkdir(dirname(path), { recursive: true });
    return new LineWriter(path);
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
  constructor(path: string) {
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
    return this.failure ? Promise.reject(this.failure) : Promise.resolve();
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
