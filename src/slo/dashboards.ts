/**
 * Grafana dashboards for an export plan, one per audience of the benchmark-model guide:
 * executive (the SLIs over 30 days, their trend, the error budget left, burn rate),
 * on-call (live p95/p99 over 5 and 15 minutes, failures, burn rates, firing alerts) and
 * debug (per-instance and per-pod latency, the per-request latency distribution as a
 * heatmap, queue, KV cache and restarts). Expressions are plain PromQL with the model
 * baked in; only the datasource is a dashboard variable.
 */
import { createHash } from 'node:crypto';
import { TELEMETRY_FAMILIES, type TelemetryFamilyName } from '../metrics/telemetry-families.js';
import { counterSelector, selector, type ExportPlan, type SloTarget } from './export-plan.js';
import { RECORDED } from './rules.js';

export interface GrafanaTarget {
  refId: string;
  expr: string;
  legendFormat?: string;
  format?: 'time_series' | 'heatmap';
  datasource: { type: 'prometheus'; uid: string };
}

export interface GrafanaPanel {
  id: number;
  type: 'stat' | 'timeseries' | 'heatmap' | 'text' | 'alertlist' | 'gauge';
  title: string;
  description?: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type: 'prometheus'; uid: string };
  targets?: GrafanaTarget[];
  fieldConfig?: { defaults: Record<string, unknown>; overrides: unknown[] };
  options?: Record<string, unknown>;
}

export interface GrafanaDashboard {
  uid: string;
  title: string;
  tags: string[];
  description: string;
  schemaVersion: number;
  version: number;
  editable: boolean;
  refresh: string;
  time: { from: string; to: string };
  timezone: string;
  templating: { list: unknown[] };
  annotations: { list: unknown[] };
  links: unknown[];
  panels: GrafanaPanel[];
}

/** Grafana's dashboard JSON model version these are written for (Grafana 10/11). */
export const SCHEMA_VERSION = 39;
const DATASOURCE = { type: 'prometheus' as const, uid: '${datasource}' };
const WIDTH = 24;

/** Lays panels out left to right, `perRow` to a row. */
class Layout {
  private id = 1;
  private x = 0;
  private y = 0;
  private rowHeight = 0;
  readonly panels: GrafanaPanel[] = [];

  add(panel: Omit<GrafanaPanel, 'id' | 'gridPos' | 'datasource'>, w: number, h: number): void {
    if (this.x + w > WIDTH) this.newRow();
    const hasTargets = panel.targets !== undefined;
    this.panels.push({
      id: this.id++,
      gridPos: { x: this.x, y: this.y, w, h },
      ...(hasTargets ? { datasource: DATASOURCE } : {}),
      ...panel,
    });
    this.x += w;
    this.rowHeight = Math.max(this.rowHeight, h);
  }

  newRow(): void {
    if (this.x === 0) return;
    this.x = 0;
    this.y += this.rowHeight;
    this.rowHeight = 0;
  }
}

/** Targets with refIds A, B, ... */
function targets(...items: { expr: string; legend?: string; heatmap?: boolean }[]): GrafanaTarget[] {
  return items.map((item, i) => ({
    refId: String.fromCharCode(65 + i),
    expr: item.expr,
    ...(item.legend === undefined ? {} : { legendFormat: item.legend }),
    ...(item.heatmap ? { format: 'heatmap' as const } : {}),
    datasource: DATASOURCE,
  }));
}

const percentUnit = { unit: 'percentunit', decimals: 3 };
const fields = (defaults: Record<string, unknown>): GrafanaPanel['fieldConfig'] => ({
  defaults,
  overrides: [],
});

/** The engine's spelling of a family, if it has one. */
function spelling(plan: ExportPlan, family: TelemetryFamilyName): string | undefined {
  return (TELEMETRY_FAMILIES[family].spellings as Readonly<Record<string, readonly string[]>>)[
    plan.engine
  ]?.[0];
}

function quantileExpr(plan: ExportPlan, target: SloTarget, q: number, window: string, by = ''): string {
  const grouping = by === '' ? 'le' : `le, ${by}`;
  return `histogram_quantile(${q}, sum by (${grouping}) (rate(${selector(plan, `${target.histogram.name}_bucket`)}[${window}])))`;
}

function goodShareExpr(plan: ExportPlan, target: SloTarget, window: string): string {
  const good = selector(plan, `${target.histogram.name}_bucket`, target.le_matcher);
  const all = selector(plan, `${target.histogram.name}_count`);
  return `sum(increase(${good}[${window}])) / sum(increase(${all}[${window}]))`;
}

function recordedSelector(plan: ExportPlan, name: string, target?: SloTarget): string {
  const labels = [`model="${plan.model.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`];
  if (target) labels.push(`slo="${target.slo}"`, `sli="${target.sli}"`);
  return `${name}{${labels.join(',')}}`;
}

function dashboard(
  plan: ExportPlan,
  audience: string,
  description: string,
  time: string,
  layout: Layout,
): GrafanaDashboard {
  const slug = plan.model
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, 16);
  // Grafana's uid is at most 40 characters: a cut model name alone made two deployments of
  // similar names (…-Instruct, …-Instruct-FP8) overwrite each other. A digest of what the
  // dashboard selects (engine, model, matchers) keeps them apart.
  const which = createHash('sha256')
    .update(JSON.stringify([plan.engine, plan.model, plan.matchers]))
    .digest('hex')
    .slice(0, 8);
  return {
    uid: `im-slo-${audience.slice(0, 4)}-${slug}-${which}`.slice(0, 40),
    title: `infermark SLOs · ${plan.model} · ${audience}`,
    tags: ['infermark', 'slo', audience, plan.engine],
    description,
    schemaVersion: SCHEMA_VERSION,
    version: 1,
    editable: true,
    refresh: audience === 'executive' ? '5m' : '30s',
    time: { from: time, to: 'now' },
    timezone: 'utc',
    templating: {
      list: [
        { name: 'datasource', label: 'Prometheus', type: 'datasource', query: 'prometheus', current: {} },
      ],
    },
    annotations: { list: [] },
    links: [],
    panels: layout.panels,
  };
}

/** SLIs over 30 days, their trend, budget left and burn; failures and a note on where the SLOs came from. */
export function executiveDashboard(plan: ExportPlan, provenance: string): GrafanaDashboard {
  const layout = new Layout();
  for (const t of plan.targets) {
    layout.add(
      {
        type: 'stat',
        title: `${t.slo} · met over 30d`,
        description: `Share of requests at or below ${t.le_s} s (${t.histogram.name}); objective ${t.objective}.`,
        targets: targets({ expr: goodShareExpr(plan, t, '30d') }),
        fieldConfig: fields({
          ...percentUnit,
          thresholds: {
            mode: 'absolute',
            steps: [
              { color: 'red', value: null },
              { color: 'green', value: t.objective },
            ],
          },
        }),
      },
      6,
      5,
    );
    layout.add(
      {
        type: 'gauge',
        title: `${t.slo} · error budget left (30d)`,
        description: `1 − (bad share ÷ budget ${t.budget.toPrecision(3)}); below 0 the budget is spent.`,
        targets: targets({
          expr: `1 - ((1 - (${goodShareExpr(plan, t, '30d')})) / ${t.budget.toPrecision(6)})`,
        }),
        fieldConfig: fields({ ...percentUnit, min: 0, max: 1 }),
      },
      6,
      5,
    );
  }
  if (plan.errors !== null) {
    layout.add(
      {
        type: 'stat',
        title: 'Failed requests · 30d',
        description: plan.errors.meaning,
        targets: targets({
          expr: `sum(increase(${counterSelector(plan, plan.errors.failed)}[30d])) / (${plan.errors.total
            .map((c) => `sum(increase(${counterSelector(plan, c)}[30d]))`)
            .join(' + ')})`,
        }),
        fieldConfig: fields(percentUnit),
      },
      6,
      5,
    );
  }
  layout.newRow();
  layout.add(
    {
      type: 'timeseries',
      title: 'SLIs · share of requests within each SLO (1h windows)',
      targets: targets(
        ...plan.targets.map((t) => ({
          expr: `1 - ${recordedSelector(plan, RECORDED.errorRatio('1h'), t)}`,
          legend: t.slo,
        })),
      ),
      fieldConfig: fields(percentUnit),
    },
    12,
    8,
  );
  layout.add(
    {
      type: 'timeseries',
      title: 'Burn rate (1h; 1 = budget spent exactly in 30 days)',
      targets: targets(
        ...plan.targets.map((t) => ({
          expr: `${recordedSelector(plan, RECORDED.errorRatio('1h'), t)} / ${t.budget.toPrecision(6)}`,
          legend: t.slo,
        })),
      ),
      fieldConfig: fields({ unit: 'none' }),
    },
    12,
    8,
  );
  layout.add(
    {
      type: 'timeseries',
      title: 'p95 / p99 trend (1h windows)',
      targets: targets(
        ...plan.targets.flatMap((t) => [
          { expr: quantileExpr(plan, t, 0.95, '1h'), legend: `${t.sli} p95` },
          { expr: quantileExpr(plan, t, 0.99, '1h'), legend: `${t.sli} p99` },
        ]),
      ),
      fieldConfig: fields({ unit: 's' }),
    },
    12,
    8,
  );
  layout.add(
    {
      type: 'text',
      title: 'Where these SLOs come from',
      options: { mode: 'markdown', content: provenance },
    },
    12,
    8,
  );
  return dashboard(
    plan,
    'executive',
    'SLO attainment, trend and error budget (benchmark model guide: executive).',
    'now-30d',
    layout,
  );
}

/** Live p95/p99, failures, burn rates and firing alerts. */
export function onCallDashboard(plan: ExportPlan): GrafanaDashboard {
  const layout = new Layout();
  for (const t of plan.targets) {
    layout.add(
      {
        type: 'stat',
        title: `${t.sli} p99 · last 15m`,
        description: `SLO ${t.slo}: threshold ${t.threshold_s} s.`,
        targets: targets({ expr: quantileExpr(plan, t, 0.99, '15m') }),
        fieldConfig: fields({
          unit: 's',
          thresholds: {
            mode: 'absolute',
            steps: [
              { color: 'green', value: null },
              { color: 'red', value: t.threshold_s },
            ],
          },
        }),
      },
      4,
      4,
    );
  }
  layout.newRow();
  for (const t of plan.targets) {
    layout.add(
      {
        type: 'timeseries',
        title: `${t.sli} p95 / p99 (5m windows) · SLO ${t.slo}`,
        targets: targets(
          { expr: quantileExpr(plan, t, 0.95, '5m'), legend: 'p95' },
          { expr: quantileExpr(plan, t, 0.99, '5m'), legend: 'p99' },
        ),
        fieldConfig: fields({ unit: 's' }),
      },
      8,
      8,
    );
  }
  layout.newRow();
  const first = plan.targets[0] as SloTarget;
  layout.add(
    {
      type: 'timeseries',
      title: 'Requests per second',
      targets: targets({
        expr: `sum(rate(${selector(plan, `${first.histogram.name}_count`)}[5m]))`,
        legend: 'requests/s',
      }),
      fieldConfig: fields({ unit: 'reqps' }),
    },
    8,
    8,
  );
  if (plan.errors !== null) {
    layout.add(
      {
        type: 'timeseries',
        title: 'Failed requests per second, by instance',
        description: plan.errors.meaning,
        targets: targets({
          expr: `sum by (instance) (rate(${counterSelector(plan, plan.errors.failed)}[5m]))`,
          legend: '{{instance}}',
        }),
        fieldConfig: fields({ unit: 'reqps' }),
      },
      8,
      8,
    );
  }
  layout.add(
    {
      type: 'timeseries',
      title: 'Burn rate (5m and 1h windows; page at 14.4)',
      targets: targets(
        ...plan.targets.flatMap((t) => [
          {
            expr: `${recordedSelector(plan, RECORDED.errorRatio('5m'), t)} / ${t.budget.toPrecision(6)}`,
            legend: `${t.sli} 5m`,
          },
          {
            expr: `${recordedSelector(plan, RECORDED.errorRatio('1h'), t)} / ${t.budget.toPrecision(6)}`,
            legend: `${t.sli} 1h`,
          },
        ]),
      ),
      fieldConfig: fields({ unit: 'none' }),
    },
    8,
    8,
  );
  layout.add(
    {
      type: 'alertlist',
      title: 'Firing SLO alerts',
      options: {
        viewMode: 'list',
        stateFilter: { firing: true, pending: true },
        alertName: 'Infermark',
        maxItems: 20,
      },
    },
    8,
    8,
  );
  const waiting = spelling(plan, 'requests_waiting');
  if (waiting !== undefined) {
    layout.add(
      {
        type: 'timeseries',
        title: 'Requests queued in the server',
        targets: targets({ expr: `sum(${selector(plan, waiting)})`, legend: 'waiting' }),
      },
      8,
      8,
    );
  }
  return dashboard(
    plan,
    'on-call',
    'Live latency, failures and burn for triage (benchmark model guide: on-call).',
    'now-3h',
    layout,
  );
}

/** Per-instance and per-pod detail and the per-request latency distribution. */
export function debugDashboard(plan: ExportPlan): GrafanaDashboard {
  const layout = new Layout();
  for (const t of plan.targets) {
    layout.add(
      {
        type: 'heatmap',
        title: `${t.sli} · per-request distribution (${t.histogram.name})`,
        description: 'How many requests fell in each bucket per minute: the shape behind the percentiles.',
        targets: targets({
          expr: `sum by (le) (increase(${selector(plan, `${t.histogram.name}_bucket`)}[1m]))`,
          legend: '{{le}}',
          heatmap: true,
        }),
        options: { calculate: false, yAxis: { unit: 's' } },
      },
      12,
      8,
    );
    layout.add(
      {
        type: 'timeseries',
        title: `${t.sli} p99 by instance and pod (5m)`,
        targets: targets(
          { expr: quantileExpr(plan, t, 0.99, '5m', 'instance'), legend: '{{instance}}' },
          { expr: quantileExpr(plan, t, 0.99, '5m', 'pod'), legend: 'pod {{pod}}' },
        ),
        fieldConfig: fields({ unit: 's' }),
      },
      12,
      8,
    );
  }
  const perInstance: [TelemetryFamilyName, string, string][] = [
    ['requests_running', 'Requests running, by instance', 'none'],
    ['requests_waiting', 'Requests waiting, by instance', 'none'],
    ['kv_cache_usage', 'KV cache usage, by instance', 'percentunit'],
  ];
  for (const [family, panelTitle, unit] of perInstance) {
    const name = spelling(plan, family);
    if (name === undefined) continue;
    layout.add(
      {
        type: 'timeseries',
        title: panelTitle,
        targets: targets({ expr: `sum by (instance) (${selector(plan, name)})`, legend: '{{instance}}' }),
        fieldConfig: fields({ unit }),
      },
      8,
      8,
    );
  }
  const preemptions = spelling(plan, 'preemptions');
  if (preemptions !== undefined) {
    layout.add(
      {
        type: 'timeseries',
        title: 'Preemptions per second, by instance',
        targets: targets({
          expr: `sum by (instance) (rate(${selector(plan, preemptions)}[5m]))`,
          legend: '{{instance}}',
        }),
      },
      8,
      8,
    );
  }
  layout.add(
    {
      type: 'timeseries',
      title: 'GPU utilisation, by node and GPU (DCGM)',
      targets: targets({
        expr: `avg by (Hostname, gpu) (${TELEMETRY_FAMILIES.gpu_utilization.spellings.dcgm[0]}) / 100`,
        legend: '{{Hostname}} GPU {{gpu}}',
      }),
      fieldConfig: fields({ unit: 'percentunit' }),
    },
    8,
    8,
  );
  layout.add(
    {
      type: 'timeseries',
      title: 'Container restarts (kube-state-metrics), by pod',
      targets: targets({
        expr: `sum by (pod) (increase(${TELEMETRY_FAMILIES.container_restarts.spellings['kube-state-metrics'][0]}[15m]))`,
        legend: '{{pod}}',
      }),
    },
    8,
    8,
  );
  return dashboard(
    plan,
    'debug',
    'Per-node, per-pod and per-request detail (benchmark model guide: debug).',
    'now-1h',
    layout,
  );
}

/** The three dashboards, by file name. */
export function dashboards(plan: ExportPlan, provenance: string): Record<string, GrafanaDashboard> {
  return {
    'dashboard-executive.json': executiveDashboard(plan, provenance),
    'dashboard-on-call.json': onCallDashboard(plan),
    'dashboard-debug.json': debugDashboard(plan),
  };
}
