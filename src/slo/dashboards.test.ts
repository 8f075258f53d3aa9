/**
 * The dashboards as Grafana loads them: the JSON model's required structure (schema
 * version, unique panel ids, grid positions inside the 24-column grid and not
 * overlapping, a Prometheus datasource on every panel that queries), and every PromQL
 * expression of every target parsed by promtool.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSlo } from '../spec/slo.js';
import type { Slo } from '../spec/slo-types.js';
import { dashboards, SCHEMA_VERSION, type GrafanaDashboard } from './dashboards.js';
import { planExport } from './export-plan.js';
import { checkExpressions } from './testing/promtool.js';

const slo = (text: string): Slo => {
  const parsed = parseSlo(text);
  assert.ok(parsed.ok, text);
  return parsed.slo;
};

const QUERYING = new Set(['stat', 'timeseries', 'heatmap', 'gauge']);

/** Every structural problem of one dashboard, as text. */
function problems(board: GrafanaDashboard): string[] {
  const found: string[] = [];
  // The board round-trips through JSON as Grafana receives it.
  const json = JSON.parse(JSON.stringify(board)) as GrafanaDashboard;
  if (json.schemaVersion !== SCHEMA_VERSION) found.push(`schemaVersion ${json.schemaVersion}`);
  for (const field of ['uid', 'title'] as const) if (!json[field]) found.push(`no ${field}`);
  if (json.uid.length > 40) found.push(`uid longer than 40: ${json.uid}`);
  if (!Array.isArray(json.panels) || json.panels.length === 0) found.push('no panels');
  const ids = new Set<number>();
  const cells = new Set<string>();
  for (const panel of json.panels) {
    const at = `panel ${panel.id} "${panel.title}"`;
    if (!Number.isInteger(panel.id) || ids.has(panel.id)) found.push(`${at}: id not unique`);
    ids.add(panel.id);
    if (!panel.type || !panel.title) found.push(`${at}: no type or title`);
    const g = panel.gridPos;
    if (
      !g ||
      ![g.x, g.y, g.w, g.h].every((v) => Number.isInteger(v) && v >= 0) ||
      g.w < 1 ||
      g.h < 1 ||
      g.x + g.w > 24
    ) {
      found.push(`${at}: bad gridPos ${JSON.stringify(g)}`);
      continue;
    }
    for (let x = g.x; x < g.x + g.w; x++) {
      for (let y = g.y; y < g.y + g.h; y++) {
        if (cells.has(`${x},${y}`)) found.push(`${at}: overlaps at ${x},${y}`);
        cells.add(`${x},${y}`);
      }
    }
    if (QUERYING.has(panel.type)) {
      if (panel.datasource?.type !== 'prometheus') found.push(`${at}: no prometheus datasource`);
      if (!Array.isArray(panel.targets) || panel.targets.length === 0) found.push(`${at}: no targets`);
      const refIds = new Set<string>();
      for (const target of panel.targets ?? []) {
        if (!target.expr) found.push(`${at}: a target without expr`);
        if (refIds.has(target.refId)) found.push(`${at}: refId ${target.refId} twice`);
        refIds.add(target.refId);
        if (target.datasource?.type !== 'prometheus')
          found.push(`${at}: target ${target.refId} without datasource`);
      }
    }
  }
  return found;
}

test('each audience gets a dashboard that loads as Grafana JSON, and every expression parses (promtool)', () => {
  const expressions: string[] = [];
  for (const engine of ['vllm', 'sglang', 'tgi'] as const) {
    const plan = planExport(
      [slo('p99_ttft_ms<=500'), slo('p95_e2e_latency_ms<=2000'), slo('p99_tpot_ms<=50')],
      {
        engine,
        model: 'meta-llama/Llama-3.1-8B-Instruct',
        selector: 'namespace="prod"',
      },
    );
    const boards = dashboards(plan, 'from run `r1`');
    assert.deepEqual(Object.keys(boards), [
      'dashboard-executive.json',
      'dashboard-on-call.json',
      'dashboard-debug.json',
    ]);
    const uids = new Set<string>();
    for (const [name, board] of Object.entries(boards)) {
      assert.deepEqual(problems(board), [], `${engine} ${name}`);
      uids.add(board.uid);
      for (const panel of board.panels) for (const t of panel.targets ?? []) expressions.push(t.expr);
    }
    assert.equal(uids.size, 3, 'the three dashboards have their own uids');
    // Two deployments whose names differ past the uid's length, or only in their selector,
    // must not overwrite each other's dashboards on import.
    const other = (model: string, selector: string): string =>
      dashboards(planExport([slo('p95_e2e_latency_ms<=2000')], { engine, model, selector }), 'r')[
        'dashboard-executive.json'
      ]?.uid ?? '';
    const a = other('meta-llama/Llama-3.1-8B-Instruct', 'namespace="prod"');
    assert.notEqual(a, other('meta-llama/Llama-3.1-8B-Instruct-FP8', 'namespace="prod"'));
    assert.notEqual(a, other('meta-llama/Llama-3.1-8B-Instruct', 'namespace="staging"'));
  }
  const result = checkExpressions(expressions);
  assert.equal(result.code, 0, result.output);
  assert.match(result.output, new RegExp(`SUCCESS: ${expressions.length} rules found`));
});

test('what each audience sees: SLIs and budget; live p95/p99 and failures; per-instance and per-request detail', () => {
  const plan = planExport([slo('p99_ttft_ms<=500')], { engine: 'vllm', model: 'm' });
  const boards = dashboards(plan, 'provenance text');
  const titles = (name: string): string => (boards[name]?.panels ?? []).map((p) => p.title).join(' | ');
  assert.match(
    titles('dashboard-executive.json'),
    /met over 30d.*error budget left.*SLIs.*Burn rate.*p95 \/ p99 trend.*Where these SLOs come from/,
  );
  assert.match(
    titles('dashboard-on-call.json'),
    /p99 · last 15m.*p95 \/ p99 \(5m windows\).*Failed requests per second, by instance.*Firing SLO alerts/,
  );
  assert.match(
    titles('dashboard-debug.json'),
    /per-request distribution.*p99 by instance and pod.*KV cache usage, by instance/,
  );
  const text = boards['dashboard-executive.json']?.panels.find((p) => p.type === 'text');
  assert.equal(text?.options?.content, 'provenance text');
  const heatmap = boards['dashboard-debug.json']?.panels.find((p) => p.type === 'heatmap');
  assert.equal(heatmap?.targets?.[0]?.format, 'heatmap');
});

test('a broken expression fails the promtool check (the check can fail)', () => {
  const result = checkExpressions(['sum(rate(x[5m])']);
  assert.notEqual(result.code, 0, result.output);
});
