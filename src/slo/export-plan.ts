/**
 * What `slo export` turns SLO lines into before any rule is written: for each SLO, the
 * engine histogram that measures it, the bucket boundary the SLI counts up to (at or below
 * the threshold, so the SLI is never laxer than the SLO), and its objective and error
 * budget (p99 → 99% of requests within the threshold, unless an objective is given).
 * Rules and dashboards are both rendered from this plan, so they cannot disagree.
 */
import { ExitCode, InfermarkError } from '../base/errors.js';
import { formatSlo } from '../spec/slo.js';
import type { Slo } from '../spec/slo-types.js';
import {
  engineErrors,
  engineHistogram,
  MODEL_LABEL,
  SLI_NAMES,
  type Engine,
  type EngineErrors,
  type EngineHistogram,
  type ExportMetric,
} from './engine-metrics.js';

export interface ExportOptions {
  engine: Engine;
  /** The served model, as the engine labels it. */
  model: string;
  /** Extra label matchers for every selector (`namespace="prod"`), as PromQL writes them. */
  selector?: string;
  /** Share of requests that must meet each latency SLO (0.99); default: the SLO's percentile. */
  objective?: number;
  /** Share of requests that must not fail; alerts on failures only when given. */
  availability?: number;
  /** Bucket boundaries in seconds per metric, where the deployment changed the engine's defaults. */
  buckets?: Partial<Record<ExportMetric, readonly number[]>>;
}

export interface SloTarget {
  slo: string;
  metric: ExportMetric;
  /** `ttft`, `tpot`, `e2e`. */
  sli: string;
  histogram: EngineHistogram;
  threshold_s: number;
  /** The boundary the SLI counts requests up to, in seconds (≤ threshold). */
  le_s: number;
  /** The PromQL matcher for that bucket, accepting both `1` and `1.0` spellings. */
  le_matcher: string;
  objective: number;
  budget: number;
  /** Set when the threshold is not a boundary (the SLI is stricter than the SLO). */
  note: string | null;
}

export interface ExportPlan {
  engine: Engine;
  model: string;
  /** Matchers (without braces) that select the served model's series. */
  matchers: string;
  targets: SloTarget[];
  /** SLOs that have no engine histogram, with why. */
  skipped: string[];
  errors: EngineErrors | null;
  availability: number | null;
  warnings: string[];
}

/** Burn-rate thresholds of the SRE workbook's multi-window alerts (chapter 5, "Alerting on SLOs"). */
export const BURN_WINDOWS = [
  { severity: 'page', long: '1h', short: '5m', factor: 14.4 },
  { severity: 'page', long: '6h', short: '30m', factor: 6 },
  { severity: 'ticket', long: '1d', short: '2h', factor: 3 },
  { severity: 'ticket', long: '3d', short: '6h', factor: 1 },
] as const;

/** Every window a ratio is recorded over. */
export const RATIO_WINDOWS = ['5m', '30m', '1h', '2h', '6h', '1d', '3d'] as const;

const MATCHERS =
  /^\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=|!=|=~|!~)\s*"(?:[^"\\]|\\.)*"\s*(,\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=|!=|=~|!~)\s*"(?:[^"\\]|\\.)*"\s*)*$/;

/** A PromQL string literal's body. */
export function promString(text: string): string {
  return text.replaceAll('\\', '\\\\').replaceAll('"', '\\"');
}

/** `le=~"..."` for a boundary: the shortest spelling, and `N.0` too for whole numbers (Python's client writes `1.0`). */
export function leMatcher(le_s: number): string {
  const text = String(le_s);
  const escaped = text.replaceAll('.', '\\\\.').replaceAll('+', '\\\\+');
  return Number.isInteger(le_s) ? `le=~"${escaped}(\\\\.0)?"` : `le=~"${escaped}"`;
}

/** The plan for `slos`; bad options are errors with exit code 2. */
export function planExport(slos: readonly Slo[], options: ExportOptions): ExportPlan {
  const fail = (message: string): never => {
    throw new InfermarkError('E_SLO_EXPORT', message, ExitCode.badInput);
  };
  if (options.model.trim() === '') fail('--model: expected the served model name, as the engine labels it');
  if (options.selector !== undefined && options.selector.trim() !== '' && !MATCHERS.test(options.selector)) {
    fail(
      `--selector ${JSON.stringify(options.selector)}: expected PromQL label matchers such as namespace="prod",job=~"vllm.*"`,
    );
  }
  for (const [flag, value] of [
    ['--objective', options.objective],
    ['--availability', options.availability],
  ] as const) {
    if (value !== undefined && !(value > 0 && value < 1))
      fail(`${flag} ${value}: expected a share between 0 and 1 exclusive (e.g. 99%)`);
  }
  const label = MODEL_LABEL[options.engine];
  const matchers = [
    ...(label === null ? [] : [`${label}="${promString(options.model)}"`]),
    ...(options.selector?.trim() ? [options.selector.trim()] : []),
  ].join(',');
  const warnings: string[] = [];
  if (label === null) {
    warnings.push(
      `${options.engine} labels no model: every series the selector matches counts (narrow it with --selector)`,
    );
  }
  const targets: SloTarget[] = [];
  const skipped: string[] = [];
  for (const slo of slos) {
    const text = formatSlo(slo);
    if (slo.op === '>=' || slo.op === '>') {
      skipped.push(`${text}: a latency SLO bounds from above (<= or <)`);
      continue;
    }
    const histogram = engineHistogram(
      options.engine,
      slo.metric,
      options.buckets?.[slo.metric as ExportMetric],
    );
    if ('missing' in histogram) {
      skipped.push(`${text}: ${histogram.missing}`);
      continue;
    }
    const threshold_s = slo.threshold / 1000;
    // A tiny tolerance: 0.25 s written as 250 ms is the 0.25 boundary, not the one below.
    const le_s = [...histogram.buckets_s].reverse().find((b) => b <= threshold_s * (1 + 1e-9));
    if (le_s === undefined) {
      skipped.push(
        `${text}: the threshold is below ${histogram.name}'s smallest bucket (${histogram.buckets_s[0]} s): no SLI can count it`,
      );
      continue;
    }
    const objective = options.objective ?? (slo.percentile === null ? 0.99 : slo.percentile / 100);
    if (!(objective > 0 && objective < 1)) {
      skipped.push(`${text}: objective ${objective} is not between 0 and 1 exclusive (give --objective)`);
      continue;
    }
    const budget = 1 - objective;
    const exact = Math.abs(le_s - threshold_s) <= threshold_s * 1e-9;
    const above = histogram.buckets_s.find((b) => b > le_s);
    const note = exact
      ? null
      : `${threshold_s} s is not a bucket boundary of ${histogram.name}: the SLI counts requests ≤ ${le_s} s, ` +
        `the boundary below (stricter than the SLO)` +
        (above === undefined
          ? ''
          : `; a threshold of ${Number((above * 1000).toPrecision(12))} ms would be measured exactly`);
    if (note !== null) warnings.push(`${text}: ${note}`);
    if (BURN_WINDOWS[0].factor * budget >= 1) {
      warnings.push(
        `${text}: with an objective of ${objective} the fast-burn alerts can never fire (14.4 × budget ≥ 1)`,
      );
    }
    targets.push({
      slo: text,
      metric: slo.metric as ExportMetric,
      sli: SLI_NAMES[slo.metric as ExportMetric],
      histogram,
      threshold_s,
      le_s,
      le_matcher: leMatcher(le_s),
      objective,
      budget,
      note,
    });
  }
  if (targets.length === 0) {
    fail(`no SLO can be exported for ${options.engine}:\n  ${skipped.join('\n  ')}`);
  }
  const errors = engineErrors(options.engine);
  if (options.availability !== undefined && errors === null) {
    fail(`--availability: ${options.engine} exposes no failed-request counter to alert on`);
  }
  return {
    engine: options.engine,
    model: options.model,
    matchers,
    targets,
    skipped,
    errors,
    availability: options.availability ?? null,
    warnings,
  };
}

/** `name{matchers,extra}`: a selector of the served model's series. */
export function selector(plan: Pick<ExportPlan, 'matchers'>, name: string, extra?: string): string {
  const all = [plan.matchers, extra].filter((m) => m !== undefined && m !== '').join(',');
  return `${name}{${all}}`;
}

/** A selector of a counter that may carry its own matchers already (`x{a="b"}`). */
export function counterSelector(plan: Pick<ExportPlan, 'matchers'>, counter: string): string {
  const match = /^([^{]+)\{(.*)\}$/.exec(counter);
  return match ? selector(plan, match[1] as string, match[2]) : selector(plan, counter);
}
