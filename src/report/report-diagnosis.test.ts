/**
 * The diagnosis section, HTML and Markdown, from a fixture Diagnosis (diagnose()
 * itself is tested in diagnose/): findings before points, every fact, check and
 * evidence pointer shown, links to the raw file of a local run folder (with the
 * path and line in the text) or to the dashboard's evidence page, no link where
 * the evidence is only in a store or the path would leave the folder, the
 * decomposition drawn to scale, and every string from the data escaped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PointDiagnosis } from '../diagnose/diagnosis.js';
import { mdLink } from './markdown.js';
import type { ReportData } from './report-data.js';
import { diagnosisMarkdown } from './report-diagnosis-md.js';
import {
  dashboardEvidenceLinker,
  decompositionBar,
  diagnosisHtml,
  fileEvidenceLinker,
  pointerText,
} from './report-diagnosis.js';
import { renderHtml } from './report-html.js';
import { renderMarkdown } from './report-md.js';
import { fixtureDiagnosis, HOSTILE } from './testing/diagnosis-fixture.js';

const LINEAGE = [
  { run_id: 'run-b', raw_uris: ['/data/runs/run b', 's3://bucket/runs'] },
  { run_id: 'run-a', raw_uris: ['s3://bucket/runs'] },
];

test('HTML: findings first, each with its title, reading, facts, checks and evidence links', () => {
  const d = fixtureDiagnosis({ runId: 'run-b', baselineRunId: 'run-a' });
  const html = diagnosisHtml(d, fileEvidenceLinker(LINEAGE));
  assert.match(html, /data-findings="3"/);
  const findings = [...html.matchAll(/data-testid="finding" data-playbook="([^"]+)" data-severity="(\w+)"/g)];
  assert.deepEqual(
    findings.map((m) => [m[1], m[2]]),
    [
      ['server-queue', 'high'],
      ['gpu-throttling', 'medium'],
      ['client-limited', 'low'],
    ],
  );
  assert.ok(html.indexOf('data-testid="finding"') < html.indexOf('data-testid="diagnosis-point"'));
  for (const f of d.findings) {
    assert.ok(html.includes(f.interpretation), f.interpretation);
    for (const fact of f.facts) assert.ok(html.includes(fact), fact);
  }
  assert.ok(html.includes('KV-cache size'));
  // The JSONL pointer: file:// of the local run folder, the text says path and line.
  assert.ok(
    html.includes(
      'href="file:///data/runs/run%20b/iterations/001/requests.jsonl">request r-7 (trace 4bf9&lt;img src=x onerror=alert(1)&gt;) — iterations/001/requests.jsonl line 7</a>',
    ),
    html,
  );
  // A whole file: no line in the text.
  assert.match(html, /scrape 0003 of gpu-node-b — iterations\/001\/telemetry\/gpu-0003\.prom\.gz<\/a>/);
  assert.ok(html.includes('Evidence: none recorded'));
  // Only the changed point gets a section; the other is listed.
  assert.equal([...html.matchAll(/data-testid="diagnosis-point"/g)].length, 1);
  assert.match(html, /data-shape="whole-distribution"/);
  assert.match(html, /Unchanged: <code>D\(16,6\)@c1<\/code>/);
  assert.match(html, /\+700\.0 %/);
  assert.match(html, /requests \(effect size\)/);
  assert.match(html, /84 \[78\.5, 90\.25\]<\/td><td>&lt; 0\.001<\/td>/);
  assert.match(html, /data-testid="telemetry-windows"/);
  assert.match(html, /4bf92f3577b34da6/);
  // Nothing from the data arrives as markup, and no inline style (the report's CSP forbids it).
  assert.ok(!html.includes(HOSTILE), 'raw markup in the section');
  assert.doesNotMatch(html, /\sstyle=/);
});

test('HTML: a single run says what it can show; a run group says why there is no diagnosis', () => {
  const single = diagnosisHtml(
    { ...fixtureDiagnosis({ runId: 'run-b', baselineRunId: null }), findings: [], points: [] },
    fileEvidenceLinker(LINEAGE),
  );
  assert.match(single, /on its own: only the playbooks that need no baseline/);
  assert.match(single, /data-testid="no-findings"/);
  assert.match(diagnosisHtml(null, fileEvidenceLinker([])), /Diagnosis compares two runs/);
});

test('evidence links: local folder first, a store only as text, an unsafe path never linked', () => {
  const link = fileEvidenceLinker(LINEAGE);
  const pointer = { run_id: 'run-a', path: 'iterations/000/requests.jsonl', line: 3, label: 'request x' };
  assert.deepEqual(link(pointer), {
    href: null,
    text: 'request x — iterations/000/requests.jsonl line 3 (in s3://bucket/runs)',
  });
  assert.equal(link({ ...pointer, run_id: 'run-b', path: '../../etc/passwd' }).href, null);
  assert.equal(link({ ...pointer, run_id: 'run-b', path: '/etc/passwd' }).href, null);
  assert.equal(
    link({ ...pointer, run_id: 'run-b' }).href,
    'file:///data/runs/run%20b/iterations/000/requests.jsonl',
  );
  assert.equal(pointerText({ ...pointer, label: pointer.path, line: undefined }), pointer.path);
  assert.deepEqual(dashboardEvidenceLinker({ ...pointer, run_id: 'run a/b' }), {
    href: '/runs/run%20a%2Fb/evidence?path=iterations%2F000%2Frequests.jsonl&line=3#L3',
    text: 'request x — iterations/000/requests.jsonl line 3',
  });
});

test('the decomposition bar: each component to scale, baseline above current', () => {
  const { decomposition } = fixtureDiagnosis({ runId: 'b', baselineRunId: 'a' }).points[0] as PointDiagnosis;
  const svg = decompositionBar(decomposition.baseline, decomposition.current);
  const rects = [
    ...svg.matchAll(
      /<rect x="([\d.]+)" y="(\d+)" width="([\d.]+)" height="18" fill="[^"]+" data-component="([^"]+)" data-ms="([\d.]+)"/g,
    ),
  ];
  assert.equal(rects.length, 8);
  const width = (y: string, c: string): number => Number(rects.find((r) => r[2] === y && r[4] === c)?.[3]);
  // Widths are proportional to milliseconds on one scale for both bars.
  const scale = width('26', 'server queue') / 81;
  assert.ok(Math.abs(width('0', 'decode') / 40 - scale) < 0.01, svg);
  assert.ok(Math.abs(width('26', 'prefill') / 15 - scale) < 0.01, svg);
  // A component not measured draws nothing.
  const none = decompositionBar(null, { ...decomposition.current, server_queue_ms: null });
  assert.doesNotMatch(none, /data-component="server queue"/);
});

test('Markdown: findings, points, links with path and line; nothing raw', () => {
  const d = fixtureDiagnosis({ runId: 'run-b', baselineRunId: 'run-a' });
  const md = diagnosisMarkdown(d, fileEvidenceLinker(LINEAGE)).join('\n');
  assert.match(md, /^1\. \*\*HIGH: Requests wait in the server's queue &lt;img/m);
  assert.match(md, /^3\. \*\*LOW: The client may be the limit\*\*/m);
  assert.ok(md.includes('](file:///data/runs/run%20b/iterations/001/requests.jsonl)'), md);
  assert.match(md, /iterations\/001\/requests\.jsonl line 7\]/);
  assert.match(md, /\| server queue \| 0\.4 \| 81 \|/);
  assert.match(md, /^- r-9: TTFT —, E2E 250 ms: \[/m);
  assert.match(md, /Check next: max_num_seqs \/ batch capacity; KV-cache size/);
  assert.ok(md.indexOf('**HIGH') < md.indexOf('**D(16,6)@c8**'));
  assert.ok(!md.includes(HOSTILE));
  assert.equal(mdLink('x', 'javascript:alert(1)'), 'x');
  assert.equal(mdLink('a]b', 'file:///a (1)/b c'), '[a\\]b](file:///a%20%281%29/b%20c)');
});

function reportData(diagnosis: ReportData['diagnosis']): ReportData {
  const subject = {
    label: 'B',
    kind: 'run' as const,
    id: 'run-b',
    run_ids: ['run-b'],
    runs: [],
    software: [],
    hardware: [],
    cluster: [],
    workloads: [],
    lineage: [LINEAGE[0] as Record<string, unknown>],
    artifacts: [],
    points: [],
  };
  return {
    format_version: 1,
    generated_at: '2026-01-01T00:00:00.000Z',
    subject,
    baseline: {
      ...subject,
      label: 'A',
      id: 'run-a',
      run_ids: ['run-a'],
      lineage: [LINEAGE[1] as Record<string, unknown>],
    },
    charts: [],
    drilldown: null,
    deltas: [],
    deltas_source: 'compareRuns',
    gate: null,
    slow_requests: [],
    ...(diagnosis !== undefined ? { diagnosis } : {}),
  };
}

test('the reports carry the section when the data has a diagnosis, with the links the caller asks for', () => {
  const d = fixtureDiagnosis({ runId: 'run-b', baselineRunId: 'run-a' });
  const html = renderHtml(reportData(d), 'engineering');
  assert.match(html, /<section id="diagnosis"/);
  assert.match(html, /href="file:\/\/\/data\/runs\/run%20b\/iterations\/001\/requests\.jsonl"/);
  const served = renderHtml(reportData(d), 'engineering', { evidence: dashboardEvidenceLinker });
  assert.match(
    served,
    /href="\/runs\/run-b\/evidence\?path=iterations%2F001%2Frequests\.jsonl&amp;line=7#L7"/,
  );
  assert.doesNotMatch(renderHtml(reportData(undefined), 'engineering'), /id="diagnosis"/);
  const md = renderMarkdown(reportData(d), 'engineering');
  assert.match(md, /\*\*Diagnosis\*\*/);
  assert.doesNotMatch(renderMarkdown(reportData(undefined), 'engineering'), /\*\*Diagnosis\*\*/);
});
