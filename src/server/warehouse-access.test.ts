/**
 * The dashboard and a writer sharing one DuckDB file (one writer or many readers):
 * `infermark serve` polled every 0.5 s must not keep `warehouse ingest` out (it
 * lets go when a writer announces itself); an ingest that cannot get the file says
 * "warehouse busy, not ingested" with exit 75; and a bit-flipped warehouse is
 * reported as corrupt, never as "being written". Real parts: the built CLI, the
 * simulator in its own process, DuckDB files on disk.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { copyFile, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  assertNoStack,
  cli,
  cliRunFolder,
  runArgs,
  simulatorFixture,
  SMALL_RUN,
} from '../cli/testing/harness.js';
import { WAREHOUSE_BUSY_EXIT } from '../warehouse/warehouse-errors.js';
import { Warehouse } from '../warehouse/warehouse.js';
import { startDashboard } from './server.js';
import { holdWarehouse } from '../warehouse/testing/lock-holder.js';

let runFolder: string;

const { sim, tmp } = simulatorFixture(
  'infermark-warehouse-access-',
  { ttftMs: 2, ttftPerInputTokenMs: 0, itlMs: 1, itlJitterMs: 0, batchSlowdown: 0 },
  {
    setUp: async () => {
      const out = join(tmp(), 'runs');
      runFolder = await cliRunFolder(runArgs({ url: sim().url, out, ...SMALL_RUN, warehouse: false }), out);
    },
  },
);

let warehouses = 0;
/** A new, empty (migrated) warehouse file. */
async function emptyWarehouse(): Promise<string> {
  const path = join(tmp(), `w${++warehouses}.duckdb`);
  (await Warehouse.open(path)).close();
  return path;
}

async function runCount(path: string): Promise<number> {
  return Warehouse.using(path, { readOnly: true }, async (w) =>
    Number((await w.all('SELECT count(*) AS n FROM benchmark_run_fact'))[0]?.n),
  );
}

/** `infermark serve` on `path`, on a free port; resolves once it listens. */
async function serve(path: string): Promise<{ url: string; stop: () => Promise<number | null> }> {
  let child: ChildProcess | undefined;
  let resolveUrl: (url: string) => void = () => undefined;
  const listening = new Promise<string>((resolve) => (resolveUrl = resolve));
  const running = cli(['serve', '--warehouse', path, '--port', '0'], {
    timeoutMs: 60_000,
    onSpawn: (spawned) => {
      child = spawned;
      let out = '';
      spawned.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString('utf8');
        const found = /listening on (http:\/\/\S+)/.exec(out);
        if (found) resolveUrl(found[1] as string);
      });
    },
  });
  const url = await Promise.race([
    listening,
    running.then((result) => assert.fail(`serve exited ${result.code}: ${result.stderr}`)),
  ]);
  return {
    url,
    stop: async () => {
      child?.kill('SIGTERM');
      return (await running).code;
    },
  };
}

test('a dashboard polled every 0.5 s lets `warehouse ingest` in: the run is ingested and then shown', async () => {
  const path = await emptyWarehouse();
  const dashboard = await serve(path);
  const statuses: number[] = [];
  let shown = 0;
  let polling = true;
  // Bounded: at most 60 polls (30 s), whatever happens.
  const poller = (async () => {
    for (let i = 0; i < 60 && polling; i++) {
      const response = await fetch(`${dashboard.url}/api/runs`);
      statuses.push(response.status);
      const body = (await response.json()) as { total?: number };
      if (response.status === 200) shown = body.total ?? 0;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  })();
  try {
    // The dashboard holds the file now (its idle close is 2 s; the polls come every 0.5 s).
    while (statuses.length < 3) await new Promise((resolve) => setTimeout(resolve, 50));
    const started = Date.now();
    const ingest = await cli(['warehouse', 'ingest', runFolder, '--warehouse', path], { timeoutMs: 30_000 });
    const took_ms = Date.now() - started;
    assert.equal(ingest.code, 0, ingest.stderr);
    assert.match(ingest.stdout, /ingested/);
    // Before the dashboard yielded, the ingest waited its whole 15 s and failed.
    assert.ok(took_ms < 12_000, `the ingest took ${took_ms} ms`);
    for (let i = 0; i < 40 && shown !== 1; i++) await new Promise((resolve) => setTimeout(resolve, 250));
    assert.equal(shown, 1, `the dashboard shows the ingested run (statuses ${statuses.join(',')})`);
    // While the writer had the file the dashboard said busy (503), never anything else.
    assert.deepEqual(
      statuses.filter((status) => status !== 200 && status !== 503),
      [],
      statuses.join(','),
    );
  } finally {
    polling = false;
    await poller;
    assert.equal(await dashboard.stop(), 0);
  }
  assert.equal(await runCount(path), 1);
});

test('an ingest that cannot get the warehouse says "warehouse busy, not ingested" and exits 75', async () => {
  const path = await emptyWarehouse();
  // Another writer (as another run's ingest) holds the file until its stdin closes.
  const writer = await holdWarehouse(path);
  try {
    const ingest = await cli(['warehouse', 'ingest', runFolder, '--warehouse', path, '--lock-wait', '1'], {
      timeoutMs: 30_000,
    });
    assert.equal(ingest.code, WAREHOUSE_BUSY_EXIT, ingest.stderr);
    assert.equal(WAREHOUSE_BUSY_EXIT, 75);
    assert.match(
      ingest.stderr,
      /^infermark: warehouse busy, not ingested \(E_WAREHOUSE_BUSY\): another process holds \S+w\d+\.duckdb \(DuckDB: IO Error: Could not set lock[^\n]*\); waited 1 s, try again$/m,
    );
    assert.doesNotMatch(ingest.stderr, /internal error/);
    assertNoStack(ingest);
  } finally {
    await writer.release();
  }
  assert.equal(await runCount(path), 0, 'nothing was ingested');
});

/** 16 bytes inverted in DuckDB's database header at 4096: its checksum error names "block at location 4096". */
async function bitFlip(path: string): Promise<void> {
  const bytes = await readFile(path);
  for (let i = 0; i < 16; i++) bytes[4096 + 20 + i] = (bytes[4096 + 20 + i] as number) ^ 0xff;
  await writeFile(path, bytes);
}

test('a bit-flipped warehouse is reported corrupt by the dashboard (500 with its code), not "being written"', async () => {
  const path = await emptyWarehouse();
  const logged: string[] = [];
  const dashboard = await startDashboard({
    warehousePath: path,
    port: 0,
    idleCloseMs: 20,
    log: (l) => logged.push(l),
  });
  try {
    assert.equal((await fetch(`${dashboard.url}/api/runs`)).status, 200);
    // The dashboard has let go of the file (idle); the file on disk is then damaged.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const broken = `${path}.broken`;
    await copyFile(path, broken);
    await bitFlip(broken);
    await rename(broken, path);

    const api = await fetch(`${dashboard.url}/api/runs`);
    const body = (await api.json()) as { error: { code: string; message: string } };
    assert.equal(api.status, 500, JSON.stringify(body));
    assert.equal(api.headers.get('retry-after'), null, 'waiting will not mend it');
    assert.equal(body.error.code, 'E_WAREHOUSE_CORRUPT');
    assert.match(body.error.message, /is corrupt \(E_WAREHOUSE_CORRUPT\): restore it from a backup/);
    assert.doesNotMatch(body.error.message, /being written|busy/);
    const page = await fetch(`${dashboard.url}/`);
    assert.equal(page.status, 500);
    assert.match(await page.text(), /is corrupt/);
    assert.deepEqual(logged, [], 'not an internal error');
  } finally {
    await dashboard.close();
  }

  // `infermark serve` on it: the same words, exit 1, no stack.
  const served = await cli(['serve', '--warehouse', path, '--port', '0'], { timeoutMs: 30_000 });
  assert.equal(served.code, 1, served.stderr);
  assert.match(served.stderr, /^infermark: warehouse \S+ is corrupt \(E_WAREHOUSE_CORRUPT\)/m);
  assertNoStack(served);
});
