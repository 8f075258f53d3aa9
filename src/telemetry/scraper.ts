/**
 * Scrapes one telemetry target (the server's /metrics, a GPU, node or cluster exporter)
 * during an iteration, so its gauges (requests running and waiting, KV-cache usage, GPU
 * utilisation) are read under load and not after the load drained: once before the first request, on a timer while the load runs,
 * once after it drained. The timer is off the request path: nothing the
 * dispatcher does awaits a scrape, a tick is skipped while the previous scrape
 * is in flight, and each scrape is bounded in time and bytes. The first ticks
 * come MIN_INTERVAL_MS apart and the gap doubles up to the interval asked for,
 * so an iteration of a second still gets samples under load and a long one is
 * not scraped more than it needs. Every scrape is kept, compressed, with its series
 * counted by the parser and its cardinality guard (see scrape-files.ts, prom-parse.ts).
 */
import { boundedGet } from '../base/bounded-get.js';
import { nowUs, wallIso, type WallAnchor } from '../base/clock.js';
import { redactUrl } from '../base/redact.js';
import type { RunFolder } from '../evidence/run-folder.js';
import type { TelemetryRole } from '../metrics/telemetry-families.js';
import { parsePrometheus } from './prom-parse.js';
import {
  MAX_SCRAPE_BYTES,
  SCRAPE_INDEX_FILE,
  SCRAPE_INDEX_SCHEMA_VERSION,
  scrapeFileName,
  targetDir,
  type ScrapeEntry,
  type ScrapeIndex,
} from './scrape-files.js';

export { MAX_SCRAPE_BYTES } from './scrape-files.js';

export const DEFAULT_SCRAPE_INTERVAL_MS = 2_000;
/** The first gap, and the shortest a plan's time limit can shrink the interval to. */
export const MIN_INTERVAL_MS = 250;
export const SCRAPE_TIMEOUT_MS = 3_000;
/** Bodies up to this size get their series counted in index.json (about 1 ms of parsing per 100 KiB). */
export const MAX_COUNTED_BYTES = 1024 * 1024;

export type BoundedFetch =
  { ok: true; text: string; bytes: number } | { ok: false; reason: string; bytes: number };

/** GET with a deadline on the whole exchange and a cap on the body; failures are data, not errors. */
export async function fetchBounded(
  url: string,
  headers: Record<string, string>,
  limits: { timeoutMs: number; maxBytes: number; signal?: AbortSignal },
): Promise<BoundedFetch> {
  const result = await boundedGet(url, headers, limits);
  return result.ok ? result : { ok: false, reason: result.reason, bytes: result.bytes };
}

/**
 * The interval for an iteration: the one asked for, shortened so an iteration that
 * runs to its time limit gets at least three samples under load, never below MIN_INTERVAL_MS
 * (unless asked for less).
 */
export function scrapeIntervalMs(asked_ms: number, max_time_s: number): number {
  return Math.min(asked_ms, Math.max(MIN_INTERVAL_MS, (max_time_s * 1000) / 3));
}

/** Which target: its name (its folder), role and static labels. */
export interface ScrapedTarget {
  name: string;
  role: TelemetryRole;
  labels: Record<string, string>;
}

export interface ScraperOptions {
  url: string;
  headers: Record<string, string>;
  /** The server's /metrics (`server`, role server) when omitted. */
  target?: ScrapedTarget;
  folder: RunFolder;
  /** The iteration's folder, relative to the run folder (`iterations/003`). */
  dir: string;
  anchor: WallAnchor;
  intervalMs: number;
  timeoutMs?: number;
  maxBytes?: number;
  /**
   * The run's Ctrl-C: a scrape in flight ends at once (recorded as interrupted), so a hanging
   * /metrics cannot hold the interruption for its deadline.
   */
  signal?: AbortSignal;
}

export class IterationScraper {
  private readonly entries: ScrapeEntry[] = [];
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  private skipped = 0;
  private gapMs: number;
  private stopped = false;
  private ended: Promise<void> | null = null;
  private readonly firstGapMs: number;
  private readonly target: ScrapedTarget;
  /** The target's folder, relative to the run folder (`iterations/003/telemetry/gpu`). */
  private readonly targetDir: string;

  private constructor(private readonly options: ScraperOptions) {
    this.firstGapMs = Math.min(MIN_INTERVAL_MS, options.intervalMs);
    this.gapMs = this.firstGapMs;
    this.target = options.target ?? { name: 'server', role: 'server', labels: {} };
    this.targetDir = `${options.dir}/${targetDir(this.target.name)}`;
  }

  /** Takes the start sample (awaited: before any request is sent), then starts the timer. */
  static async start(options: ScraperOptions): Promise<IterationScraper> {
    const scraper = new IterationScraper(options);
    await scraper.scrapeOnce('start');
    scraper.schedule();
    return scraper;
  }

  /**
   * Stops the timer, waits for a scrape in flight and takes the end sample, once: the
   * load has drained, and the measured window may be known only later (stop).
   */
  end(): Promise<void> {
    this.ended ??= (async () => {
      this.stopped = true;
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      await this.inFlight;
      await this.scrapeOnce('end');
    })();
    return this.ended;
  }

  /** Ends the scraper (unless end did) and writes the index with the iteration's measured window. */
  async stop(measuredWindow: ScrapeIndex['measured_window_us']): Promise<ScrapeIndex> {
    await this.end();
    const index: ScrapeIndex = {
      schema_version: SCRAPE_INDEX_SCHEMA_VERSION,
      target: this.target.name,
      role: this.target.role,
      labels: this.target.labels,
      // As run.json writes it: no userinfo, no secret-looking query values.
      url: redactUrl(this.options.url),
      interval_ms: this.options.intervalMs,
      first_interval_ms: this.firstGapMs,
      skipped_ticks: this.skipped,
      measured_window_us: measuredWindow,
      scrapes: this.entries,
    };
    await this.options.folder.writeJson(`${this.targetDir}/${SCRAPE_INDEX_FILE}`, index);
    return index;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => this.tick(), this.gapMs);
    // A forgotten scraper must not keep the process alive.
    this.timer.unref();
  }

  private tick(): void {
    this.timer = null;
    if (this.stopped) return;
    if (this.inFlight) this.skipped++;
    else
      this.inFlight = this.scrapeOnce('interval').finally(() => {
        this.inFlight = null;
      });
    this.gapMs = Math.min(this.options.intervalMs, this.gapMs * 2);
    this.schedule();
  }

  /** One scrape, written as it comes; never throws (a timer callback has no one to throw to). */
  private async scrapeOnce(kind: ScrapeEntry['kind']): Promise<void> {
    const index = this.entries.length;
    const file = scrapeFileName(index);
    const sent_at_us = nowUs();
    const result = await fetchBounded(this.options.url, this.options.headers, {
      timeoutMs: this.options.timeoutMs ?? SCRAPE_TIMEOUT_MS,
      maxBytes: this.options.maxBytes ?? MAX_SCRAPE_BYTES,
      ...(this.options.signal ? { signal: this.options.signal } : {}),
    });
    const done_at_us = nowUs();
    let reason = result.ok ? undefined : result.reason;
    // Counted here for the index only where that is cheap: this runs on the load's event loop,
    // and a body of many MiB would stall the requests in flight (ingest counts every scrape anyway).
    const parsed = result.ok && result.text.length <= MAX_COUNTED_BYTES ? parsePrometheus(result.text) : null;
    try {
      await this.options.folder.writeGzipText(
        `${this.targetDir}/${file}`,
        result.ok ? result.text : `# scrape failed: ${result.reason}\n`,
      );
    } catch (error) {
      reason = `not written: ${(error as Error).message}`;
    }
    this.entries.push({
      index,
      file,
      kind,
      sent_at_us,
      done_at_us,
      done_at: wallIso(this.options.anchor, done_at_us),
      ok: reason === undefined,
      ...(reason === undefined ? {} : { reason }),
      body_bytes: result.bytes,
      ...(parsed
        ? {
            series: parsed.samples.length,
            bad_lines: parsed.bad_lines,
            dropped_series: parsed.dropped_series,
          }
        : {}),
    });
  }
}
