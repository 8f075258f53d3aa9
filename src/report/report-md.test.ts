/**
 * The Markdown report escapes what it did not write itself: a model name, label,
 * URL, scenario or id holding HTML arrives as text (`&lt;script&gt;`), a backtick
 * cannot end a code span early, and a bracket cannot open a link. The report data
 * is built here (plain JSON, as buildReportData returns it) because a hostile name
 * is what a job or a server can put in the warehouse, not what a test run makes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { POINT_METRICS, type Point, type ReportData, type Subject } from './report-data.js';
import { codeSpan, mdText, renderMarkdown } from './report-md.js';
import { VIEWS } from './report-views.js';

const SCRIPT = '<script>alert(1)</script>';

function point(scenario: string, concurrency: number, ttft: number): Point {
  const metrics = Object.fromEntries(POINT_METRICS.map((m) => [m, 10])) as Point['metrics'];
  metrics.ttft_ms_p99 = ttft;
  metrics.error_rate = 0.1;
  // The SLO text is the job's own: it goes through the same escaping as the rest.
  const slos: Point['slos'] = [
    {
      slo: `p99_ttft_ms<=53${SCRIPT}`,
      percentile: 99,
      at_percentile: 99,
      op: '<=',
      threshold: 53,
      measured: ttft,
      repeats: 1,
      met_repeats: ttft <= 53 ? 1 : 0,
      met: ttft <= 53,
    },
  ];
  return {
    scenario,
    mode: 'concurrency',
    concurrency,
    rate_rps: null,
    repeats: 1,
    iteration: 0,
    metrics,
    slos,
  };
}

function subject(label: string, id: string, ttft: number): Subject {
  return {
    label,
    kind: 'run',
    id,
    run_ids: [id],
    runs: [
      {
        model: `m${SCRIPT}`,
        endpoint_base_url: 'http://127.0.0.1:1/<img src=x onerror=alert(2)>',
        engine: `vLLM<b>bold</b>`,
        engine_version: '[link](javascript:alert(3))',
        gpu_type: 'H100 | <i>',
        backend: 'openai-chat',
        job_name: `job${SCRIPT}`,
        artifact_manifest_digest: 'sha256:ab',
        workload_spec_digest: 'sha256:cd',
      },
    ],
    software: [{ server_version: `0.1${SCRIPT}` }],
    hardware: [],
    cluster: [],
    workloads: [],
    lineage: [{ run_id: id, raw_uris: [`s3://bucket/${SCRIPT}`] }],
    artifacts: [],
    points: [point(`D(16,6)${SCRIPT}`, 1, ttft), point(`D(16,6)${SCRIPT}`, 4, ttft * 2)],
  };
}

function data(): ReportData {
  return {
    format_version: 1,
    generated_at: '2026-01-01T00:00:00.000Z',
    subject: subject(`B${SCRIPT}`, 'run-b`<script>x</script>', 30),
    baseline: subject(`A${SCRIPT}`, 'run-a', 10),
    charts: [],
    drilldown: null,
    deltas: [
      {
        scenario: `D(16,6)${SCRIPT}`,
        mode: 'concurrency',
        concurrency: 1,
        rate_rps: null,
        metric: `ttft_ms_p99${SCRIPT}`,
        a: 10,
        b: 30,
        change_pct: 200,
        verdict: 'worse',
      },
    ],
    deltas_source: 'compareRuns',
    gate: {
      status: 'single-run',
      message: `Verdicts need repeats ${SCRIPT}`,
      tolerances: { path: 't.yaml', sha256: '', relative: null, alpha: null, min_repeats: null },
      repeats: { a: 1, b: 1 },
      config_fingerprint: { a: null, b: null },
      rows: [],
    },
    slow_requests: [],
  };
}

/** The Markdown outside code spans and fenced blocks, where a renderer would interpret HTML. */
function outsideCode(md: string): string {
  return md.replace(/^(`{3,})[^\n]*\n[\s\S]*?\n\1$/gm, '').replace(/(`+)(?:(?!\1)[^\n])*?\1/g, '');
}

test('Markdown report: <script> in a model name, label, URL, scenario or message appears escaped', () => {
  for (const view of VIEWS) {
    const md = renderMarkdown(data(), view);
    const text = outsideCode(md);
    assert.doesNotMatch(text, /<[a-zA-Z/!?]/, `${view}: raw HTML outside code:\n${md}`);
    assert.ok(text.includes('&lt;script&gt;alert(1)&lt;/script&gt;'), `${view}:\n${md}`);
    // A bracket cannot start a link, a pipe cannot split a table cell.
    assert.doesNotMatch(text, /(?<!\\)\[link(?<!\\)\]/, view);
    assert.match(md, /H100 \\\| &lt;i&gt;/, view);
    // The run id with a backtick stays one code span: the fence is longer than its backtick.
    assert.ok(md.includes('``run-b`<script>x</script>``'), `${view}:\n${md}`);
  }
});

test('mdText and codeSpan: HTML and brackets escaped, code spans that no backtick closes early', () => {
  assert.equal(mdText('<a href="x">&</a>\n[y]'), '&lt;a href="x"&gt;&amp;&lt;/a&gt; \\[y\\]');
  assert.equal(codeSpan('plain'), '`plain`');
  assert.equal(codeSpan('a``b'), '```a``b```');
  assert.equal(codeSpan('`edge'), '`` `edge ``');
});
