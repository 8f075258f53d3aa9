// Every target of an iteration scraped together, against raw node:http exporters on
// loopback that log when each GET arrives: the start samples are taken before start()
// returns, end() takes the end samples then and there (a target's GETs stop with it), and
// stop() writes each index with the window it is given, later, without another GET.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { nowUs, takeAnchor } from '../base/clock.js';
import { RunFolder } from '../evidence/run-folder.js';
import { IterationScrapes, type ScrapeTarget } from './iteration-scrapes.js';
import type { ScrapeIndex } from './scrape-files.js';

/** An exporter that answers every GET with one gauge, and logs when each arrived (µs, this process's clock). */
async function exporter(): Promise<{ server: Server; url: string; gets: number[] }> {
  const gets: number[] = [];
  const server = createServer((_req, res) => {
    gets.push(nowUs());
    res.end(`# TYPE up gauge\nup ${gets.length}\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`, gets };
}

test('start samples before start() returns, end samples at end(), indexes with the window at stop()', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'infermark-iteration-scrapes-'));
  const a = await exporter();
  const b = await exporter();
  try {
    const folder = await RunFolder.create(dir);
    const anchor = takeAnchor();
    const scrapes: ScrapeTarget[] = [
      {
        url: a.url,
        headers: {},
        target: { name: 'server', role: 'server', labels: {} },
        intervalMs: 100,
        anchor,
      },
      { url: b.url, headers: {}, target: { name: 'gpu', role: 'gpu', labels: {} }, intervalMs: 100, anchor },
    ];
    const open = await IterationScrapes.start({ scrapes, folder, dir: 'iterations/000', maxTimeS: 60 });
    assert.deepEqual(
      [a.gets.length, b.gets.length],
      [1, 1],
      'both start samples taken before start() returned',
    );
    await new Promise((resolve) => setTimeout(resolve, 450));
    const endedAt = nowUs();
    await open.end();
    const atEnd = [a.gets.length, b.gets.length];
    assert.ok(
      atEnd.every((n) => n >= 3),
      `interval samples meanwhile, then the end sample: ${atEnd.join(', ')}`,
    );
    assert.ok(a.gets.at(-1)! >= endedAt && b.gets.at(-1)! >= endedAt, 'the end samples were taken at end()');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const window = { start_us: 1, end_us: 2 };
    await open.stop(window);
    assert.deepEqual([a.gets.length, b.gets.length], atEnd, 'no GET after end(), stop() included');
    for (const [target, exp] of [
      ['server', a],
      ['gpu', b],
    ] as const) {
      const index = JSON.parse(
        await readFile(join(dir, 'iterations/000/telemetry', target, 'index.json'), 'utf8'),
      ) as ScrapeIndex;
      assert.deepEqual(index.measured_window_us, window);
      assert.equal(index.scrapes.length, exp.gets.length);
      assert.deepEqual([index.scrapes[0]?.kind, index.scrapes.at(-1)?.kind], ['start', 'end']);
    }
  } finally {
    a.server.close();
    b.server.close();
    await rm(dir, { recursive: true, force: true });
  }
});
