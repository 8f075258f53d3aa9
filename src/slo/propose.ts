/**
 * SLOs proposed from measured points: at one load (given, or the highest that ran with
 * no errors), each metric's percentile as measured (numpy's linear method, as the
 * summaries), its distribution-free confidence interval (quantile-ci.ts) and the sample
 * size, plus a margin; the threshold is what the SLO line says (`p99_ttft_ms<=495`).
 */
import { ExitCode, InfermarkError } from '../base/errors.js';
import { percentileOfSorted } from '../metrics/percentiles.js';
import { formatSlo } from '../spec/slo.js';
import type { Slo } from '../spec/slo-types.js';
import { errorRate, loadLabel, PROPOSE_METRICS, type ProposeMetricName, type SloPoint } from './points.js';
import { quantileInterval, type QuantileInterval } from './quantile-ci.js';

export interface ProposeOptions {
  /** The scenario, required when the run has several. */
  scenario?: string;
  /** Concurrency or rate of the point to use; default: the highest with no errors. */
  load?: number;
  /** Which the load is (`8rps` is a rate, `c8` a concurrency); needed when the scenario ran both kinds. */
  loadKind?: 'concurrency' | 'rate';
  /** 99 for p99. */
  percentile: number;
  /** 0.2 for 20%. */
  margin: number;
  metrics: readonly ProposeMetricName[];
  /** Confidence of the interval (0.95). */
  level: number;
  /**
   * Bucket boundaries (ms) of the engine histogram that will measure each metric: the
   * threshold is rounded up to the next one, so the production SLI counts exactly it.
   */
  snap?: { engine: string; boundaries_ms: Partial<Record<ProposeMetricName, readonly number[]>> };
}

export interface ProposedSlo {
  /** The SLO line, ready for spec.slos. */
  slo: string;
  metric: ProposeMetricName;
  percentile: number;
  /** The percentile as measured, ms. */
  estimate_ms: number;
  ci: QuantileInterval;
  samples: number;
  margin: number;
  threshold_ms: number;
  /** Set when the threshold was rounded up to an engine's bucket boundary (`--snap`). */
  snapped_to: string | null;
  /** Whether the threshold is above the interval's upper bound; null when there is none. */
  threshold_above_upper: boolean | null;
  /** Why a reader should be careful with this one, if anything. */
  note: string | null;
}

export interface Proposal {
  scenario: string;
  load_kind: SloPoint['load_kind'];
  load: number | null;
  /** How the load was chosen, in words. */
  load_reason: string;
  iterations: number[];
  error_rate: number;
  slos: ProposedSlo[];
}

/** Rounded up: whole ms from 10 ms, tenths below (the SLO grammar takes any non-negative number). */
function roundUpMs(value: number): number {
  return value >= 10 ? Math.ceil(value) : Math.ceil(value * 10) / 10;
}

function choosePoint(
  points: readonly SloPoint[],
  options: ProposeOptions,
): { point: SloPoint; reason: string } {
  const scenarios = [...new Set(points.map((p) => p.scenario))];
  let scenario = options.scenario;
  if (scenario === undefined) {
    if (scenarios.length > 1) {
      throw new InfermarkError(
        'E_SLO_SCENARIO',
        `the run has several scenarios (${scenarios.join(', ')}): choose one with --scenario`,
        ExitCode.badInput,
      );
    }
    scenario = scenarios[0] as string;
  } else if (!scenarios.includes(scenario)) {
    throw new InfermarkError(
      'E_SLO_SCENARIO',
      `--scenario ${scenario}: the run has no such scenario (it has ${scenarios.join(', ')})`,
      ExitCode.badInput,
    );
  }
  const candidates = points.filter((p) => p.scenario === scenario);
  const loads = candidates.map((p) => (p.load === null ? 'trace' : String(p.load))).join(', ');
  const labels = candidates.map((p) => loadLabel(p)).join(', ');
  const kinds = new Set(candidates.map((p) => p.load_kind).filter((k) => k !== 'trace'));
  if (options.load !== undefined) {
    if (options.loadKind === undefined && kinds.size > 1) {
      throw new InfermarkError(
        'E_SLO_LOAD',
        `--load ${options.load}: scenario ${scenario} ran both concurrencies and rates (${labels}): write c${options.load} or ${options.load}rps`,
        ExitCode.badInput,
      );
    }
    const point = candidates.find(
      (p) => p.load === options.load && (options.loadKind === undefined || p.load_kind === options.loadKind),
    );
    if (point === undefined) {
      throw new InfermarkError(
        'E_SLO_LOAD',
        `--load ${options.load}: scenario ${scenario} ran no such load (it ran ${loads})`,
        ExitCode.badInput,
      );
    }
    return { point, reason: `${loadLabel(point)}, as asked (--load)` };
  }
  // Users and requests per second are not one axis: with both kinds, the user says which.
  if (kinds.size > 1) {
    throw new InfermarkError(
      'E_SLO_LOAD',
      `scenario ${scenario} ran both concurrencies and rates (${labels}): choose one with --load (c8 or 8rps)`,
      ExitCode.badInput,
    );
  }
  const clean = candidates
    .filter((p) => p.errored === 0 && p.completed > 0)
    .sort((a, b) => (b.load ?? 0) - (a.load ?? 0));
  const point = clean[0];
  if (point === undefined) {
    throw new InfermarkError(
      'E_SLO_LOAD',
      `scenario ${scenario}: no load ran without errors (loads ${loads}); choose one with --load`,
      ExitCode.badInput,
    );
  }
  const reason =
    candidates.length === 1
      ? `${loadLabel(point)}, the only load measured (no errors)`
      : `${loadLabel(point)}, the highest load with an error rate of 0 (of ${loads})`;
  return { point, reason };
}

/** The proposal for `points` (one run's); bad choices are errors with exit code 2. */
export function proposeSlos(points: readonly SloPoint[], options: ProposeOptions): Proposal {
  const { point, reason } = choosePoint(points, options);
  const quantile = options.percentile / 100;
  const slos = options.metrics.map((metric): ProposedSlo => {
    const field = PROPOSE_METRICS[metric];
    const sorted = Float64Array.from(point.samples[field]).sort();
    if (sorted.length === 0) {
      throw new InfermarkError(
        'E_SLO_SAMPLES',
        `${metric}: ${loadLabel(point)} of ${point.scenario} has no completed request with a ${field}` +
          (metric === 'tpot' ? ' (TPOT needs at least 2 output tokens in 2 events)' : ''),
        ExitCode.badInput,
      );
    }
    const estimate_ms = percentileOfSorted(sorted, options.percentile);
    const ci = quantileInterval(sorted, quantile, options.level);
    const raw_ms = roundUpMs(estimate_ms * (1 + options.margin));
    const boundaries = options.snap?.boundaries_ms[metric];
    const boundary = boundaries?.find((b) => b >= raw_ms);
    const threshold_ms = boundary ?? raw_ms;
    const snapped_to =
      options.snap === undefined
        ? null
        : boundary === undefined
          ? `no ${options.snap.engine} bucket boundary at or above ${raw_ms} ms: not snapped`
          : `${options.snap.engine}'s bucket boundary ${boundary} ms (from ${raw_ms} ms), so its histogram measures the SLO exactly`;
    const slo: Slo = {
      text: '',
      metric: field,
      percentile: options.percentile,
      op: '<=',
      threshold: threshold_ms,
    };
    const threshold_above_upper = ci.upper === null ? null : threshold_ms >= ci.upper;
    let note: string | null = null;
    if (ci.upper === null) {
      note =
        `${sorted.length} samples give p${options.percentile} no upper confidence bound at ` +
        `${options.level * 100}% (it takes ${ci.samples_for_upper}): the measured value may be well below the truth`;
    } else if (!threshold_above_upper) {
      note = `the margin does not clear the interval's upper bound (${ci.upper.toFixed(1)} ms): the SLO may fail at this load by chance`;
    }
    return {
      slo: formatSlo(slo),
      metric,
      percentile: options.percentile,
      estimate_ms,
      ci,
      samples: sorted.length,
      margin: options.margin,
      threshold_ms,
      snapped_to,
      threshold_above_upper,
      note,
    };
  });
  return {
    scenario: point.scenario,
    load_kind: point.load_kind,
    load: point.load,
    load_reason: reason,
    iterations: point.iterations,
    error_rate: errorRate(point),
    slos,
  };
}
