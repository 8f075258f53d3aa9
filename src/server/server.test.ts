/**
 * The dashboard on a real warehouse: two runs by the built CLI against the
 * simulator (in its own process), ingested into DuckDB on disk; the server on
 * an ephemeral port. Every endpoint and page is checked against the warehouse's
 * own rows, every bad input gets its 4xx and nothing else, and a dashboard on a
 * non-loopback interface demands its token and never shows it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import {
  cli,
  runArgs,
  cliRunFolder,
  simulatorFixture,
  VLLM_ON_2_H100,
  writeJobYaml,
} from '../cli/testing/harness.js';
import { CANONICAL_TABLES } from '../warehouse/migrations.js';
import { Warehouse } from '../warehouse/warehouse.js';
import { type Row } from '../warehouse/sql.js';
import { startDashboard, type Dashboard } from './server.js';
import { holdWarehouse } from '../warehouse/testing/lock-holder.js';

let warehousePath: string;
let dashboard: Dashboard;
const logged: string[] = [];
/** The run from a job file (2 scenarios × 2 concurrencies, vLLM on H100), and one from flags. */
let jobRun: string;
let flagRun: string;

const { sim, tmp } = simulatorFixture(
  'infermark-dashboard-',
  { ttftMs: 8, ttftPerInputTokenMs: 0, itlMs: 2, itlJitterMs: 1, batchSlowdown: 0 },
  {
    setUp: async () => {
      warehousePath = join(tmp(), 'warehouse.duckdb');
      const job = await writeJobYaml(join(tmp(), 'job.yaml'), {
        name: 'dash-test',
        url: sim().url,
        scenarios: ['D(16,6)', 'D(32,4)'],
        concurrency: [1, 3],
        maxRequestsPerIteration: 9,
        spec: [VLLM_ON_2_H100],
      });
      const [outA, outB] = [join(tmp(), 'runs-a'), join(tmp(), 'runs-b')];
      jobRun = basename(
        await cliRunFolder(['run', job, '--out', outA, '--quiet', '--warehouse', warehousePath], outA),
      );
      flagRun = basename(
        await cliRunFolder(
          runArgs({
            url: sim().url,
            out: outB,
            scenario: 'D(16,6)',
            concurrency: '2',
            maxRequests: 7,
            quiet: true,
            warehouse: warehousePath,
          }),
          outB,
        ),
      );
      dashboard = await startDashboard({
        warehousePath,
        port: 0,
        idleCloseMs: 50,
        log: (line) => logged.push(line),
      });
    },
    tearDown: async () => {
      await dashboard?.close();
    },
  },
);

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** A raw request (node:http, so odd paths are sent exactly as written). */
function get(
  base: string,
  path: string,
  options: { method?: string; headers?: Record<string, string> } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const url = new URL(base);
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port: url.port,
        path,
        method: options.method ?? 'GET',
        headers: options.headers ?? {},
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function api<T = Record<string, unknown>>(path: string): Promise<T> {
  const reply = await get(dashboard.url, path);
  assert.equal(reply.status, 200, `${path}: ${reply.text}`);
  assert.match(String(reply.headers['content-type']), /^application\/json/);
  return JSON.parse(reply.text) as T;
}

async function rows(sql: string, params: string[] = []): Promise<Row[]> {
  const w = await Warehouse.open(warehousePath, { readOnly: true });
  try {
    return (await w.json(sql, params)).rows;
  } finally {
    w.close();
  }
}

const attr = (html: string, testid: string, name: string): string[] =>
  [...html.matchAll(new RegExp(`<[^>]*data-testid="${testid}"[^>]*>`, 'g'))].map(
    (m) => new RegExp(`${name}="([^"]*)"`).exec(m[0])?.[1] ?? '',
  );

test('GET /api/runs lists the runs newest first, filters and pages them', async () => {
  type Page = { runs: Row[]; total: number; limit: number; offset: number };
  const all = await api<Page>('/api/runs');
  assert.equal(all.total, 2);
  assert.deepEqual(
    all.runs.map((r) => r.run_id),
    [flagRun, jobRun],
  );
  assert.equal(all.limit, 50);
  const job = all.runs[1] as Row;
  assert.equal(job.engine, 'vLLM');
  assert.equal(job.gpu_type, 'H100');
  assert.equal(job.scenarios, 'D(16,6) D(32,4)');
  const only = async (query: string): Promise<string[]> =>
    (await api<Page>(`/api/runs?${query}`)).runs.map((r) => String(r.run_id));
  assert.deepEqual(await only('model=m'), [flagRun, jobRun]);
  assert.deepEqual(await only('engine=vLLM'), [jobRun]);
  assert.deepEqual(await only('gpu=H100'), [jobRun]);
  assert.deepEqual(await only(`scenario=${encodeURIComponent('D(32,4)')}`), [jobRun]);
  assert.deepEqual(await only('model=nobody'), []);
  assert.deepEqual(await only('from=2000-01-01'), [flagRun, jobRun]);
  assert.deepEqual(await only('to=2000-01-01'), []);
  assert.deepEqual(await only(`from=${new Date().toISOString().slice(0, 10)}&to=2999-12-31`), [
    flagRun,
    jobRun,
  ]);
  const second = await api<Page>('/api/runs?limit=1&offset=1');
  assert.deepEqual(
    second.runs.map((r) => r.run_id),
    [jobRun],
  );
  assert.equal(second.total, 2);
});

test('GET /api/runs/:id gives the run facts and the points of the warehouse, by id or prefix', async () => {
  type Detail = { run: Row; points: { columns: string[]; rows: Row[] }; artifacts: Row[] };
  const detail = await api<Detail>(`/api/runs/${jobRun}`);
  assert.equal(detail.run.run_id, jobRun);
  const expected = await rows(
    'SELECT iteration, scenario, concurrency, ttft_ms_p50, ttft_ms_p99, output_throughput_tokens_per_s FROM serving_outcome_fact WHERE run_id = $1 ORDER BY iteration',
    [jobRun],
  );
  assert.equal(detail.points.rows.length, 4);
  assert.deepEqual(
    detail.points.rows.map((p) => [p.iteration, p.scenario, p.concurrency, p.ttft_ms_p50, p.ttft_ms_p99]),
    expected.map((p) => [p.iteration, p.scenario, p.concurrency, p.ttft_ms_p50, p.ttft_ms_p99]),
  );
  assert.ok(detail.artifacts.some((a) => a.path === 'run.json'));
  const byPrefix = await api<Detail>(`/api/runs/${jobRun.slice(0, 12)}`);
  assert.equal(byPrefix.run.run_id, jobRun);
});

test('GET /api/compare compares two runs point by point', async () => {
  type Compared = { a: Row; b: Row; columns: string[]; rows: Row[] };
  const compared = await api<Compared>(`/api/compare?a=${jobRun}&b=${flagRun}`);
  assert.equal(compared.a.run_id, jobRun);
  assert.equal(compared.b.run_id, flagRun);
  assert.ok(compared.columns.includes('ttft_ms_p99_change_pct'));
  // Job: D(16,6)×{1,3}, D(32,4)×{1,3}; flags: D(16,6)×2 → five points, none shared.
  assert.equal(compared.rows.length, 5);
  const [fact] = await rows(
    "SELECT ttft_ms_p99 FROM serving_outcome_fact WHERE run_id = $1 AND scenario = 'D(16,6)' AND concurrency = 2",
    [flagRun],
  );
  const row = compared.rows.find((r) => r.scenario === 'D(16,6)' && r.concurrency === 2) as Row;
  assert.equal(row.ttft_ms_p99_b, fact?.ttft_ms_p99);
  assert.equal(row.ttft_ms_p99_a, null);
});

test('GET /api/compare?ga=&gb= compares two run groups: per point, the mean over each group', async () => {
  const groups = await rows(
    'SELECT run_id, run_group_id FROM benchmark_run_fact WHERE run_id IN ($1, $2) ORDER BY run_id = $1 DESC',
    [jobRun, flagRun],
  );
  const [ga, gb] = groups.map((g) => String(g.run_group_id));
  type Compared = { a: Row; b: Row; rows: Row[] };
  const byGroup = await api<Compared>(`/api/compare?ga=${ga}&gb=${gb}`);
  const byRun = await api<Compared>(`/api/compare?a=${jobRun}&b=${flagRun}`);
  assert.equal(byGroup.a.run_group_id, ga);
  assert.deepEqual(byGroup.a.run_ids, [jobRun]);
  assert.equal(byGroup.a.runs, 1);
  // Groups of one run: the means are that run's numbers.
  assert.deepEqual(
    byGroup.rows.map((r) => [
      r.scenario,
      r.concurrency,
      r.ttft_ms_p99_a,
      r.ttft_ms_p99_b,
      r.runs_a ?? r.runs_b,
    ]),
    byRun.rows.map((r) => [r.scenario, r.concurrency, r.ttft_ms_p99_a, r.ttft_ms_p99_b, 1]),
  );
  const page = await get(dashboard.url, `/compare?ga=${ga}&gb=${gb}`);
  assert.equal(page.status, 200);
  assert.equal(attr(page.text, 'compare-row', 'data-testid').length, byRun.rows.length);
  assert.deepEqual(attr(page.text, 'compare-form', 'data-kind'), ['groups']);
});

test('GET /api/lineage walks a number to its query, run, digests and raw artifacts', async () => {
  type Lineage = {
    number: { column: string; value: number };
    query: { name: string; query_spec_digest: string };
    run: { run_id: string; iteration: number; artifact_manifest_digest: string };
    evidence: { uri: string; artifacts: { path: string; state: string; source: boolean }[] }[];
    publication_safe: boolean;
  };
  const report = await api<Lineage>(
    `/api/lineage?query=serving_points&column=ttft_ms_p99&run=${jobRun}&iteration=2`,
  );
  const [fact] = await rows(
    'SELECT ttft_ms_p99 FROM serving_outcome_fact WHERE run_id = $1 AND iteration = 2',
    [jobRun],
  );
  assert.equal(report.number.value, fact?.ttft_ms_p99);
  assert.equal(report.query.name, 'serving_points');
  assert.match(report.query.query_spec_digest, /^sha256:/);
  assert.equal(report.run.run_id, jobRun);
  assert.equal(report.run.iteration, 2);
  assert.match(report.run.artifact_manifest_digest, /^sha256:/);
  assert.equal(report.publication_safe, true);
  const artifacts = report.evidence[0]?.artifacts ?? [];
  assert.ok(artifacts.some((a) => a.source && a.path.startsWith('iterations/002/')));
  assert.ok(artifacts.every((a) => a.state === 'ok'));
});

test('GET /api/benchmark/contracts lists the metric definitions and every canonical table schema', async () => {
  type Contracts = {
    metrics: {
      name: string;
      field: string;
      scope: string;
      unit: string;
      direction: string;
      description: string;
      same_as: string[];
    }[];
    tables: { name: string; columns: { name: string; type: string }[] }[];
    named_queries: { name: string }[];
  };
  const contracts = await api<Contracts>('/api/benchmark/contracts');
  const ttft = contracts.metrics.find((m) => m.name === 'ttft');
  assert.equal(ttft?.field, 'ttft_ms');
  assert.equal(ttft?.unit, 'ms');
  assert.equal(ttft?.direction, 'lower');
  // The whole registry: request, iteration and point metrics, and the telemetry families.
  assert.deepEqual(
    [...new Set(contracts.metrics.map((m) => m.scope))],
    ['request', 'iteration', 'point', 'telemetry'],
  );
  const attainment = contracts.metrics.find((m) => m.name === 'goodput_attainment');
  assert.equal(attainment?.direction, 'higher');
  const kv = contracts.metrics.find((m) => m.name === 'kv_cache_usage');
  assert.equal(kv?.scope, 'telemetry');
  assert.equal(kv?.unit, 'fraction');
  assert.ok(kv?.same_as.includes('vllm: vllm:kv_cache_usage_perc'), JSON.stringify(kv?.same_as));
  assert.deepEqual(
    contracts.tables.map((t) => t.name),
    [...CANONICAL_TABLES],
  );
  for (const table of contracts.tables) assert.ok(table.columns.length > 0, table.name);
  const runFact = contracts.tables.find((t) => t.name === 'benchmark_run_fact');
  assert.deepEqual(runFact?.columns[0], { name: 'run_id', type: 'VARCHAR', nullable: false });
  assert.ok(contracts.named_queries.some((q) => q.name === 'serving_points'));
});

test('the pages render the warehouse: run list, run page with charts and lineage links, compare', async () => {
  const list = await get(dashboard.url, '/');
  assert.equal(list.status, 200);
  assert.match(String(list.headers['content-type']), /^text\/html/);
  assert.deepEqual(attr(list.text, 'run-row', 'data-run-id'), [flagRun, jobRun]);
  assert.match(list.text, /data-testid="filter-model"/);
  assert.doesNotMatch(list.text, /(src|href)="https?:/, 'no external URL');
  const nonce = /script-src 'nonce-([^']+)'/.exec(String(list.headers['content-security-policy']))?.[1];
  assert.ok(
    nonce && list.text.includes(`<script nonce="${nonce}">`),
    'the inline script carries the CSP nonce',
  );

  const filtered = await get(dashboard.url, '/?engine=vLLM');
  assert.deepEqual(attr(filtered.text, 'run-row', 'data-run-id'), [jobRun]);

  const page = await get(dashboard.url, `/runs/${jobRun}`);
  assert.equal(page.status, 200);
  const points = await rows(
    'SELECT iteration, concurrency, ttft_ms_p50, ttft_ms_p99, output_throughput_tokens_per_s FROM serving_outcome_fact WHERE run_id = $1 ORDER BY iteration',
    [jobRun],
  );
  // Every TTFT p99 in the table is a lineage link carrying the warehouse's value.
  const values = [
    ...page.text.matchAll(
      /data-column="ttft_ms_p99" data-run="[^"]+" data-iteration="(\d+)" data-value="([^"]+)"/g,
    ),
  ];
  assert.deepEqual(
    values.map((m) => [Number(m[1]), Number(m[2])]),
    points.map((p) => [p.iteration, p.ttft_ms_p99]),
  );
  // The charts' points are the warehouse's numbers: two scenarios, p50 and p99 at each concurrency.
  assert.equal(attr(page.text, 'scenario-charts', 'data-scenario').length, 2);
  const plotted = [...page.text.matchAll(/data-series="p99" data-x="([^"]+)" data-y="([^"]+)"/g)].map((m) => [
    Number(m[1]),
    Number(m[2]),
  ]);
  assert.deepEqual(
    plotted.sort((a, b) => (a[1] as number) - (b[1] as number)),
    points.map((p) => [p.concurrency, p.ttft_ms_p99]).sort((a, b) => (a[1] as number) - (b[1] as number)),
  );
  assert.equal(
    attr(page.text, 'chart-point', 'data-series').filter((s) => s === 'output tokens/s').length,
    4,
  );
  assert.match(page.text, /data-testid="lineage-panel"/);

  const compared = await get(dashboard.url, `/compare?a=${jobRun}&b=${flagRun}`);
  assert.equal(compared.status, 200);
  assert.equal(attr(compared.text, 'compare-row', 'data-testid').length, 5);
  const picker = await get(dashboard.url, '/compare');
  assert.equal(picker.status, 200);
  assert.match(picker.text, /data-testid="compare-form"/);
  assert.doesNotMatch(picker.text, /data-testid="compare-table"/);
});

test('GET /runs/:id/report serves the report of the run under a CSP of its inline hashes only', async () => {
  const page = await get(dashboard.url, `/runs/${jobRun}`);
  assert.deepEqual(attr(page.text, 'run-report-link', 'href'), [`/runs/${jobRun}/report`]);

  const reply = await get(dashboard.url, `/runs/${jobRun}/report`);
  assert.equal(reply.status, 200, reply.text.slice(0, 300));
  assert.match(String(reply.headers['content-type']), /^text\/html/);
  // The report's data is the warehouse's: this run, one chart figure per chart, uPlot inlined.
  const json = /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(reply.text)?.[1];
  assert.ok(json, 'the report embeds its data');
  const data = JSON.parse(json) as { subject: { kind: string; id: string }; charts: { id: string }[] };
  assert.deepEqual([data.subject.kind, data.subject.id], ['run', jobRun]);
  const figures = [...reply.text.matchAll(/<figure data-chart="([^"]+)"/g)].map((m) => m[1]);
  assert.deepEqual(figures.sort(), data.charts.map((c) => c.id).sort());
  assert.ok(figures.length >= 4, `charts: ${figures.join(', ')}`);
  const scenarios = await rows('SELECT DISTINCT scenario FROM serving_outcome_fact WHERE run_id = $1', [
    jobRun,
  ]);
  for (const { scenario } of scenarios) assert.ok(reply.text.includes(`Scenario ${String(scenario)}`));
  assert.doesNotMatch(reply.text, /(src|href)="https?:/, 'no external URL');
  assert.match(reply.text, /data-testid="report-back"/);

  // The CSP: every directive closed but for the report's own inline scripts and styles, by hash.
  const csp = String(reply.headers['content-security-policy']);
  const directives = new Map(
    csp.split(';').map((d) => {
      const [name, ...values] = d.trim().split(/\s+/);
      return [name as string, values];
    }),
  );
  assert.deepEqual(directives.get('default-src'), ["'none'"]);
  assert.deepEqual(directives.get('connect-src'), ["'none'"]);
  assert.deepEqual(directives.get('frame-ancestors'), ["'none'"]);
  assert.deepEqual(directives.get('base-uri'), ["'none'"]);
  assert.doesNotMatch(csp, /unsafe-|nonce-|https?:|\*|'self'\s*[;]?\s*(script|style)/);
  const { createHash } = await import('node:crypto');
  const hashOf = (text: string): string => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;
  const executable = [...reply.text.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) =>
    hashOf(m[1] as string),
  );
  const styles = [...reply.text.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((m) => hashOf(m[1] as string));
  assert.ok(executable.length >= 2 && styles.length >= 1);
  assert.deepEqual([...(directives.get('script-src') ?? [])].sort(), [...new Set(executable)].sort());
  assert.deepEqual([...(directives.get('style-src') ?? [])].sort(), [...new Set(styles)].sort());
  assert.ok(
    !(directives.get('script-src') ?? []).includes(hashOf(json)),
    'the JSON data block is not allowed to run',
  );
  // The other pages keep their nonce policy.
  assert.match(String(page.headers['content-security-policy']), /script-src 'nonce-[^']+'/);

  // A prefix is the run's report; a view is a view; HEAD is headers only.
  const byPrefix = await get(dashboard.url, `/runs/${jobRun.slice(0, 12)}/report?view=product`);
  assert.equal(byPrefix.status, 200);
  assert.match(byPrefix.text, /<body data-view="product">/);
  const head = await get(dashboard.url, `/runs/${jobRun}/report`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.text, '');

  // A run group's report (its repeats, points as medians); a group of one run is that run's report.
  const [group] = await rows(
    `SELECT r.run_group_id, (SELECT count(*) FROM benchmark_run_fact g WHERE g.run_group_id = r.run_group_id) AS runs
     FROM benchmark_run_fact r WHERE r.run_id = $1`,
    [jobRun],
  );
  if (typeof group?.run_group_id === 'string') {
    assert.deepEqual(
      attr(page.text, 'group-report-link', 'href'),
      Number(group.runs) > 1 ? [`/groups/${encodeURIComponent(group.run_group_id)}/report`] : [],
    );
    const grouped = await get(dashboard.url, `/groups/${encodeURIComponent(group.run_group_id)}/report`);
    assert.equal(grouped.status, 200, grouped.text.slice(0, 300));
    const groupData = JSON.parse(
      /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(grouped.text)?.[1] ??
        '{}',
    ) as { subject?: { kind: string; id: string } };
    assert.equal(groupData.subject?.id, group.run_group_id);
    assert.equal(groupData.subject?.kind, Number(group.runs) > 1 ? 'run_group' : 'run');
    assert.match(
      String(grouped.headers['content-security-policy']),
      /^default-src 'none'; script-src 'sha256-/,
    );
  }

  // Unknown, malformed and hostile ids, bad parameters: the 4xx of the other pages, as HTML, nothing leaked.
  const bad: [string, number][] = [
    ['/runs/zzzz0000nope/report', 404],
    [`/runs/${encodeURIComponent("' OR 1=1 --")}/report`, 400],
    [`/runs/${encodeURIComponent('<script>alert(1)</script>')}/report`, 400],
    [`/runs/${'a'.repeat(5000)}/report`, 400],
    ['/runs/abc/report', 400],
    ['/runs/%E0%A4%A/report', 400],
    [`/runs/${jobRun}/report?view=nope`, 400],
    [`/runs/${jobRun}/report?iteration=-1`, 400],
    [`/runs/${jobRun}/report?iteration=99`, 404], // an iteration the run does not have
    [`/runs/${jobRun}/report?view=product&view=partner`, 400],
    [`/runs/${jobRun}/report?x=1`, 400],
    [`/runs/${jobRun}/report/x`, 404],
    ['/groups/zzzz0000nope/report', 404],
    [`/groups/${encodeURIComponent("x'; DROP TABLE benchmark_run_fact; --")}/report`, 400],
  ];
  for (const [path, status] of bad) {
    const r = await get(dashboard.url, path);
    assert.equal(r.status, status, `${path.slice(0, 80)}: ${r.text.slice(0, 300)}`);
    assert.match(String(r.headers['content-type']), /^text\/html/, path);
    assert.match(String(r.headers['content-security-policy']), /script-src 'nonce-/, path);
    assert.doesNotMatch(r.text, /<script>alert|\n\s+at |node_modules/, path);
  }
  assert.equal((await get(dashboard.url, `/runs/${jobRun}/report`, { method: 'POST' })).status, 405);
  assert.deepEqual(logged, []);
});

test('GET /runs/:id/evidence shows an artifact of the run from its folder, the pointed line highlighted', async () => {
  const [artifact] = await rows(
    "SELECT path, sha256 FROM run_artifact WHERE run_id = $1 AND path LIKE 'iterations/%/requests.jsonl' ORDER BY path LIMIT 1",
    [jobRun],
  );
  const [lineage] = await rows('SELECT raw_uris FROM artifact_lineage_dim WHERE run_id = $1', [jobRun]);
  const path = String(artifact?.path);
  const folder = (lineage?.raw_uris as string[]).find((u) => u.startsWith('/')) as string;
  const lines = (await readFile(join(folder, path), 'utf8')).split('\n');
  const page = await get(dashboard.url, `/runs/${jobRun}/evidence?path=${encodeURIComponent(path)}&line=2`);
  assert.equal(page.status, 200, page.text);
  assert.match(String(page.headers['content-security-policy']), /script-src 'nonce-/);
  assert.match(page.text, /data-testid="evidence-digest" data-state="ok"/);
  assert.ok(page.text.includes(String(artifact?.sha256)));
  const highlighted =
    /<tr id="L2"[^>]*data-highlighted="true"><td class="n"><a href="#L2">2<\/a><\/td><td>([^<]*)<\/td>/.exec(
      page.text,
    );
  assert.ok(highlighted, page.text.slice(0, 2000));
  assert.equal(
    highlighted[1]
      ?.replaceAll('&quot;', '"')
      .replaceAll('&#39;', "'")
      .replaceAll('&lt;', '<')
      .replaceAll('&gt;', '>')
      .replaceAll('&amp;', '&'),
    lines[1],
  );
  assert.equal(attr(page.text, 'evidence-line', 'data-line').length, lines.filter((l) => l !== '').length);
  // Only a path run_artifact lists for that run; never one that leaves the folder.
  const refused: [string, number, string][] = [
    [`/runs/${jobRun}/evidence?path=iterations/000/none.jsonl`, 404, 'E_NO_ARTIFACT'],
    [`/runs/${jobRun}/evidence?path=../warehouse.duckdb`, 400, 'E_BAD_PARAM'],
    [`/runs/${jobRun}/evidence?path=%2Fetc%2Fpasswd`, 400, 'E_BAD_PARAM'],
    [`/runs/${jobRun}/evidence`, 400, 'E_BAD_PARAM'],
    [`/runs/${jobRun}/evidence?path=run.json&line=0`, 400, 'E_BAD_PARAM'],
    [`/runs/nosuchrun/evidence?path=run.json`, 404, 'E_NO_RUN'],
  ];
  for (const [url, status, code] of refused) {
    const reply = await get(dashboard.url, url);
    assert.equal(reply.status, status, `${url}: ${reply.text.slice(0, 300)}`);
    assert.match(reply.text, new RegExp(`data-code="${code}"`), url);
  }
});

test('GET /api/diagnose and the run, compare and report pages carry the diagnosis', async () => {
  type Dx = { run_id: string; baseline_run_id: string | null; findings: unknown[]; points: unknown[] };
  const single = await api<Dx>(`/api/diagnose?run=${jobRun.slice(0, 12)}`);
  assert.equal(single.run_id, jobRun);
  assert.equal(single.baseline_run_id, null);
  const pair = await api<Dx>(`/api/diagnose?run=${flagRun}&vs=${jobRun}`);
  assert.equal(pair.run_id, flagRun);
  assert.equal(pair.baseline_run_id, jobRun);
  for (const [url, status] of [
    ['/api/diagnose', 400],
    [`/api/diagnose?run=${jobRun}&x=1`, 400],
    [`/api/diagnose?run=${jobRun}&vs=..%2F`, 400],
    ['/api/diagnose?run=nosuchrun', 404],
  ] as const) {
    const reply = await get(dashboard.url, url);
    assert.equal(reply.status, status, `${url}: ${reply.text}`);
    assert.match(reply.text, /^\{"error":\{"code":"E_/);
  }
  const runPage = await get(dashboard.url, `/runs/${jobRun}`);
  assert.match(runPage.text, /<section id="diagnosis" data-testid="diagnosis" data-findings="\d+">/);
  const compare = await get(dashboard.url, `/compare?a=${jobRun}&b=${flagRun}`);
  assert.match(compare.text, /data-testid="diagnosis"/);
  assert.ok(compare.text.includes(`against baseline ${jobRun}`), 'B is diagnosed against A');
  const [ga, gb] = (
    await rows(
      'SELECT run_group_id FROM benchmark_run_fact WHERE run_id IN ($1, $2) ORDER BY run_id = $1 DESC',
      [jobRun, flagRun],
    )
  ).map((g) => String(g.run_group_id));
  const groups = await get(dashboard.url, `/compare?ga=${ga}&gb=${gb}`);
  assert.equal(groups.status, 200);
  assert.doesNotMatch(groups.text, /data-testid="diagnosis"/);
  const report = await get(dashboard.url, `/runs/${jobRun}/report`);
  assert.equal(report.status, 200);
  assert.match(report.text, /<section id="diagnosis"/);
});

test('bad input gets a clear 4xx with {error: {code, message}} and nothing else', async () => {
  const long = 'a'.repeat(5000);
  const cases: [path: string, status: number, code?: string, method?: string][] = [
    ['/api/runs/zzzz0000nope', 404, 'E_NO_RUN'],
    [`/api/runs/${encodeURIComponent('../etc/passwd')}`, 400, 'E_BAD_RUN_ID'],
    [`/api/runs/${encodeURIComponent("' OR 1=1 --")}`, 400, 'E_BAD_RUN_ID'],
    [`/api/runs/${encodeURIComponent("x'; DROP TABLE benchmark_run_fact; --")}`, 400, 'E_BAD_RUN_ID'],
    [`/api/runs/${long}`, 400, 'E_BAD_RUN_ID'],
    [`/api/runs/${encodeURIComponent('运行运行运行')}`, 400, 'E_BAD_RUN_ID'],
    [`/api/runs/${encodeURIComponent('run\u0000\u202e')}`, 400, 'E_BAD_RUN_ID'],
    ['/api/runs/%E0%A4%A', 400, 'E_BAD_RUN_ID'],
    ['/api/runs/abc', 400, 'E_BAD_RUN_ID'],
    ['/api/runs/../../etc/passwd', 404],
    [`/api/runs?model=${encodeURIComponent("' OR 1=1 --")}`, 400, 'E_BAD_FILTER'],
    [`/api/runs?engine=${encodeURIComponent('vLLM; DROP TABLE benchmark_run_fact')}`, 400, 'E_BAD_FILTER'],
    [`/api/runs?scenario=${encodeURIComponent("D(1,1)' UNION SELECT 1 --")}`, 400, 'E_BAD_FILTER'],
    [`/api/runs?gpu=${long}`, 400, 'E_BAD_FILTER'],
    ['/api/runs?limit=0', 400, 'E_BAD_PARAM'],
    ['/api/runs?limit=-1', 400, 'E_BAD_PARAM'],
    ['/api/runs?limit=abc', 400, 'E_BAD_PARAM'],
    ['/api/runs?limit=1e3', 400, 'E_BAD_PARAM'],
    ['/api/runs?limit=501', 400, 'E_BAD_PARAM'],
    ['/api/runs?limit=99999999999999999999', 400, 'E_BAD_PARAM'],
    ['/api/runs?offset=-5', 400, 'E_BAD_PARAM'],
    ['/api/runs?limit=1&limit=2', 400, 'E_BAD_PARAM'],
    ['/api/runs?order=run_id;--', 400, 'E_BAD_PARAM'],
    ['/api/runs?from=yesterday', 400, 'E_BAD_DATE'],
    ['/api/runs?from=2024-13-45', 400, 'E_BAD_DATE'],
    ['/api/runs?to=2024-02-30', 400, 'E_BAD_DATE'],
    [`/api/runs?from=${encodeURIComponent("2024-01-01' OR '1'='1")}`, 400, 'E_BAD_DATE'],
    ['/api/runs?from=2025-01-02&to=2025-01-01', 400, 'E_BAD_DATE'],
    ['/api/compare', 400, 'E_BAD_PARAM'],
    [`/api/compare?a=${jobRun}`, 400, 'E_BAD_PARAM'],
    [`/api/compare?a=${jobRun}&b=zzzz0000nope`, 404, 'E_NO_RUN'],
    [`/api/compare?a=${encodeURIComponent("' OR '1'='1")}&b=${jobRun}`, 400, 'E_BAD_RUN_ID'],
    [`/api/compare?ga=zzzz0000nope&gb=${jobRun}`, 404, 'E_NO_GROUP'],
    [`/api/compare?ga=${encodeURIComponent("x' OR 1=1")}&gb=${jobRun}`, 400, 'E_BAD_RUN_ID'],
    [`/api/compare?a=${jobRun}&gb=${jobRun}`, 400, 'E_BAD_PARAM'],
    ['/api/lineage', 400, 'E_BAD_PARAM'],
    ['/api/lineage?query=nope&column=ttft_ms_p99', 404, 'E_NO_QUERY'],
    [
      `/api/lineage?query=${encodeURIComponent('serving_points; DROP TABLE named_query')}&column=x`,
      400,
      'E_BAD_PARAM',
    ],
    [
      `/api/lineage?query=serving_points&column=${encodeURIComponent('ttft_ms_p99 FROM x')}`,
      400,
      'E_BAD_PARAM',
    ],
    ['/api/lineage?query=serving_points&column=nope', 400, 'E_NO_COLUMN'],
    ['/api/lineage?query=serving_points&column=ttft_ms_p99&run=zzzz0000', 404, 'E_NO_ROW'],
    [`/api/lineage?query=serving_points&column=ttft_ms_p99&run=${jobRun}&iteration=abc`, 400, 'E_BAD_PARAM'],
    [`/api/lineage?query=serving_points&column=ttft_ms_p99&run=${jobRun}&iteration=99`, 404, 'E_NO_ROW'],
    ['/api/lineage?query=serving_points&column=ttft_ms_p99&iteration=1', 400, 'E_BAD_PARAM'],
    ['/api/lineage?query=serving_points&column=ttft_ms_p99&row=999999', 404, 'E_NO_ROW'],
    ['/api/benchmark/contracts?x=1', 400, 'E_BAD_PARAM'],
    ['/api/nope', 404, 'E_NOT_FOUND'],
    ['/api', 404],
    ['/api/runs', 405, 'E_METHOD', 'POST'],
    [`/api/runs/${jobRun}`, 405, 'E_METHOD', 'DELETE'],
    ['/api/lineage?query=serving_points&column=ttft_ms_p99', 405, 'E_METHOD', 'PUT'],
  ];
  for (const [path, status, code, method] of cases) {
    const reply = await get(dashboard.url, path, method ? { method } : {});
    const label = `${method ?? 'GET'} ${path.slice(0, 100)}`;
    assert.equal(reply.status, status, `${label}: ${reply.text.slice(0, 300)}`);
    assert.doesNotMatch(reply.text, /\n\s+at |node_modules|\.js:\d+/, `${label}: no stack`);
    // `/api/runs/../../etc/passwd` is `/etc/passwd` once the URL is resolved: a page, not the API.
    if (new URL(path, 'http://x').pathname.startsWith('/api/')) {
      assert.match(String(reply.headers['content-type']), /^application\/json/, label);
      const body = JSON.parse(reply.text) as { error: { code: string; message: string } };
      assert.deepEqual(Object.keys(body), ['error'], label);
      assert.equal(typeof body.error.message, 'string', label);
      if (code) assert.equal(body.error.code, code, `${label}: ${body.error.message}`);
      assert.ok(body.error.message.length < 400, `${label}: message bounded`);
    }
    if (method) assert.equal(reply.headers.allow, 'GET, HEAD');
  }
  // Bad pages are pages with the same status.
  const page = await get(dashboard.url, `/runs/${encodeURIComponent('<script>alert(1)</script>')}`);
  assert.equal(page.status, 400);
  assert.match(String(page.headers['content-type']), /^text\/html/);
  assert.doesNotMatch(page.text, /<script>alert/);
  assert.equal((await get(dashboard.url, '/runs/zzzz0000nope')).status, 404);
  assert.equal((await get(dashboard.url, '/nope')).status, 404);
  assert.equal((await get(dashboard.url, '/?limit=0')).status, 400);
  // A loopback dashboard without a token answers only to loopback host names (DNS rebinding).
  const rebound = await get(dashboard.url, '/api/runs', { headers: { host: 'evil.example:80' } });
  assert.equal(rebound.status, 403);
  // Nothing was harmed, and nothing was an internal error.
  assert.equal((await api<{ total: number }>('/api/runs')).total, 2);
  assert.deepEqual(logged, []);
});

test('while another process writes the warehouse, requests get 503 and a Retry-After, then work again', async () => {
  // A writer holds DuckDB's file lock (as `infermark run` does while it ingests); the dashboard has closed its hold.
  await new Promise((resolve) => setTimeout(resolve, 200));
  const writer = await holdWarehouse(warehousePath);
  try {
    const busy = await get(dashboard.url, '/api/runs');
    assert.equal(busy.status, 503, busy.text);
    assert.equal(busy.headers['retry-after'], '1');
    assert.equal((JSON.parse(busy.text) as { error: { code: string } }).error.code, 'E_WAREHOUSE_BUSY');
  } finally {
    await writer.release();
  }
  assert.equal((await api<{ total: number }>('/api/runs')).total, 2);
});

test('a dashboard bound beyond loopback refuses to start without a token and demands it on every request', async () => {
  await assert.rejects(startDashboard({ warehousePath, host: '0.0.0.0', port: 0 }), { code: 'E_NO_TOKEN' });
  await assert.rejects(startDashboard({ warehousePath, host: '0.0.0.0', port: 0, token: 'short' }), {
    code: 'E_WEAK_TOKEN',
  });
  const token = 'tok-3f9c2a7b5e1d4c6a8b0e';
  const lines: string[] = [];
  const open = await startDashboard({
    warehousePath,
    host: '0.0.0.0',
    port: 0,
    token,
    log: (l) => lines.push(l),
  });
  try {
    const replies: Reply[] = [];
    const call = async (path: string, headers: Record<string, string> = {}): Promise<Reply> => {
      const reply = await get(open.url, path, { headers });
      replies.push(reply);
      return reply;
    };
    for (const path of [
      '/',
      '/api/runs',
      `/api/runs/${jobRun}`,
      '/api/benchmark/contracts',
      `/api/diagnose?run=${jobRun}`,
      `/runs/${jobRun}/evidence?path=run.json`,
      '/nope',
    ]) {
      const reply = await call(path);
      assert.equal(reply.status, 401, path);
    }
    assert.equal(
      (await call('/api/runs', { authorization: 'Bearer wrong-token-of-some-length' })).status,
      401,
    );
    assert.equal((await call('/api/runs', { authorization: `Bearer ${token}x` })).status, 401);
    assert.equal((await call('/api/runs', { authorization: `Bearer ${token}` })).status, 200);
    assert.equal((await call(`/api/runs?token=${token}`)).status, 200);
    // A page opened with ?token= sets a cookie and reloads without the token in the URL.
    const first = await call(`/runs/${jobRun}?token=${token}`);
    assert.equal(first.status, 303);
    assert.equal(first.headers.location, `/runs/${jobRun}`);
    const cookie = String(first.headers['set-cookie']).split(';')[0] as string;
    assert.match(String(first.headers['set-cookie']), /HttpOnly; SameSite=Strict/);
    const page = await call(`/runs/${jobRun}`, { cookie });
    assert.equal(page.status, 200);
    const evidence = await call(`/runs/${jobRun}/evidence?path=run.json&line=1`, { cookie });
    assert.equal(evidence.status, 200);
    assert.match(evidence.text, /data-testid="evidence-digest" data-state="ok"/);
    assert.equal((await call('/api/runs', { cookie: 'infermark_dashboard_token=nope' })).status, 401);
    for (const reply of replies) {
      assert.ok(!reply.text.includes(token), 'the token is never in a body');
      assert.ok(!String(reply.headers.location ?? '').includes(token), 'nor in a redirect');
    }
    assert.ok(!lines.join('\n').includes(token), 'nor in the log');
  } finally {
    await open.close();
  }
});

test('infermark serve: exit 2 without a token off loopback; with one, it serves and never prints it', async () => {
  const refused = await cli(['serve', '--warehouse', warehousePath, '--host', '0.0.0.0', '--port', '0']);
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, /not loopback: give --token or set INFERMARK_DASHBOARD_TOKEN/);
  const missing = await cli(['serve', '--warehouse', join(tmp(), 'none.duckdb'), '--port', '0']);
  assert.equal(missing.code, 2, missing.stderr);
  assert.match(missing.stderr, /no warehouse at/);

  const token = 'env-token-7d1e9b3c5a2f4e6d';
  let child: ChildProcess | undefined;
  let resolveUrl: (url: string) => void = () => undefined;
  const listening = new Promise<string>((resolve) => (resolveUrl = resolve));
  const running = cli(['serve', '--warehouse', warehousePath, '--host', '0.0.0.0', '--port', '0'], {
    env: { ...process.env, INFERMARK_DASHBOARD_TOKEN: token },
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
  const url = await listening;
  const port = new URL(url).port;
  const base = `http://127.0.0.1:${port}`;
  const denied = await get(base, '/api/runs');
  assert.equal(denied.status, 401);
  const allowed = await get(base, '/api/runs', { headers: { authorization: `Bearer ${token}` } });
  assert.equal(allowed.status, 200);
  assert.equal((JSON.parse(allowed.text) as { total: number }).total, 2);
  child?.kill('SIGTERM');
  const result = await running;
  assert.equal(result.code, 0, result.stderr);
  for (const text of [result.stdout, result.stderr, denied.text, allowed.text])
    assert.ok(!text.includes(token));
});
