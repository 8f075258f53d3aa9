// Hot metrics of a run split over worker processes: the coordinator's /metrics sums what
// its shards (real `infermark shard` processes) send, live. The same job in one process
// and over 3 workers, against a simulator with fixed latency in its own process, leaves the
// same counters; a split run's endpoint shows its requests while the run goes. Scraped
// over loopback with fetch; small request counts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { executeRunGroup } from '../engine/run-group.js';
import type { RunResult } from '../engine/run.js';
import { loadJobFile, resolveEndpoint } from '../spec/load-job.js';
import { serveHotMetrics } from '../telemetry/metrics-server.js';
import { labelOf, parsePrometheus, type PromSample } from '../telemetry/prom-parse.js';
import { localWorkers } from './local-workers.js';
import { cli, runFolderUnder, simulatorFixture, writeJobYaml } from './testing/harness.js';

const { sim, tmp } = simulatorFixture('infermark-hot-workers-', {
  ttftMs: 15,
  ttftPerInputTokenMs: 0,
  ttftJitterMs: 0,
  itlMs: 2,
  itlJitterMs: 0,
  batchSlowdown: 0,
});

/** Two iterations in two concurrency buckets (2-4 and 5-16), 30 requests each after 2 of warmup. */
async function job(name: string, workers: number): Promise<string> {
  return writeJobYaml(join(tmp(), `${name}.yaml`), {
    name,
    url: sim().url,
    scenarios: ['D(64,12)'],
    concurrency: [2, 8],
    maxRequestsPerIteration: 30,
    maxTimePerIteration: 20,
    spec: ['warmup: { requests: 2 }', `workers: ${workers}`, 'seed: 7'],
  });
}

/** Σ of the samples named `name` whose labels include `where`. */
function total(samples: PromSample[], name: string, where: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(where).every(([k, v]) => labelOf(s, k) === v))
    .reduce((sum, s) => sum + s.value, 0);
}

/** Scrapes `url` every 40 ms until stopped; each scrape's samples, and whether `running()` still held when it came. */
function scrapeWhile(url: () => string | null, running: () => boolean) {
  const scrapes: { samples: PromSample[]; during: boolean }[] = [];
  let stop = false;
  const loop = (async () => {
    for (let i = 0; i < 2_000 && !stop; i++) {
      const at = url();
      if (at !== null) {
        try {
          const text = await (await fetch(at)).text();
          scrapes.push({ samples: parsePrometheus(text).samples, during: running() });
        } catch {
          // Not listening yet, or no longer.
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 40));
    }
  })();
  return {
    scrapes,
    stop: async () => {
      stop = true;
      await loop;
    },
  };
}

interface Counted {
  result: RunResult;
  /** The scrape after the run. */
  after: PromSample[];
  /** Scrapes taken while the run went. */
  during: PromSample[][];
}

/** Runs the job in this process (1) or over local workers, with its hot metrics served on a free port. */
async function runWithHotMetrics(workers: number): Promise<Counted> {
  const file = await job(`hot-${workers}`, workers);
  const validated = await loadJobFile(file);
  const served = await serveHotMetrics(validated, file, { port: '0' });
  let running = true;
  const scraper = scrapeWhile(
    () => served.url,
    () => running,
  );
  try {
    const group = await executeRunGroup(
      {
        job: validated,
        jobFile: file,
        endpoint: resolveEndpoint(validated, {}),
        outRoot: join(tmp(), `out-${workers}`),
        events: served.events({}),
        hot: served.shards,
      },
      undefined,
      workers > 1 ? { count: workers, launcher: localWorkers } : undefined,
    );
    running = false;
    await scraper.stop();
    const after = parsePrometheus(await (await fetch(served.url)).text()).samples;
    return {
      result: group.runs[0] as RunResult,
      after,
      during: scraper.scrapes.filter((s) => s.during).map((s) => s.samples),
    };
  } finally {
    running = false;
    await scraper.stop();
    await served.close();
  }
}

test('--workers 3 leaves the hot metrics of --workers 1: requests by phase and outcome, tokens, histogram counts; live while it runs', async () => {
  const one = await runWithHotMetrics(1);
  const three = await runWithHotMetrics(3);
  for (const { result, after } of [one, three]) {
    for (const s of after.filter((x) => x.name.startsWith('infermark_')))
      assert.equal(labelOf(s, 'run_id'), result.runId, s.series);
  }
  const buckets = ['2-4', '5-16'];
  for (const [at, bucket] of buckets.entries()) {
    const summary = three.result.summaries.find((s) => s.concurrency === [2, 8][at]);
    assert.ok(summary, `an iteration in bucket ${bucket}`);
    const where = { concurrency_bucket: bucket };
    for (const phase of ['warmup', 'measured'])
      for (const outcome of ['ok', 'error', 'cancelled']) {
        const labels = { ...where, phase, outcome };
        assert.equal(
          total(three.after, 'infermark_requests_total', labels),
          total(one.after, 'infermark_requests_total', labels),
          JSON.stringify(labels),
        );
      }
    assert.equal(
      total(three.after, 'infermark_requests_total', { ...where, phase: 'measured', outcome: 'ok' }),
      30,
    );
    assert.equal(total(three.after, 'infermark_requests_total', { ...where, phase: 'warmup' }), 2);
    assert.equal(summary.requests.completed, 30);
    const tokens = total(three.after, 'infermark_output_tokens_total', where);
    assert.equal(tokens, total(one.after, 'infermark_output_tokens_total', where));
    assert.equal(tokens, summary.tokens.output_total);
    for (const name of ['ttft', 'tpot', 'e2e_latency']) {
      assert.equal(total(three.after, `infermark_${name}_seconds_count`, where), 30, name);
      assert.equal(
        total(three.after, `infermark_${name}_seconds_bucket`, { ...where, le: '+Inf' }),
        30,
        name,
      );
    }
    assert.equal(
      total(three.after, 'infermark_itl_seconds_count', where),
      total(one.after, 'infermark_itl_seconds_count', where),
    );
    assert.equal(
      total(three.after, 'infermark_itl_seconds_count', where),
      summary.distributions.itl_ms.count,
    );
  }
  // Live: while the split run went, its endpoint showed some of its requests, and some in flight.
  const final = total(three.after, 'infermark_requests_total');
  const seen = three.during.map((s) => total(s, 'infermark_requests_total'));
  console.log(
    `# split run: ${three.during.length} scrapes while it ran; requests seen: ${[...new Set(seen)].join(', ')} of ${final}`,
  );
  assert.ok(
    seen.some((n) => n > 0 && n < final),
    'a scrape during the run counted some requests, not yet all',
  );
  assert.ok(
    three.during.some((s) => total(s, 'infermark_requests_in_flight') > 0),
    'requests in flight seen',
  );
  // After the run nothing is in flight, as one process's last progress says.
  assert.equal(total(one.after, 'infermark_requests_in_flight'), 0);
  assert.equal(total(three.after, 'infermark_requests_in_flight'), 0);
});

test("run --workers 3 --metrics-port 0: the URL on stderr serves the workers' requests while the run goes", async () => {
  const file = await job('hot-cli', 3);
  const out = join(tmp(), 'out-cli');
  let url: string | null = null;
  let running = true;
  const scraper = scrapeWhile(
    () => url,
    () => running,
  );
  const result = await cli(['run', file, '--out', out, '--no-warehouse', '--metrics-port', '0'], {
    timeoutMs: 60_000,
    onStderr: (text) => {
      url ??= /hot metrics: (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(text)?.[1] ?? null;
    },
  });
  running = false;
  await scraper.stop();
  assert.equal(result.code, 0, result.stderr);
  assert.ok(url, `the URL is on stderr: ${result.stderr}`);
  assert.doesNotMatch(result.stderr, /reports no requests/);
  const during = scraper.scrapes
    .filter((s) => s.during)
    .map((s) => total(s.samples, 'infermark_requests_total'));
  const summary = JSON.parse(await readFile(join(await runFolderUnder(out), 'summary.json'), 'utf8')) as {
    iterations: { requests: { total: number } }[];
  };
  const records = summary.iterations.reduce((n, it) => n + it.requests.total, 0);
  console.log(
    `# CLI split run: ${during.length} scrapes while it ran; requests seen: ${[...new Set(during)].join(', ')} of ${records}`,
  );
  assert.ok(
    during.some((n) => n > 0 && n < records),
    'a scrape during the run counted some requests, not yet all',
  );
  assert.ok(Math.max(...during) <= records, 'never more than the run sent');
});
