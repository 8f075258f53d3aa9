/**
 * How an iteration's server /metrics scrapes lie in the run folder, and reading
 * them back. Every scrape is its own file, `iterations/NNN/metrics/0000.prom`,
 * `0001.prom`, ... in the order taken; `metrics/index.json` says when each was
 * taken (monotonic µs, the records' clock, and wall time), whether it succeeded,
 * and the iteration's measured window, so a reader can keep the samples taken
 * under load. Folders written before interval scraping hold only
 * `metrics-start.prom` and `metrics-end.prom`; they read as two samples with no window.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export const SCRAPES_DIR = 'metrics';
export const SCRAPE_INDEX_FILE = 'index.json';
export const SCRAPE_INDEX_SCHEMA_VERSION = 1;

/** One scrape, as index.json lists it. */
export interface ScrapeEntry {
  /** 0-based, the order taken. */
  index: number;
  /** The file under `metrics/`: `0003.prom`. */
  file: string;
  /** `start` before any request, `interval` while the load runs, `end` once it drained. */
  kind: 'start' | 'interval' | 'end';
  /** Monotonic µs (the request records' clock) when the scrape was sent and when its body was whole. */
  sent_at_us: number;
  done_at_us: number;
  /** ISO wall time of `done_at_us`. */
  done_at: string;
  ok: boolean;
  /** Why it failed (HTTP status, timeout, body over the limit); the file then holds only a comment. */
  reason?: string;
  body_bytes: number;
}

export interface ScrapeIndex {
  schema_version: number;
  url: string;
  /** The interval asked for, and the gap the first ticks started from (they double up to it). */
  interval_ms: number;
  first_interval_ms: number;
  /** Ticks not scraped because the previous scrape was still in flight. */
  skipped_ticks: number;
  /** min(sent_at) .. max(last_token_at or done_at) of the measured requests; null without any. */
  measured_window_us: { start_us: number; end_us: number } | null;
  scrapes: ScrapeEntry[];
}

/** The file name of scrape `index`: `0007.prom`. */
export function scrapeFileName(index: number): string {
  return `${String(index).padStart(4, '0')}.prom`;
}

/** One scrape as read back: when it was taken (null for a legacy folder's two files), and its text on demand. */
export interface ScrapeSample {
  at_us: number | null;
  kind: ScrapeEntry['kind'];
  /** Reads the file: callers take one sample at a time, so an iteration's scrapes are never all in memory. */
  text(): Promise<string>;
}

export interface IterationScrapes {
  samples: ScrapeSample[];
  window: { start_us: number; end_us: number } | null;
}

/**
 * The successful scrapes of an iteration folder (an absolute path), in the order
 * taken; null when the folder has none (metrics not scraped).
 */
export async function readIterationScrapes(iterationFolder: string): Promise<IterationScrapes | null> {
  const indexText = await readFile(join(iterationFolder, SCRAPES_DIR, SCRAPE_INDEX_FILE), 'utf8').catch(
    () => null,
  );
  if (indexText !== null) {
    const index = JSON.parse(indexText) as ScrapeIndex;
    const samples: ScrapeSample[] = index.scrapes
      // The index is evidence, not trusted to name files outside its folder.
      .filter((entry) => entry.ok && /^\d{4,}\.prom$/.test(entry.file))
      .map((entry) => ({
        at_us: entry.done_at_us,
        kind: entry.kind,
        text: () => readFile(join(iterationFolder, SCRAPES_DIR, entry.file), 'utf8'),
      }));
    return samples.length === 0 ? null : { samples, window: index.measured_window_us };
  }
  const legacy = async (name: string): Promise<ScrapeSample | null> => {
    const text = await readFile(join(iterationFolder, name), 'utf8').catch(() => null);
    return text === null
      ? null
      : {
          at_us: null,
          kind: name === 'metrics-start.prom' ? 'start' : 'end',
          text: () => Promise.resolve(text),
        };
  };
  const [start, end] = await Promise.all([legacy('metrics-start.prom'), legacy('metrics-end.prom')]);
  return start === null || end === null ? null : { samples: [start, end], window: null };
}
