/**
 * The diagnosis in headless Chromium: a baseline run and a faulted run of the same
 * job against the simulator on the same port (the fault: the simulator's batch
 * `capacity` cut to 1, so requests queue), both ingested; `report FAULTED --vs
 * BASELINE` opened offline as file://, and `infermark serve`'s compare and run
 * pages. Each diagnosis section is screenshotted (artifacts/e2e/diagnosis-*.png),
 * and each finding's first evidence link is followed: in the report to the raw
 * file (its pointed line is there), in the dashboard to the evidence page (the
 * pointed line highlighted and in view, the file's sha256 ok). A fixture Diagnosis
 * pointed at the faulted run's real files checks the same rendering and links
 * before diagnose() finds anything of its own.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readFile, rm, writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { freePort } from '../base/testing/free-port.js';
import { cli, runFolderUnder, type CliResult } from '../cli/testing/harness.js';
import type { Diagnosis, EvidencePointer } from '../diagnose/diagnosis.js';
import { buildReportData } from '../report/report-data.js';
import { dashboardEvidenceLinker, diagnosisHtml } from '../report/report-diagnosis.js';
import { renderHtml } from '../report/report-html.js';
import { fixtureDiagnosis } from '../report/testing/diagnosis-fixture.js';
import { MAX_LINE_CHARS } from '../server/evidence-page.js';
import { spawnSimulator } from '../sim/spawn.js';
import type { SimulatorOptions } from '../sim/options.js';
import { launchChromium, rows, SCREENSHOTS, withWarehouse } from './browser.js';

/** The simulator of both runs; the faulted run's differs by FAULT only. */
const SIMULATOR: Partial<SimulatorOptions> = {
  model: 'm',
  ttftMs: 8,
  ttftPerInputTokenMs: 0,
  itlMs: 2,
  itlJitterMs: 1,
  batchSlowdown: 0,
};
const FAULT: Partial<SimulatorOptions> = { capacity: 1 };

let tmp: string;
let warehousePath: string;
let baselineRun: string;
let faultedRun: string;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let server: ChildProcess | undefined;
let served: Promise<CliResult>;
let base: string;

async function runOnce(
  port: number,
  job: string,
  out: string,
  options: Partial<SimulatorOptions>,
): Promise<string> {
  const sim = await spawnSimulator({ ...SIMULATOR, ...options, port });
  try {
    const made = await cli(['run', job, '--out', out, '--quiet', '--warehouse', warehousePath], {
      timeoutMs: 90_000,
    });
    assert.equal(made.code, 0, made.stderr);
  } finally {
    await sim.close();
  }
  const folder = await runFolderUnder(out);
  return (JSON.parse(await readFile(join(folder, 'run.json'), 'utf8')) as { run_id: string }).run_id;
}

/** `infermark serve --port 0`, resolved with the URL it prints once listening. */
function serve(): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    served = cli(['serve', '--warehouse', warehousePath, '--port', '0'], {
      timeoutMs: 300_000,
      onSpawn: (child) => {
        server = child;
        child.stdout?.on('data', (chunk: Buffer) => {
          out += chunk.toString('utf8');
          const url = /listening on (http:\/\/\S+)/.exec(out)?.[1];
          if (url) resolve(url);
        });
      },
    });
    served.then((r) => reject(new Error(`infermark serve exited early (${r.code}): ${r.stderr}`)), reject);
  });
}

before(async () => {
  browser = await launchChromium();
  tmp = await mkdtemp(join(tmpdir(), 'infermark-e2e-diagnosis-'));
  warehousePath = join(tmp, 'warehouse.duckdb');
  // One port for both simulators: the two runs are of the very same job file.
  const port = await freePort();
  const job = join(tmp, 'job.yaml');
  await writeFile(
    job,
    `apiVersion: ome.io/v1beta1
kind: BenchmarkJob
metadata:
  name: e2e-diagnosis
spec:
  endpoint:
    endpoint:
      url: 'http://127.0.0.1:${port}/v1/chat/completions'
      apiFormat: openai
      modelName: m
  task: text-to-text
  trafficScenarios: ['D(16,6)']
  numConcurrency: [1, 8]
  maxTimePerIteration: 20
  maxRequestsPerIteration: 32
`,
  );
  baselineRun = await runOnce(port, job, join(tmp, 'baseline'), {});
  faultedRun = await runOnce(port, job, join(tmp, 'faulted'), FAULT);
  base = await serve();
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.setDefaultTimeout(15_000);
});

after(async () => {
  await context?.close();
  await browser?.close();
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await served.catch(() => undefined);
  }
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** A run's local run folder, as the warehouse records it. */
async function runFolder(runId: string): Promise<string> {
  const [lineage] = await rows(warehousePath, 'SELECT raw_uris FROM artifact_lineage_dim WHERE run_id = $1', [
    runId,
  ]);
  const folder = (lineage?.raw_uris as string[] | undefined)?.find((u) => u.startsWith('/'));
  assert.ok(folder, `no local folder recorded for ${runId}`);
  return folder;
}

/** The text of a raw artifact (decompressed when gzip), as its lines. */
async function artifactLines(pointer: EvidencePointer): Promise<string[]> {
  const bytes = await readFile(join(await runFolder(pointer.run_id), pointer.path));
  return (pointer.path.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8').split('\n');
}

/** The line a pointer names (a whole file: its first line). */
async function pointedLine(pointer: EvidencePointer): Promise<string> {
  const lines = await artifactLines(pointer);
  const line = lines[(pointer.line ?? 1) - 1];
  assert.ok(line !== undefined, `${pointer.path} has no line ${pointer.line}`);
  return line;
}

/** A report's file:// link: into one of the two runs' folders, its pointed line there, and followed in the browser. */
async function assertFileLink(
  tab: Page,
  link: { href: string; path: string; line: number | null },
): Promise<void> {
  assert.match(link.href, /^file:\/\//);
  const target = fileURLToPath(link.href);
  const folders = [await runFolder(faultedRun), await runFolder(baselineRun)];
  assert.ok(
    folders.some((f) => target === join(f, link.path)),
    `${link.href} is not ${link.path} in a run folder`,
  );
  const bytes = await readFile(target);
  const lines = (link.path.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8').split('\n');
  const expected = lines[(link.line ?? 1) - 1];
  assert.ok(expected !== undefined, `${link.path} has no line ${link.line}`);
  const text = await followFileLink(tab, link.href, link.path.endsWith('.gz'));
  assert.ok(text.split('\n').includes(expected), `${link.href}: line ${link.line} not shown`);
}

/** A file:// link followed: Chromium shows text files and downloads others (a gzip scrape). */
async function followFileLink(tab: Page, href: string, gzip: boolean): Promise<string> {
  const downloaded = tab.waitForEvent('download', { timeout: 10_000 }).catch(() => null);
  try {
    await tab.goto(href);
    return (await tab.textContent('body')) ?? '';
  } catch (error) {
    if (!/Download is starting/.test(String(error))) throw error;
    const download = await downloaded;
    assert.ok(download, `${href}: neither shown nor downloaded`);
    const bytes = await readFile(await download.path());
    return (gzip ? gunzipSync(bytes) : bytes).toString('utf8');
  }
}

/** The pointers each finding's first evidence link stands for, in order, from the section's links. */
async function firstLinks(section: Locator): Promise<{ href: string; path: string; line: number | null }[]> {
  return section.locator('[data-testid=finding]').evaluateAll((findings) =>
    findings.flatMap((f) => {
      const a = f.querySelector('a[data-testid=evidence-link]');
      if (!a) return [];
      const line = a.getAttribute('data-line');
      return [
        {
          href: a.getAttribute('href') ?? '',
          path: a.getAttribute('data-path') ?? '',
          line: line === null ? null : Number(line),
        },
      ];
    }),
  );
}

/** The evidence page shows the pointed line highlighted and in view, and the file's digest ok. */
async function assertEvidencePage(tab: Page, pointer: EvidencePointer): Promise<void> {
  await tab.getByTestId('evidence-lines').waitFor();
  assert.equal(await tab.getByTestId('evidence-digest').getAttribute('data-state'), 'ok', pointer.path);
  const highlighted = tab.locator('[data-testid=evidence-line][data-highlighted=true]');
  if (pointer.line === undefined) {
    assert.equal(await highlighted.count(), 0);
    return;
  }
  assert.equal(await highlighted.count(), 1, `${pointer.path}:${pointer.line}`);
  assert.equal(await highlighted.getAttribute('data-line'), String(pointer.line));
  const shown = (await highlighted.locator('td').nth(1).textContent()) ?? '';
  const expected = await pointedLine(pointer);
  assert.equal(shown.slice(0, MAX_LINE_CHARS), expected.slice(0, MAX_LINE_CHARS));
  // In view: the whole row, or, for a record that wraps taller than the window, its start.
  // A pixel of slack: the browser's own scroll to `#L5` leaves the row a fraction of a pixel
  // above the top (-0.19 px measured) when the rows above it have fractional heights.
  const inView = await highlighted.evaluate((row) => {
    const r = row.getBoundingClientRect();
    const height = (globalThis as unknown as { innerHeight: number }).innerHeight;
    return r.top >= -1 && r.top < height && (r.bottom <= height + 1 || r.height > height * 0.8);
  });
  assert.ok(inView, `line ${pointer.line} is not scrolled into view`);
}

/**
 * Each finding's first link followed to the dashboard's evidence page; `open` puts
 * the page with the section back before each (it is left for the evidence page).
 */
async function followDashboardLinks(
  open: () => Promise<Locator>,
  runId: string,
  shotName: string,
): Promise<number> {
  const found = await firstLinks(await open());
  let followed = 0;
  for (const [i, link] of found.entries()) {
    const pointer: EvidencePointer = {
      run_id: decodeURIComponent(/^\/runs\/([^/]+)\/evidence\?/.exec(link.href)?.[1] ?? ''),
      path: link.path,
      label: link.path,
      ...(link.line !== null ? { line: link.line } : {}),
    };
    assert.ok([runId, baselineRun].includes(pointer.run_id), link.href);
    const section = followed === 0 ? page.getByTestId('diagnosis') : await open();
    await Promise.all([
      page.waitForURL('**/evidence?**'),
      section.locator('[data-testid=finding]').nth(i).locator('a[data-testid=evidence-link]').first().click(),
    ]);
    await assertEvidencePage(page, pointer);
    if (followed === 0) await page.screenshot({ path: join(SCREENSHOTS, `${shotName}.png`) });
    followed += 1;
  }
  return followed;
}

test('a fixture diagnosis on the real runs: the sections render, every first evidence link leads to its line', async () => {
  const [artifact] = await rows(
    warehousePath,
    "SELECT path FROM run_artifact WHERE run_id = $1 AND path LIKE 'iterations/%/requests.jsonl' ORDER BY path DESC LIMIT 1",
    [faultedRun],
  );
  const fixture: Diagnosis = fixtureDiagnosis({
    runId: faultedRun,
    baselineRunId: baselineRun,
    requestsPath: String(artifact?.path),
    requestsLine: 5,
    scrapePath: 'run.json',
  });
  // The report: built from the warehouse as `report --vs` builds it, with the fixture as its diagnosis.
  const data = await withWarehouse(warehousePath, (w) => buildReportData(w, faultedRun, { vs: baselineRun }));
  data.diagnosis = fixture;
  const file = join(tmp, 'fixture-report.html');
  await writeFile(file, renderHtml(data, 'engineering'));
  const offline = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await offline.setOffline(true);
  try {
    const tab = await offline.newPage();
    await tab.goto(pathToFileURL(file).href);
    const section = tab.getByTestId('diagnosis');
    assert.equal(await section.getAttribute('data-findings'), '3');
    assert.equal(await section.getByTestId('finding').count(), 3);
    assert.ok(await section.getByTestId('decomposition-bar').first().isVisible());
    await section.screenshot({ path: join(SCREENSHOTS, 'diagnosis-fixture-report.png') });
    const links = await firstLinks(section);
    assert.equal(links.length, 2, 'the third finding has no evidence');
    for (const link of links) {
      await assertFileLink(tab, link);
    }
  } finally {
    await offline.close();
  }

  // The dashboard: its compare page, the section swapped for the fixture's (diagnose() finds nothing yet).
  const html = diagnosisHtml(fixture, dashboardEvidenceLinker);
  const open = async (): Promise<Locator> => {
    await page.goto(`${base}/compare?a=${baselineRun}&b=${faultedRun}`);
    await page.getByTestId('diagnosis').evaluate((el, replacement) => {
      el.outerHTML = replacement;
    }, html);
    return page.getByTestId('diagnosis');
  };
  await (await open()).screenshot({ path: join(SCREENSHOTS, 'diagnosis-fixture-dashboard.png') });
  assert.equal(await followDashboardLinks(open, faultedRun, 'diagnosis-fixture-evidence'), 2);
});

test('report --vs: the faulted run’s diagnosis names a finding, and each finding’s evidence link opens its raw line', async () => {
  const file = join(tmp, 'report.html');
  const made = await cli(
    ['report', faultedRun, '--vs', baselineRun, '--warehouse', warehousePath, '-o', file],
    {
      timeoutMs: 60_000,
    },
  );
  assert.equal(made.code, 0, made.stderr);
  const offline = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await offline.setOffline(true);
  try {
    const tab = await offline.newPage();
    await tab.goto(pathToFileURL(file).href);
    const section = tab.getByTestId('diagnosis');
    await section.screenshot({ path: join(SCREENSHOTS, 'diagnosis-report.png') });
    const count = Number(await section.getAttribute('data-findings'));
    assert.ok(count >= 1, `no finding for the faulted run: ${(await section.textContent())?.slice(0, 800)}`);
    const links = await firstLinks(section);
    assert.ok(links.length >= 1, 'no finding links its evidence');
    for (const link of links) {
      await assertFileLink(tab, link);
    }
  } finally {
    await offline.close();
  }
});

test('the dashboard’s compare and run pages show the diagnosis; each finding’s evidence link opens its line, digest ok', async () => {
  await page.goto(`${base}/runs/${faultedRun}`);
  await page.getByTestId('diagnosis').screenshot({ path: join(SCREENSHOTS, 'diagnosis-dashboard-run.png') });
  const open = async (): Promise<Locator> => {
    await page.goto(`${base}/compare?a=${baselineRun}&b=${faultedRun}`);
    return page.getByTestId('diagnosis');
  };
  const section = await open();
  await section.screenshot({ path: join(SCREENSHOTS, 'diagnosis-dashboard-compare.png') });
  const count = Number(await section.getAttribute('data-findings'));
  assert.ok(count >= 1, `no finding for the faulted run: ${(await section.textContent())?.slice(0, 800)}`);
  const followed = await followDashboardLinks(open, faultedRun, 'diagnosis-evidence');
  assert.ok(followed >= 1, 'no finding links its evidence');
});
