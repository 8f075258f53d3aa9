/**
 * `infermark report` on a warehouse built from real runs (the built CLI against
 * the simulator in its own process): every chart's points in the embedded JSON
 * equal what the warehouse says, the HTML loads nothing from the network, each
 * format and view renders, `--vs` deltas are compareRuns', and bad input exits 2.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  assertNoStack,
  cli,
  runArgs,
  cliRunFolder,
  simulatorFixture,
  VLLM_ON_2_H100,
  writeJobYaml,
} from '../cli/testing/harness.js';
import { compareRuns } from '../warehouse/queries.js';
import { Warehouse } from '../warehouse/warehouse.js';
import { cdf, type Chart, type ReportData } from './report-data.js';

let warehousePath: string;
/** A run group of two repeats (job file with service metadata), and a run alone. */
let groupId: string;
let groupRuns: string[];
let soloRun: string;
/** The folders `run` printed for them. */
let groupFolder: string;
let soloFolder: string;

const { sim, tmp } = simulatorFixture(
  'infermark-report-',
  { ttftMs: 8, ttftPerInputTokenMs: 0, itlMs: 2, itlJitterMs: 1, errorRate: 0.1 },
  { setUp: fillWarehouse },
);

/** A group of two repeats from a job file, and a run alone from flags, both ingested. */
async function fillWarehouse(): Promise<void> {
  warehousePath = join(tmp(), 'warehouse.duckdb');
  const job = await writeJobYaml(join(tmp(), 'job.yaml'), {
    name: 'report-test',
    url: sim().url,
    scenarios: ['D(16,6)', 'D(32,4)'],
    concurrency: [1, 3],
    maxRequestsPerIteration: 12,
    spec: [VLLM_ON_2_H100, 'costPerHourUsd: 7.2'],
  });
  const group = await cli(
    [
      'run',
      job,
      '--repeats',
      '2',
      '--out',
      join(tmp(), 'runs-a'),
      '--quiet',
      '--json',
      '--warehouse',
      warehousePath,
    ],
    { timeoutMs: 60_000 },
  );
  assert.equal(group.code, 0, group.stderr);
  const parsed = JSON.parse(group.stdout) as {
    run_group_id: string;
    group_dir: string;
    runs: { run_id: string }[];
  };
  groupId = parsed.run_group_id;
  groupFolder = parsed.group_dir;
  groupRuns = parsed.runs.map((r) => r.run_id);
  assert.equal(groupRuns.length, 2);
  const outB = join(tmp(), 'runs-b');
  soloFolder = await cliRunFolder(
    runArgs({
      url: sim().url,
      out: outB,
      scenario: 'D(16,6)',
      concurrency: '1,3',
      maxRequests: 10,
      quiet: true,
      warehouse: warehousePath,
      // One SLO no server meets (TTFT ≥ the simulator's 8 ms) and one every server does.
      extra: ['--slo', 'p99_ttft_ms<=1', '--slo', 'p99_ttft_ms<=60000'],
    }),
    outB,
  );
  soloRun = (
    JSON.parse(await readFile(join(soloFolder, 'run.json'), 'utf8')) as {
      run_id: string;
    }
  ).run_id;
}

function withWarehouse<T>(work: (w: Warehouse) => Promise<T>): Promise<T> {
  return Warehouse.using(warehousePath, { readOnly: true }, work);
}

async function report(args: string[], file: string): Promise<string> {
  const out = join(tmp(), file);
  const result = await cli(['report', ...args, '--warehouse', warehousePath, '-o', out]);
  assert.equal(result.code, 0, result.stderr);
  return out;
}

function embedded(html: string): ReportData {
  const match = /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(html);
  assert.ok(match, 'no embedded report data');
  return JSON.parse(match[1] as string) as ReportData;
}

function chart(data: ReportData, id: string): Chart {
  const found = data.charts.find((c) => c.id === id);
  assert.ok(found, `no chart ${id}: ${data.charts.map((c) => c.id).join(', ')}`);
  return found;
}

const close = (a: number | null, b: number | null): boolean =>
  a === null || b === null ? a === b : Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a));

function assertSeries(
  actual: [number, number | null][],
  expected: [number, number | null][],
  what: string,
): void {
  assert.equal(
    actual.length,
    expected.length,
    `${what}: ${JSON.stringify(actual)} vs ${JSON.stringify(expected)}`,
  );
  actual.forEach((p, i) => {
    const e = expected[i] as [number, number | null];
    assert.ok(
      close(p[0], e[0]) && close(p[1], e[1]),
      `${what}[${i}]: ${JSON.stringify(p)} vs ${JSON.stringify(e)}`,
    );
  });
}

test('a run group: every chart in the HTML has its points, and they are the medians over repeats in the warehouse', async () => {
  const html = await readFile(await report([groupId], 'group.html'), 'utf8');
  const data = embedded(html);
  assert.equal(data.subject.kind, 'run_group');
  assert.deepEqual([...data.subject.run_ids].sort(), [...groupRuns].sort());
  const figures = [...html.matchAll(/<figure data-chart="([^"]+)"/g)].map((m) => m[1]);
  assert.deepEqual(figures.sort(), data.charts.map((c) => c.id).sort());
  for (const c of data.charts)
    assert.ok(
      c.series.some((s) => s.points.length > 0),
      `chart ${c.id} has no points`,
    );
  for (const id of ['throughput-0', 'ttft-0', 'tpot-0', 'errors-0', 'goodput-0', 'pareto-0', 'throughput-1'])
    chart(data, id);

  await withWarehouse(async (w) => {
    // Independently: one value per (scenario, concurrency) from each repeat, then the median.
    const { rows } = await w.json(
      `SELECT scenario, concurrency, list(output_throughput_tokens_per_s) AS tps, list(ttft_ms_p99) AS ttft99,
         list(ttft_ms_p50) AS ttft50, list(error_rate) AS err, list(e2e_latency_ms_p50) AS e2e50
       FROM serving_outcome_fact WHERE run_id IN ($1, $2) GROUP BY ALL ORDER BY scenario, concurrency`,
      groupRuns,
    );
    const median = (xs: unknown): number => {
      const s = (xs as number[]).map(Number).sort((a, b) => a - b);
      return s.length % 2
        ? (s[(s.length - 1) / 2] as number)
        : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
    };
    const scenarios = [...new Set(rows.map((r) => String(r.scenario)))];
    for (const scenario of scenarios) {
      const i = data.charts
        .find((c) => c.id.startsWith('throughput-') && c.scenario === scenario)
        ?.id.split('-')[1];
      const mine = rows.filter((r) => r.scenario === scenario);
      const expect = (key: string): [number, number][] =>
        mine.map((r) => [Number(r.concurrency), median(r[key])]);
      assertSeries(chart(data, `throughput-${i}`).series[0]!.points, expect('tps'), `throughput ${scenario}`);
      assertSeries(chart(data, `ttft-${i}`).series[0]!.points, expect('ttft50'), `ttft p50 ${scenario}`);
      assertSeries(chart(data, `ttft-${i}`).series[1]!.points, expect('ttft99'), `ttft p99 ${scenario}`);
      assertSeries(chart(data, `errors-${i}`).series[0]!.points, expect('err'), `errors ${scenario}`);
      const pareto = chart(data, `pareto-${i}`).series[0]!;
      assertSeries(
        pareto.points,
        mine.map((r): [number, number] => [median(r.tps), median(r.e2e50)]).sort((a, b) => a[0] - b[0]),
        `pareto ${scenario}`,
      );
      // The frontier's points are among the points, and none is beaten on both axes.
      for (const [x, y] of pareto.frontier ?? []) {
        assert.ok(pareto.points.some((p) => p[0] === x && p[1] === y));
        assert.ok(!pareto.points.some((p) => p[0] > x && (p[1] as number) < (y as number)));
      }
      assert.ok((pareto.frontier ?? []).length >= 1);
    }

    // Distributions and the time series come from request_fact at the drill-down point.
    const d = data.drilldown;
    assert.ok(d);
    assert.equal(d.concurrency, 3);
    const requests = await w.all(
      `SELECT status, ttft_ms, tpot_ms, e2e_latency_ms FROM request_fact
       WHERE run_id = $1 AND iteration = $2 AND phase = 'measured'`,
      [d.run_id, d.iteration],
    );
    const ok = requests.filter((r) => r.status === 'ok');
    const ttfts = ok.map((r) => Number(r.ttft_ms)).sort((a, b) => a - b);
    assert.deepEqual(
      chart(data, 'ttft-cdf').series[0]!.points.map((p) => p[0]),
      [...new Set(ttfts)],
    );
    assert.equal(chart(data, 'ttft-cdf').series[0]!.points.at(-1)?.[1], 1);
    const tpots = ok
      .map((r) => r.tpot_ms)
      .filter((v) => v !== null)
      .map(Number)
      .sort((a, b) => a - b);
    assert.deepEqual(
      chart(data, 'itl-cdf').series[0]!.points.map((p) => p[0]),
      [...new Set(tpots)],
    );
    const [inFlight, , errors] = chart(data, 'timeseries').series;
    assert.ok(
      Math.max(...inFlight!.points.map((p) => Number(p[1]))) <= 3,
      'more in flight than the concurrency',
    );
    assert.ok(Math.max(...inFlight!.points.map((p) => Number(p[1]))) >= 1);
    assert.equal(
      errors!.points.reduce((sum, p) => sum + Number(p[1]), 0),
      requests.length - ok.length,
      'errors over time add up to the failed requests',
    );
  });

  // Provenance: digests, engine and GPU from the dims, and where the raw artifacts are.
  assert.match(
    html,
    new RegExp(String(data.subject.runs[0]?.artifact_manifest_digest).replace(/[:.]/g, '\\$&')),
  );
  assert.match(html, /vLLM/);
  assert.match(html, /H100/);
  assert.match(html, /iterations\/000\/requests\.jsonl/);
  assert.match(html, new RegExp(join(tmp(), 'runs-a').replace(/[/.-]/g, '\\$&')));
});

test('the HTML is self-contained: uPlot inlined, nothing fetched, the only URL is the endpoint shown as text', async () => {
  const html = await readFile(await report([soloRun], 'solo.html'), 'utf8');
  const data = embedded(html);
  assert.match(html, /uPlot/);
  assert.doesNotMatch(html, /<script[^>]+src=/i);
  assert.doesNotMatch(html, /<link\b/i);
  assert.doesNotMatch(html, /\b(src|href)\s*=\s*["']?(https?:)?\/\//i);
  assert.doesNotMatch(html, /url\(\s*["']?(https?:)?\/\//i);
  assert.doesNotMatch(html, /@import/);
  const endpoint = String(data.subject.runs[0]?.endpoint_base_url);
  const urls = new Set([...html.matchAll(/https?:\/\/[^\s"'<>\\)]+/g)].map((m) => m[0]));
  assert.deepEqual([...urls], [endpoint]);
  // One closing script tag per script element: the embedded data cannot end its element early.
  assert.equal(html.match(/<\/script>/g)?.length, 3);
});

test('SLOs as written: each point shows the measured p99, the target and met / not met (HTML and Markdown)', async () => {
  const p99s = await withWarehouse(async (w) =>
    (
      await w.all(
        'SELECT concurrency, ttft_ms_p99 AS p, error_rate FROM serving_outcome_fact WHERE run_id = $1 ORDER BY concurrency',
        [soloRun],
      )
    ).map((r) => [Number(r.concurrency), Number(r.p), Number(r.error_rate)] as const),
  );
  assert.equal(p99s.length, 2);
  // The seeded simulator's faults land on one of the two points: both outcomes are shown.
  assert.deepEqual(new Set(p99s.map(([, , errorRate]) => errorRate > 0.01)), new Set([true, false]));
  const html = await readFile(await report([soloRun], 'slo.html'), 'utf8');
  const md = await readFile(await report([soloRun, '--format', 'md'], 'slo.md'), 'utf8');
  assert.match(html, /<h2 id="slos">SLOs<\/h2>/);
  for (const [concurrency, p99, errorRate] of p99s) {
    const measured = `p99 ${p99.toFixed(2)} ms`;
    const point = `D(16,6) @ concurrency ${concurrency}`;
    // Markdown escapes every `<` it did not write (renderers pass raw HTML): `&lt;=` renders as `<=`.
    assert.ok(md.includes(`| ${point} | p99_ttft_ms&lt;=1 | ${measured} | &lt;= 1 ms | NOT MET |`), md);
    // Where 10% or more of the requests errored, more than the 1% a p99 allows, the loose SLO is
    // not met however fast the rest.
    const loose = errorRate > 0.01 ? 'NOT MET' : 'met';
    assert.ok(
      md.includes(`| ${point} | p99_ttft_ms&lt;=60000 | ${measured} | &lt;= 60000 ms | ${loose} |`),
      md,
    );
    assert.ok(
      html.includes(
        `<tr class="worse"><td>${point}</td><td>p99_ttft_ms&lt;=1</td><td>${measured}</td><td>&lt;= 1 ms</td><td>NOT MET</td></tr>`,
      ),
      'a missed SLO is a highlighted row with its measured p99',
    );
  }
  const product = await readFile(
    await report([soloRun, '--view', 'product', '--format', 'md'], 'slo-p.md'),
    'utf8',
  );
  assert.match(product, /SLOs: 3 of 4 checks not met: p99_ttft_ms&lt;=1 at D\(16,6\) @ concurrency 1 \(p99 /);
});

test('--vs two runs: both on the same axes, and the deltas are compareRuns', async () => {
  const html = await readFile(await report([soloRun, '--vs', groupRuns[0] as string], 'vs.html'), 'utf8');
  const data = embedded(html);
  assert.equal(data.deltas_source, 'compareRuns');
  assert.deepEqual(
    chart(data, 'throughput-0').series.map((s) => s.label),
    ['A output tokens/s', 'B output tokens/s'],
  );
  await withWarehouse(async (w) => {
    const compared = await compareRuns(w, groupRuns[0] as string, soloRun);
    // Through JSON, as the report carries them: DuckDB's -0 (two equal p99s) reads 0 there.
    const expected = JSON.parse(
      JSON.stringify(
        compared.rows.flatMap((r) =>
          compared.columns
            .filter((c) => c.endsWith('_change_pct'))
            .map((c) => [r.scenario, r.concurrency, c.replace('_change_pct', ''), r[c] ?? null]),
        ),
      ),
    ) as unknown[];
    assert.deepEqual(
      data.deltas.map((d) => [d.scenario, d.concurrency, d.metric, d.change_pct]),
      expected,
    );
    const a = (
      await w.json(
        'SELECT concurrency, output_throughput_tokens_per_s AS v FROM serving_outcome_fact WHERE run_id = $1 AND scenario = $2 ORDER BY concurrency',
        [groupRuns[0] as string, 'D(16,6)'],
      )
    ).rows;
    const i = data.charts.find((c) => c.id.startsWith('throughput-') && c.scenario === 'D(16,6)')!;
    assertSeries(
      i.series[0]!.points,
      a.map((r) => [Number(r.concurrency), Number(r.v)]),
      'A throughput',
    );
  });
  assert.match(html, /id="deltas"/);
  assert.match(html, /<tr class="(worse|better|same|n\/a)">/);
  // B diagnosed against A: the section is there, from diagnose() as the data embeds it.
  assert.equal(data.diagnosis?.run_id, soloRun);
  assert.equal(data.diagnosis?.baseline_run_id, groupRuns[0]);
  assert.match(
    html,
    new RegExp(
      `<section id="diagnosis" data-testid="diagnosis" data-findings="${data.diagnosis?.findings.length}">`,
    ),
  );
  const md = await readFile(
    await report([soloRun, '--vs', groupRuns[0] as string, '--format', 'md'], 'vs.md'),
    'utf8',
  );
  assert.match(
    md,
    new RegExp(`^\\*\\*Diagnosis\\*\\*\\n\\nRun ${soloRun} against baseline ${groupRuns[0]}\\.`, 'm'),
  );
});

test('--vs a run group: deltas from the medians', async () => {
  const html = await readFile(
    await report([soloRun, '--vs', groupId, '--view', 'product'], 'vs-group.html'),
    'utf8',
  );
  const data = embedded(html);
  assert.equal(data.deltas_source, 'group-medians');
  assert.equal(data.baseline?.kind, 'run_group');
  const d = data.deltas.find(
    (x) => x.metric === 'output_throughput_tokens_per_s' && x.concurrency === 3 && x.scenario === 'D(16,6)',
  );
  const a = data.baseline?.points.find((p) => p.scenario === 'D(16,6)' && p.concurrency === 3);
  assert.ok(d && a);
  assert.equal(d.a, a.metrics.output_throughput_tokens_per_s);
  // diagnose() compares runs: a run group gets none, and the report says why.
  assert.equal(data.diagnosis, null);
  assert.match(html, /Diagnosis compares two runs/);
});

test('each view renders its own sections, in HTML and Markdown', async () => {
  const expected = {
    engineering: ['Narrow hypothesis', 'Traces', 'Minimal repro', 'Proposed experiment'],
    product: ['Impact on latency, throughput, reliability and cost', 'Confidence', 'Next step'],
    partner: [
      'Upstream (engine, version, GPU, driver)',
      'Ours (deployment, workload, client)',
      'Smallest repro',
      'Smallest actionable change',
    ],
  };
  for (const [view, headings] of Object.entries(expected)) {
    const html = await readFile(
      await report([groupId, '--vs', soloRun, '--view', view], `${view}.html`),
      'utf8',
    );
    assert.match(html, new RegExp(`<body data-view="${view}">`));
    const md = await readFile(
      await report([groupId, '--vs', soloRun, '--view', view, '--format', 'md'], `${view}.md`),
      'utf8',
    );
    for (const h of headings) {
      assert.ok(html.includes(h), `${view} html lacks ${h}`);
      assert.ok(md.includes(`**${h}`), `${view} md lacks ${h}`);
    }
    assert.match(md, /^\| point \| n \| out tok\/s/m);
    assert.doesNotMatch(md, /<script|<figure/);
    if (view !== 'product')
      assert.match(
        md,
        /```sh\ninfermark run --url http:\/\/127\.0\.0\.1:\d+ --model m --api chat --scenario/,
      );
  }
  const partner = await readFile(join(tmp(), 'partner.md'), 'utf8');
  assert.match(partner, /engine: vLLM/);
  assert.match(partner, /GPU: H100/);
});

test('--format xlsx: a summary sheet per point and a per-request sheet', async () => {
  const file = await report([groupId, '--format', 'xlsx'], 'group.xlsx');
  const { default: ExcelJS } = await import('exceljs');
  const workbook = new ExcelJS.Workbook();
  await workbook.xlsx.readFile(file);
  const names = workbook.worksheets.map((s) => s.name);
  for (const name of ['summary', 'requests', 'provenance', 'engineering view'])
    assert.ok(names.includes(name), names.join());
  await withWarehouse(async (w) => {
    const points = await w.all(
      'SELECT DISTINCT scenario, concurrency FROM serving_outcome_fact WHERE run_id IN ($1, $2)',
      groupRuns,
    );
    assert.equal(workbook.getWorksheet('summary')!.actualRowCount, 1 + points.length);
    const html = embedded(await readFile(await report([groupId], 'again.html'), 'utf8'));
    const d = html.drilldown!;
    const requests = await w.all(
      "SELECT count(*)::INTEGER AS n FROM request_fact WHERE run_id = $1 AND iteration = $2 AND phase = 'measured'",
      [d.run_id, d.iteration],
    );
    assert.equal(workbook.getWorksheet('requests')!.actualRowCount, 1 + Number(requests[0]?.n));
  });
});

test('bad input exits 2 with a clear error and no stack', async () => {
  const cases: [string[], RegExp][] = [
    [['report', '01ffffffffff'], /no run 01ffffffffff in the warehouse/],
    [['report', "x'; DROP TABLE request_fact; --"], /expected a run_id, a run_group_id or a prefix/],
    [['report', 'ab'], /expected a run_id/],
    [['report', soloRun, '--vs', 'nope-not-a-run'], /no run nope-not-a-run/],
    [['report', soloRun, '--format', 'pdf'], /--format: "pdf": expected one of html, md, xlsx/],
    [['report', soloRun, '--view', 'exec'], /--view: "exec": expected one of engineering, product, partner/],
    [['report', soloRun, '--iteration', '99'], /--iteration 99: run .* has iterations 0, 1/],
  ];
  for (const [args, message] of cases) {
    const result = await cli([...args, '--warehouse', warehousePath, '-o', join(tmp(), 'bad.html')]);
    assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, message);
    assertNoStack(result);
  }
  const missing = await cli(['report', soloRun, '--warehouse', join(tmp(), 'missing.duckdb')]);
  assert.equal(missing.code, 2, missing.stderr);
});

test('a run folder or a run group folder (as `run` prints them) reports the same as its id', async () => {
  for (const [folder, id] of [
    [soloFolder, soloRun],
    [groupFolder, groupId],
  ] as const) {
    const byFolder = embedded(await readFile(await report([folder], 'by-folder.html'), 'utf8'));
    const byId = embedded(await readFile(await report([id], 'by-id.html'), 'utf8'));
    assert.equal(byFolder.subject.id, id);
    assert.deepEqual(byFolder.charts, byId.charts);
  }
  const vs = embedded(
    await readFile(await report([soloFolder, '--vs', groupFolder], 'vs-folder.html'), 'utf8'),
  );
  assert.equal(vs.baseline?.id, groupId);
});

test('a path that is neither a run folder nor a group folder exits 2 and says what was expected', async () => {
  const cases: [string[], RegExp][] = [
    [[join(tmp(), 'no-such-folder')], /<run>: ".*no-such-folder": no such folder \(expected a run folder/],
    [[tmp()], /<run>: ".*": holds neither run\.json \(a run folder\) nor group\.json/],
    [[join(soloFolder, 'run.json')], /<run>: ".*run\.json": is a file: expected a run folder/],
    [[soloRun, '--vs', './nope'], /--vs: "\.\/nope": no such folder/],
  ];
  for (const [args, message] of cases) {
    const result = await cli([
      'report',
      ...args,
      '--warehouse',
      warehousePath,
      '-o',
      join(tmp(), 'bad.html'),
    ]);
    assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, message);
    assertNoStack(result);
  }
  // A folder whose run this warehouse lacks (run with --no-warehouse, say): the fix is named.
  const other = join(tmp(), 'other.duckdb');
  const ingestOnly = await cli(['warehouse', 'ingest', soloFolder, '--warehouse', other]);
  assert.equal(ingestOnly.code, 0, ingestOnly.stderr);
  const lacking = await cli(['report', soloFolder, '--vs', groupFolder, '--warehouse', other, '-o', '-']);
  assert.equal(lacking.code, 2, lacking.stderr);
  assert.match(
    lacking.stderr,
    new RegExp(
      `no run ${groupId} in the warehouse \\(${groupFolder}.* was not ingested .*: infermark warehouse ingest ${groupFolder}\\)`,
    ),
  );
});

test('cdf: a tie is one point at the fraction of values ≤ it (a chart keys points by x)', () => {
  assert.deepEqual(cdf([3, 1, 2, 2]), [
    [1, 0.25],
    [2, 0.75],
    [3, 1],
  ]);
  assert.deepEqual(cdf([]), []);
});

test("the page's script hands uPlot exactly the embedded points (DOM and uPlot stubbed; Chromium tests later)", async () => {
  const { runInNewContext } = await import('node:vm');
  const html = await readFile(await report([soloRun, '--vs', groupId], 'script.html'), 'utf8');
  const data = embedded(html);
  const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1] as string);
  const attributes = new Map<string, Record<string, string>>();
  const plots: { id: string; opts: { series: { label: string }[] }; data: (number | null)[][] }[] = [];
  const body = {
    attrs: {} as Record<string, string>,
    setAttribute: (k: string, v: string) => (body.attrs[k] = v),
  };
  const document = {
    body,
    getElementById: (id: string) => (id === 'report-data' ? { textContent: JSON.stringify(data) } : null),
    querySelector: (selector: string) => {
      const id = /data-chart="([^"]+)"/.exec(selector)?.[1] as string;
      const attrs: Record<string, string> = {};
      attributes.set(id, attrs);
      return {
        querySelector: () => ({ clientWidth: 600, id }),
        setAttribute: (k: string, v: string) => (attrs[k] = v),
      };
    },
  };
  function uPlot(opts: never, aligned: (number | null)[][], plot: { id: string }): void {
    // The script's arrays come from the sandbox's realm: copy them into this one.
    plots.push({ id: plot.id, opts, data: JSON.parse(JSON.stringify(aligned)) as (number | null)[][] });
  }
  uPlot.paths = { stepped: () => () => null };
  runInNewContext(scripts[1] as string, { document, uPlot });
  assert.equal(body.attrs['data-charts-rendered'], String(data.charts.length));
  for (const c of data.charts) {
    assert.equal(attributes.get(c.id)?.['data-rendered'], 'true', c.id);
    const plot = plots.find((p) => p.id === c.id)!;
    const lines = c.series.flatMap((s) => (s.frontier ? [s.points, s.frontier] : [s.points]));
    assert.equal(plot.data.length, 1 + lines.length);
    lines.forEach((points, i) => {
      const drawn = (plot.data[0] as number[])
        .map((x, j) => [x, plot.data[i + 1]?.[j] ?? null] as [number, number | null])
        .filter((_, j) => points.some((p) => p[0] === plot.data[0]?.[j]));
      assert.deepEqual(drawn, points, `${c.id} series ${i}`);
    });
  }
});

test('--vs two run groups of 3 repeats: the gate verdicts are regressionChecks on the run folders; single runs get deltas only', async () => {
  const { writeFile, rename } = await import('node:fs/promises');
  const { loadRunGroup } = await import('../gate/run-group.js');
  const { baselineFrom } = await import('../gate/baseline.js');
  const { regressionChecks } = await import('../gate/checks.js');
  const { DEFAULT_TOLERANCES, verdictRow } = await import('./report-verdicts.js');
  const own = join(tmp(), 'verdicts.duckdb');
  const job = await writeJobYaml(join(tmp(), 'verdicts-job.yaml'), {
    name: 'report-verdicts',
    url: sim().url,
    scenarios: ['D(16,6)'],
    concurrency: [1, 2],
    maxRequestsPerIteration: 8,
    spec: [VLLM_ON_2_H100],
  });
  const runGroup = async (out: string): Promise<{ id: string; dir: string }> => {
    const result = await cli(
      ['run', job, '--repeats', '3', '--out', join(tmp(), out), '--quiet', '--json', '--warehouse', own],
      { timeoutMs: 90_000 },
    );
    assert.equal(result.code, 0, result.stderr);
    const parsed = JSON.parse(result.stdout) as { run_group_id: string; group_dir: string };
    return { id: parsed.run_group_id, dir: parsed.group_dir };
  };
  const a = await runGroup('verdicts-a');
  const b = await runGroup('verdicts-b');
  const vsReport = async (args: string[], file: string): Promise<string> => {
    const out = join(tmp(), file);
    const result = await cli(['report', b.id, '--vs', a.id, ...args, '--warehouse', own, '-o', out]);
    assert.equal(result.code, 0, result.stderr);
    return readFile(out, 'utf8');
  };
  const expected = async (tolerances: typeof DEFAULT_TOLERANCES): Promise<unknown> => {
    const [groupA, groupB] = [await loadRunGroup([a.dir]), await loadRunGroup([b.dir])];
    const checks = regressionChecks(
      { path: 'x', sha256: '', value: baselineFrom(groupA) },
      tolerances,
      groupB,
    );
    return JSON.parse(JSON.stringify(checks.map(verdictRow))) as unknown;
  };

  const html = await vsReport([], 'verdicts.html');
  const data = embedded(html);
  assert.equal(data.gate?.status, 'ok', data.gate?.message);
  assert.equal(data.gate.repeats.a, 3);
  assert.equal(data.gate.tolerances.path, '(defaults)');
  assert.ok(data.gate.rows.length > 0);
  assert.deepEqual(data.gate.rows, await expected(DEFAULT_TOLERANCES));
  // 3 repeats against the default min_repeats of 5: every key is INCONCLUSIVE, as the gate says.
  assert.ok(data.gate.rows.every((r) => r.verdict === 'INCONCLUSIVE' && /at least 5/.test(r.reason)));
  assert.match(html, /id="gate-verdicts"/);
  assert.match(html, /<tr class="gate-inconclusive">/);
  const ttft = data.deltas.find((d) => d.metric === 'ttft_ms_p99' && d.concurrency === 2);
  assert.equal(ttft?.gate_verdict, data.gate.rows.find((r) => r.key === 'D(16,6).c2.ttft_ms.p99')?.verdict);

  // --tolerances: the report decides with the given file, again exactly as regressionChecks.
  const tolerancesFile = join(tmp(), 'tolerances.json');
  const value = {
    format: 'infermark-tolerances/v1' as const,
    defaults: { relative: 0.5, alpha: 0.05, min_repeats: 3, test: 'mann-whitney' as const },
    rules: [],
  };
  await writeFile(tolerancesFile, JSON.stringify(value));
  const loose = embedded(await vsReport(['--tolerances', tolerancesFile], 'verdicts-loose.html'));
  assert.equal(loose.gate?.status, 'ok');
  assert.equal(loose.gate.tolerances.path, tolerancesFile);
  assert.deepEqual(loose.gate.rows, await expected({ path: tolerancesFile, sha256: '', value }));
  assert.ok(loose.gate.rows.some((r) => r.verdict !== 'INCONCLUSIVE' || !/at least/.test(r.reason)));

  const md = await vsReport(['--format', 'md'], 'verdicts.md');
  assert.match(md, /\*\*Gate verdicts \(B against A as the baseline\)\*\*/);
  assert.match(
    md,
    /^\| key \| verdict \| A median \| B median \| Δ \| Δ % \| regression \(HL\) \| lower bound \| upper bound/m,
  );
  assert.match(md, /^\| D\(16,6\)\.c2\.ttft_ms\.p99 \| INCONCLUSIVE \|/m);

  // The run folders gone: the verdicts come from the warehouse, the same as before.
  await rename(b.dir, `${b.dir}-moved`);
  const gone = embedded(await vsReport([], 'verdicts-gone.html'));
  assert.equal(gone.gate?.status, 'ok', gone.gate?.message);
  assert.deepEqual(gone.gate.rows, data.gate.rows);
  assert.ok(gone.deltas.length > 0);
  await rename(`${b.dir}-moved`, b.dir);

  // Single runs: deltas only, and the report says verdicts need repeats.
  const solo = await readFile(await report([soloRun, '--vs', groupId], 'vs-solo.html'), 'utf8');
  const soloData = embedded(solo);
  assert.equal(soloData.gate?.status, 'single-run');
  assert.match(soloData.gate.message, /Verdicts need repeats: B is a single run.*--repeats/);
  assert.ok(soloData.deltas.length > 0);
  assert.match(solo, /data-gate-status="single-run"/);
  const soloMd = await readFile(
    await report([soloRun, '--vs', groupId, '--format', 'md'], 'vs-solo.md'),
    'utf8',
  );
  assert.match(soloMd, /Verdicts need repeats/);
});
