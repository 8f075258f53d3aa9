/**
 * The server's /metrics of a merged iteration: every shard scraped the same server, so
 * the merged run keeps one shard's scrapes (the lowest that finished the iteration),
 * the .prom files byte for byte and index.json with its times moved onto the
 * coordinator's clock and the merged records' measured window (telemetry/scrape-files.ts).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunFolder } from '../evidence/run-folder.js';
import { SCRAPE_INDEX_FILE, SCRAPES_DIR, type ScrapeIndex } from '../telemetry/scrape-files.js';

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
  const from = join(shardIterationDir, SCRAPES_DIR);
  const names = await readdir(from).catch(() => null);
  if (names === null) return;
  for (const name of names.sort()) {
    if (name === SCRAPE_INDEX_FILE || !/^\d{4,}\.prom$/.test(name)) continue;
    // As the server sent it (the scraper already bounded and scrubbed it).
    await folder.writeText(
      `${iterationDir}/${SCRAPES_DIR}/${name}`,
      await readFile(join(from, name), 'utf8'),
    );
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
  await folder.writeJson(`${iterationDir}/${SCRAPES_DIR}/${SCRAPE_INDEX_FILE}`, moved);
}
