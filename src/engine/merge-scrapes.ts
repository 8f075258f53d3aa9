/**
 * The telemetry of a merged iteration: every shard scraped the same targets (the server's
 * /metrics, GPU, node and cluster exporters), so the merged run keeps one shard's scrapes of
 * every target (the lowest shard that finished the iteration), the scrape files byte for byte
 * and each index.json with its times moved onto the coordinator's clock and the merged
 * records' measured window (telemetry/scrape-files.ts). Shard folders from before telemetry
 * targets hold `metrics/`, copied the same way.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunFolder } from '../evidence/run-folder.js';
import {
  LEGACY_SCRAPES_DIR,
  SCRAPE_INDEX_FILE,
  TARGET_NAME,
  targetDir,
  TELEMETRY_DIR,
  type ScrapeIndex,
} from '../telemetry/scrape-files.js';

/**
 * Copies the scrapes of `shardIterationDir` (absolute) into `iterationDir` (relative to
 * `folder`); nothing when the shard scraped nothing.
 */
export async function copyShardScrapes(
  folder: RunFolder,
  iterationDir: string,
  shardIterationDir: string,
  clockOffsetUs: number,
  window: ScrapeIndex['measured_window_us'],
): Promise<void> {
  const targets = await readdir(join(shardIterationDir, TELEMETRY_DIR)).catch(() => null);
  const dirs =
    targets === null
      ? [LEGACY_SCRAPES_DIR]
      : targets.sort().flatMap((name) => (TARGET_NAME.test(name) ? [targetDir(name)] : []));
  for (const dir of dirs) {
    await copyTarget(folder, `${iterationDir}/${dir}`, join(shardIterationDir, dir), clockOffsetUs, window);
  }
}

async function copyTarget(
  folder: RunFolder,
  to: string,
  from: string,
  clockOffsetUs: number,
  window: ScrapeIndex['measured_window_us'],
): Promise<void> {
  const names = await readdir(from).catch(() => null);
  if (names === null) return;
  for (const name of names.sort()) {
    if (name === SCRAPE_INDEX_FILE || !/^\d{4,}\.prom(\.gz)?$/.test(name)) continue;
    // As the shard wrote it (the scraper already bounded, scrubbed and compressed it).
    await folder.writeBytes(`${to}/${name}`, await readFile(join(from, name)));
  }
  const indexText = await readFile(join(from, SCRAPE_INDEX_FILE), 'utf8').catch(() => null);
  if (indexText === null) return;
  const index = JSON.parse(indexText) as ScrapeIndex;
  const moved: ScrapeIndex = {
    ...index,
    measured_window_us: window,
    scrapes: index.scrapes.map((entry) => ({
      ...entry,
      sent_at_us: entry.sent_at_us - clockOffsetUs,
      done_at_us: entry.done_at_us - clockOffsetUs,
    })),
  };
  await folder.writeJson(`${to}/${SCRAPE_INDEX_FILE}`, moved);
}
