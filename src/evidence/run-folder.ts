/**
 * The run folder on disk: one directory per run, written as the run goes so that
 * an interrupted run keeps what it finished. JSON documents are written whole
 * (temp file + rename); request records are appended as JSON lines as they complete.
 *
 *   <run_id>/run.json                          spec, plan, workload, endpoint, environment
 *   <run_id>/iterations/<NNN>/requests.jsonl   one request record per line
 *   <run_id>/iterations/<NNN>/summary.json     the iteration's metrics
 *   <run_id>/iterations/<NNN>/workload.json    what generated its items, and the items' digest
 *   <run_id>/iterations/<NNN>/metrics-{start,end}.prom   server /metrics scrapes
 *   <run_id>/summary.json                      every iteration's summary, when the run ends
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

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
    await writeFile(temp, text);
    await rename(temp, path);
  }

  /** An append-only JSON-lines writer; `close` resolves once every line is flushed to the OS. */
  async openLines(relativePath: string): Promise<LineWriter> {
    const path = join(this.dir, relativePath);
    await mkdir(dirname(path), { recursive: true });
    return new LineWriter(createWriteStream(path, { flags: 'a' }));
  }
}

export class LineWriter {
  /** The first write error (disk full, ...): kept, not thrown mid-run, and reported by close(). */
  private failure: Error | null = null;

  constructor(private readonly stream: WriteStream) {
    stream.on('error', (error) => {
      this.failure ??= error;
    });
  }

  /** Queues one JSON line; never waits (outputs must not block the request loop). */
  write(value: unknown): void {
    if (this.failure) return;
    this.stream.write(`${JSON.stringify(value)}\n`);
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) => {
      const settle = (): void => (this.failure ? reject(this.failure) : resolve());
      if (this.failure || this.stream.destroyed) return settle();
      this.stream.end((error?: Error | null) => {
        if (error) this.failure ??= error;
        settle();
      });
    });
  }
}
