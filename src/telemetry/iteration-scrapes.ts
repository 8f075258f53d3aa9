/**
 * Every telemetry target of one iteration scraped together: the start samples all at once
 * (one slow exporter delays the load once), each target on its own timer while the load
 * runs, the end samples once it drained, then each target's index.json with the measured
 * window. The run folder's output uses it around a process's own load, and a split run's
 * coordinator around the load of all its shards (docs/shards.md): one scraper, one layout.
 */
import type { WallAnchor } from '../base/clock.js';
import type { RunFolder } from '../evidence/run-folder.js';
import type { TelemetryRole } from '../metrics/telemetry-families.js';
import type { ScrapeIndex } from './scrape-files.js';
import { DEFAULT_SCRAPE_INTERVAL_MS, IterationScraper, scrapeIntervalMs } from './scraper.js';

/** A telemetry target (the server's /metrics, a GPU, node or cluster exporter), to read while an iteration's load runs. */
export interface ScrapeTarget {
  url: string;
  /** Its name (its folder under the iteration's `telemetry/`), role and static labels. */
  target: { name: string; role: TelemetryRole; labels: Record<string, string> };
  /** The key goes only where the requests go: a metrics endpoint elsewhere gets none. */
  headers: Record<string, string>;
  /** The interval asked for (spec.metricsIntervalSeconds), before shortening for short iterations; else the default. */
  intervalMs?: number;
  anchor: WallAnchor;
}

export interface IterationScrapesOptions {
  scrapes: readonly ScrapeTarget[];
  folder: RunFolder;
  /** The iteration's folder, relative to the run folder (`iterations/003`). */
  dir: string;
  /** The plan's time limit: a short iteration is scraped more often (scrapeIntervalMs). */
  maxTimeS: number;
  /** The run's Ctrl-C: a scrape in flight ends at once. */
  signal?: AbortSignal;
}

export class IterationScrapes {
  private constructor(private readonly scrapers: IterationScraper[]) {}

  /**
   * Takes every target's start sample (awaited: before any request is sent) and starts
   * their timers. When one cannot start, those started are stopped and its error thrown.
   */
  static async start(options: IterationScrapesOptions): Promise<IterationScrapes> {
    const { folder, dir, maxTimeS, signal } = options;
    const started = await Promise.allSettled(
      options.scrapes.map((scrape) =>
        IterationScraper.start({
          url: scrape.url,
          headers: scrape.headers,
          target: scrape.target,
          folder,
          dir,
          anchor: scrape.anchor,
          intervalMs: scrapeIntervalMs(scrape.intervalMs ?? DEFAULT_SCRAPE_INTERVAL_MS, maxTimeS),
          ...(signal ? { signal } : {}),
        }),
      ),
    );
    const scrapes = new IterationScrapes(started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : [])));
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) {
      await scrapes.stop(null).catch(() => undefined);
      throw failed.reason;
    }
    return scrapes;
  }

  /** Stops the timers and takes every end sample now (the load has drained); the indexes wait for the window. */
  async end(): Promise<void> {
    const ended = await Promise.allSettled(this.scrapers.map((scraper) => scraper.end()));
    const failed = ended.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** Ends them if not yet ended, and writes each target's index with the measured window. */
  async stop(window: ScrapeIndex['measured_window_us']): Promise<void> {
    const stopped = await Promise.allSettled(this.scrapers.map((scraper) => scraper.stop(window)));
    const failed = stopped.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
  }
}
