/**
 * The telemetry of a merged iteration. The coordinator scrapes the targets (the server's
 * /metrics, GPU, node and cluster exporters) once for the whole run, into the merged
 * folder itself (engine/coordinator-telemetry.ts): the merge keeps those files and sets
 * each index.json's measured window to the merged records'. In runs from before that,
 * every shard scraped the same targets, so the merged run keeps one shard's scrapes of
 * every target (the lowest shard that finished the iteration), the scrape files byte for
 * byte and each index.json with its times moved onto the coordinator's clock and the merged
 * records' measured window (telemetry/scrape-files.ts). Shard folders from before telemetry
 * targets hold `metrics/`, copied the same way.
 */
import { isDeepStrictEqual } from 'node:util';
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

/**
 * Sets the measured window of every target's index.json in `iterationDir` (relative to
 * `folder`), as the coordinator scraped it; an index that has it already is left as it is.
 * A target with no index (the coordinator was killed mid-iteration) keeps its files unread.
 */
export async function setScrapeWindows(
  folder: RunFolder,
  iterationDir: string,
  window: ScrapeIndex['measured_window_us'],
): Promise<void> {
  const targets = await readdir(join(folder.dir, iterationDir, TELEMETRY_DIR)).catch(() => [] as string[]);
  for (const name of targets.sort()) {
    if (!TARGET_NAME.test(name)) continue;
    const path = `${iterationDir}/${targetDir(name)}/${SCRAPE_INDEX_FILE}`;
    const indexText = await readFile(join(folder.dir, path), 'utf8').catch(() => null);
    if (indexText === null) continue;
    const index = JSON.parse(indexText) as ScrapeIndex;
    if (isDeepStrictEqual(index.measured_window_us, window)) continue;
    await folder.writeJson(path, { ...index, measured_window_us: window });
  }
}
