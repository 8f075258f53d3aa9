/**
 * How an iteration's telemetry scrapes lie in the run folder, and reading them back. Each
 * target (spec.telemetry, plus the server's /metrics) has its own folder,
 * `iterations/NNN/telemetry/<target>/`, holding every scrape gzip-compressed in the order
 * taken (`0000.prom.gz`, `0001.prom.gz`, ...) and `index.json`: the target's name, role and
 * labels, its URL (redacted), when each scrape was taken (monotonic µs on the records'
 * clock, and wall time), whether it succeeded, how many series it had and how many the
 * cardinality guard dropped, and the iteration's measured window (docs/telemetry.md).
 *
 * Older folders read too: `iterations/NNN/metrics/0000.prom` + `metrics/index.json` (one
 * server target, uncompressed), and before that `metrics-start.prom` / `metrics-end.prom`,
 * which read as two samples with no window.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import type { TelemetryRole } from '../metrics/telemetry-families.js';

export const TELEMETRY_DIR = 'telemetry';
/** The one server target's folder before telemetry targets (read, never written). */
export const LEGACY_SCRAPES_DIR = 'metrics';
export const SCRAPE_INDEX_FILE = 'index.json';
/** 2: one folder per target, compressed scrapes, target, role, labels and series counts. */
export const SCRAPE_INDEX_SCHEMA_VERSION = 2;
/** A scrape body past this is not metrics (vLLM's is tens of KiB); it bounds decompression too. */
export const MAX_SCRAPE_BYTES = 32 * 1024 * 1024;
/** A target's folder name as the spec allows it ([a-z0-9-]); anything else in telemetry/ is ignored. */
export const TARGET_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

const gunzipAsync = promisify(gunzip);

/** One scrape, as index.json lists it. */
export interface ScrapeEntry {
  /** 0-based, the order taken. */
  index: number;
  /** The file in the target's folder: `0003.prom.gz` (`0003.prom` in the legacy layout). */
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
  /** Uncompressed bytes of the body. */
  body_bytes: number;
  /** Series read, lines that could not be read, and series the cardinality guard dropped (absent in legacy indexes). */
  series?: number;
  bad_lines?: number;
  dropped_series?: number;
}

export interface ScrapeIndex {
  schema_version: number;
  /** The target's name (its folder) and role, and its static labels; absent in legacy indexes (the server). */
  target?: string;
  role?: TelemetryRole;
  labels?: Record<string, string>;
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

/** The file name of scrape `index`: `0007.prom.gz`. */
export function scrapeFileName(index: number): string {
  return `${String(index).padStart(4, '0')}.prom.gz`;
}

/** A target's folder relative to its iteration's: `telemetry/gpu`. */
export function targetDir(target: string): string {
  return `${TELEMETRY_DIR}/${target}`;
}

/** One scrape as read back: when it was taken (null for a legacy folder's two files), and its text on demand. */
export interface ScrapeSample {
  at_us: number | null;
  /** ISO wall time it was taken, where known. */
  at: string | null;
  kind: ScrapeEntry['kind'];
  /** Relative to the iteration's folder: `telemetry/gpu/0003.prom.gz`. */
  file: string;
  /**
   * Reads (and decompresses, bounded) the file: callers take one sample at a time, so an
   * iteration's scrapes are never all in memory. Rejects when the file is unreadable or
   * decompresses past MAX_SCRAPE_BYTES.
   */
  text(): Promise<string>;
}

export interface IterationScrapes {
  samples: ScrapeSample[];
  window: { start_us: number; end_us: number } | null;
}

/** One target's successful scrapes of an iteration. */
export interface TargetScrapes extends IterationScrapes {
  target: string;
  role: TelemetryRole;
  labels: Record<string, string>;
  /** Its index, where it has one (legacy start/end files have none). */
  index: ScrapeIndex | null;
}

/** A scrape file's text: gunzipped when `.gz`, never past MAX_SCRAPE_BYTES. */
export async function readScrapeFile(path: string): Promise<string> {
  const bytes = await readFile(path);
  if (!path.endsWith('.gz')) return bytes.toString('utf8');
  const text = await gunzipAsync(bytes, { maxOutputLength: MAX_SCRAPE_BYTES });
  return text.toString('utf8');
}

/**
 * Every target's successful scrapes of an iteration folder (an absolute path), targets by
 * name, scrapes in the order taken; empty when nothing was scraped.
 */
export async function readIterationTelemetry(iterationFolder: string): Promise<TargetScrapes[]> {
  const names = await readdir(join(iterationFolder, TELEMETRY_DIR)).catch(() => null);
  if (names !== null) {
    const out: TargetScrapes[] = [];
    for (const name of names.sort()) {
      if (!TARGET_NAME.test(name)) continue;
      const target = await readTarget(iterationFolder, targetDir(name), name);
      if (target) out.push(target);
    }
    return out;
  }
  const legacy = await readTarget(iterationFolder, LEGACY_SCRAPES_DIR, 'server');
  if (legacy) return [legacy];
  const start = await legacyFile(iterationFolder, 'metrics-start.prom');
  const end = await legacyFile(iterationFolder, 'metrics-end.prom');
  if (start === null || end === null) return [];
  return [{ target: 'server', role: 'server', labels: {}, index: null, samples: [start, end], window: null }];
}

/**
 * The server's scrapes of an iteration folder (the target named `server`, else the first of
 * role server); null when it has none.
 */
export async function readIterationScrapes(iterationFolder: string): Promise<IterationScrapes | null> {
  const targets = (await readIterationTelemetry(iterationFolder)).filter((t) => t.role === 'server');
  const server = targets.find((t) => t.target === 'server') ?? targets[0];
  return server && server.samples.length > 0 ? { samples: server.samples, window: server.window } : null;
}

async function readTarget(iterationFolder: string, dir: string, name: string): Promise<TargetScrapes | null> {
  const indexText = await readFile(join(iterationFolder, dir, SCRAPE_INDEX_FILE), 'utf8').catch(() => null);
  if (indexText === null) return null;
  let index: ScrapeIndex;
  try {
    index = JSON.parse(indexText) as ScrapeIndex;
  } catch {
    return null;
  }
  const samples: ScrapeSample[] = (Array.isArray(index.scrapes) ? index.scrapes : [])
    // The index is evidence, not trusted to name files outside its folder.
    .filter((entry) => entry.ok && /^\d{4,}\.prom(\.gz)?$/.test(entry.file))
    .map((entry) => ({
      at_us: entry.done_at_us,
      at: entry.done_at ?? null,
      kind: entry.kind,
      file: `${dir}/${entry.file}`,
      text: () => readScrapeFile(join(iterationFolder, dir, entry.file)),
    }));
  return {
    target: name,
    role: index.role ?? 'server',
    labels: index.labels ?? {},
    index,
    samples,
    window: index.measured_window_us ?? null,
  };
}

async function legacyFile(iterationFolder: string, name: string): Promise<ScrapeSample | null> {
  const text = await readFile(join(iterationFolder, name), 'utf8').catch(() => null);
  return text === null
    ? null
    : {
        at_us: null,
        at: null,
        kind: name === 'metrics-start.prom' ? 'start' : 'end',
        file: name,
        text: () => Promise.resolve(text),
      };
}
