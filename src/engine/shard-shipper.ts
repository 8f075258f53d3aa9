/**
 * A worker that does not share the coordinator's file system (a pod) ships its shard
 * folder: before each `ready`, `done` and `end` it sends every file that is new or changed
 * since the last time (by size and modification time), so the coordinator finds the folder
 * as complete at those points as a local worker's. Files are streamed, one at a time, each
 * with a deadline; the coordinator writes each to a temporary name and renames it.
 */
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { request } from 'undici';
import { ExitCode, InfermarkError } from '../base/errors.js';
import { MANIFEST_DIGEST_FILE, MANIFEST_FILE } from '../evidence/manifest.js';
import { SHIPPED_FILES_LIMIT } from './shard-protocol.js';

/** A file's whole transfer; long enough for a large records file on a slow link. */
const FILE_DEADLINE_MS = 10 * 60_000;

export class FolderShipper {
  private readonly sent = new Map<string, string>();

  constructor(
    private readonly url: string,
    private readonly index: number,
    private readonly token: string,
    readonly dir: string,
  ) {}

  /**
   * Sends what changed since the last call; resolves when the coordinator has it all. Calls
   * run one after another: a `done` whose sync is still sending must not race the `end`
   * after it (the same file twice at once, or the end acknowledged with a file half-written).
   */
  sync(): Promise<number> {
    const next = this.chain.then(() => this.syncNow());
    this.chain = next.catch(() => 0);
    return next;
  }

  private chain: Promise<number> = Promise.resolve(0);

  private async syncNow(): Promise<number> {
    const files = sealsLast(this.dir, await listFiles(this.dir));
    let shipped = 0;
    for (const path of files) {
      const info = await stat(path).catch(() => null);
      if (!info?.isFile()) continue;
      const rel = relative(this.dir, path).split(sep).join('/');
      const version = `${info.size}:${info.mtimeMs}`;
      if (this.sent.get(rel) === version) continue;
      await this.put(rel, path, info.size);
      this.sent.set(rel, version);
      shipped++;
    }
    return shipped;
  }

  private async put(rel: string, path: string, size: number): Promise<void> {
    const target = `${this.url}/v1/shards/${this.index}/files?path=${encodeURIComponent(rel)}`;
    try {
      const res = await request(target, {
        method: 'PUT',
        headers: {
          authorization: `Bearer ${this.token}`,
          'content-type': 'application/octet-stream',
          'content-length': String(size),
        },
        body: createReadStream(path, { start: 0, end: Math.max(0, size - 1) }),
        headersTimeout: FILE_DEADLINE_MS,
        bodyTimeout: FILE_DEADLINE_MS,
        signal: AbortSignal.timeout(FILE_DEADLINE_MS),
      });
      const text = (await res.body.text()).slice(0, 1000);
      if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}: ${text}`);
    } catch (error) {
      throw new InfermarkError(
        'E_COORDINATOR',
        `shard ${this.index}: shipping ${rel} to the coordinator at ${this.url}: ${(error as Error).message}`,
        ExitCode.failure,
        { cause: error },
      );
    }
  }
}

/**
 * The files in the order they may arrive: the coordinator verifies shard folders while
 * others still ship (an iteration's merge), so a seal must never arrive before what it
 * seals. Everything else first, then the manifests, deepest first, then the run's digest.
 */
export function sealsLast(dir: string, files: string[]): string[] {
  const rank = (path: string): number => {
    const rel = relative(dir, path).split(sep);
    const name = rel.at(-1);
    if (name === MANIFEST_DIGEST_FILE) return 2_000_000;
    if (name === MANIFEST_FILE) return 1_000_000 - rel.length;
    return 0;
  };
  return files
    .map((path, at) => ({ path, at, rank: rank(path) }))
    .sort((a, b) => a.rank - b.rank || a.at - b.at)
    .map((f) => f.path);
}

/** Every file under `dir`, bounded in count (a runaway folder is refused, not walked forever). */
async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (at: string): Promise<void> => {
    const entries = await readdir(at, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) {
        out.push(path);
        if (out.length > SHIPPED_FILES_LIMIT) {
          throw new InfermarkError(
            'E_SHARD_FOLDER',
            `${dir}: more than ${SHIPPED_FILES_LIMIT} files to ship`,
          );
        }
      }
    }
  };
  await walk(dir);
  return out.sort();
}
