/**
 * Hot operational metrics of a running benchmark, for Prometheus: request and
 * error counters, output tokens, TTFT/TPOT/ITL/E2E histograms (seconds), in-flight
 * requests, the iteration under way and the client's event-loop delay, in a
 * private prom-client Registry. Fed by the run's events into plain totals
 * (hot-totals.ts): a finished record costs a few array increments plus one bucket
 * search per chunk gap, and no await; prom-client only formats, at scrape time (its
 * own `observe` validates and hashes the label set on every call, over a microsecond
 * each). A split run's coordinator adds its shards' totals (`readShards`).
 *
 * Series carry only the labels hot-labels.ts allows. Latency histograms, tokens
 * and error classes count measured requests only (warmup excluded), the records
 * the iteration summary uses; `infermark_requests_total` counts every finished
 * request by `phase` and `outcome`.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { RunEvents } from '../metrics/run-events.js';
import { ValidationError, type ValidationIssue } from '../base/errors.js';
import type { BenchmarkJob } from '../spec/job-schema.js';
import { jobTopology, TOPOLOGY_LABEL_KEYS } from '../spec/job-topology.js';
import {
  ERROR_CLASSES,
  hotLabelProblem,
  hotLabels,
  IDENTITY_LABELS,
  OUTCOMES,
  PHASES,
  UNKNOWN,
  type ConcurrencyBucket,
  type HotLabelName,
  type HotLabels,
} from './hot-labels.js';
import {
  E2E_BUCKETS_S,
  HistogramCounts,
  HotTotals,
  TOKEN_GAP_BUCKETS_S,
  TTFT_BUCKETS_S,
  type HotSeriesWire,
  type SeriesTotals,
  type ShardTotalsSink,
} from './hot-totals.js';

const IDENTITY = IDENTITY_LABELS;
const PER_ITERATION = [...IDENTITY, 'concurrency_bucket'] as const;

/** Every hot metric, declared once: name, type, labels and what it means. */
export const HOT_METRICS = {
  requests: {
    name: 'infermark_requests_total',
    type: 'counter',
    labels: [...PER_ITERATION, 'phase', 'outcome'],
    help: 'Finished requests (warmup included), by phase and outcome (ok, error, cancelled).',
  },
  errors: {
    name: 'infermark_request_errors_total',
    type: 'counter',
    labels: [...PER_ITERATION, 'error_class'],
    help: 'Measured requests that ended in an error, by error class.',
  },
  outputTokens: {
    name: 'infermark_output_tokens_total',
    type: 'counter',
    labels: PER_ITERATION,
    help: 'Output tokens of completed measured requests.',
  },
  ttft: {
    name: 'infermark_ttft_seconds',
    type: 'histogram',
    labels: PER_ITERATION,
    help: 'Time to first token (first_token_at - sent_at) of completed measured requests.',
  },
  tpot: {
    name: 'infermark_tpot_seconds',
    type: 'histogram',
    labels: PER_ITERATION,
    help: 'Time per output token after the first, of completed measured requests with 2+ tokens.',
  },
  itl: {
    name: 'infermark_itl_seconds',
    type: 'histogram',
    labels: PER_ITERATION,
    help: 'Inter-token latency: every gap between consecutive content events of completed measured requests.',
  },
  e2e: {
    name: 'infermark_e2e_latency_seconds',
    type: 'histogram',
    labels: PER_ITERATION,
    help: 'End-to-end latency (last_token_at - sent_at) of completed measured requests.',
  },
  inFlight: {
    name: 'infermark_requests_in_flight',
    type: 'gauge',
    labels: IDENTITY,
    help: 'Requests sent and not yet finished (sampled every 250 ms).',
  },
  iterationIndex: {
    name: 'infermark_iteration_index',
    type: 'gauge',
    labels: IDENTITY,
    help: 'Index (from 0) of the iteration under way.',
  },
  iterationsPlanned: {
    name: 'infermark_iterations_planned',
    type: 'gauge',
    labels: IDENTITY,
    help: 'Iterations in the run plan.',
  },
  loopDelayP99: {
    name: 'infermark_event_loop_delay_p99_seconds',
    type: 'gauge',
    labels: IDENTITY,
    help: "p99 of the client's event-loop lateness since the previous scrape.",
  },
  loopDelayMax: {
    name: 'infermark_event_loop_delay_max_seconds',
    type: 'gauge',
    labels: IDENTITY,
    help: 'Largest event-loop lateness of the client since the previous scrape.',
  },
} as const satisfies Record<
  string,
  { name: string; type: 'counter' | 'gauge' | 'histogram'; labels: readonly HotLabelName[]; help: string }
>;

/** The names a Prometheus query may use: each metric, and a histogram's `_bucket`, `_sum`, `_count`. */
export function exportedSeriesNames(): string[] {
  return Object.values(HOT_METRICS).flatMap((m) =>
    m.type === 'histogram' ? [`${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`] : [m.name],
  );
}

// As in engine/iteration.ts: at 1 ms the timer's own granularity reads as lateness on an idle loop.
const LOOP_DELAY_RESOLUTION_MS = 10;

type MetricSnapshot = Awaited<ReturnType<Histogram<string>['get']>>;

/**
 * A prom-client Histogram whose values come from HistogramCounts kept elsewhere:
 * prom-client declares and formats it, the hot path never calls `observe`.
 */
class CountsHistogram extends Histogram<string> {
  private readonly definition: { name: string; help: string };
  private readonly readSeries: () => Iterable<[HotLabels, HistogramCounts]>;

  constructor(
    definition: { name: string; help: string; labels: readonly string[] },
    bounds: readonly number[],
    registry: Registry,
    readSeries: () => Iterable<[HotLabels, HistogramCounts]>,
  ) {
    super({
      name: definition.name,
      help: definition.help,
      labelNames: [...definition.labels],
      buckets: [...bounds],
      registers: [registry],
    });
    this.definition = definition;
    this.readSeries = readSeries;
  }

  override async get(): Promise<MetricSnapshot> {
    return this.snapshot();
  }

  /** What the Registry calls when it renders the text format. */
  async getForPromString(): Promise<MetricSnapshot> {
    return this.snapshot();
  }

  private snapshot(): MetricSnapshot {
    const { name, help } = this.definition;
    const values: MetricSnapshot['values'] = [];
    for (const [labels, h] of this.readSeries()) {
      let cumulative = 0;
      h.bounds.forEach((le, i) => {
        cumulative += h.counts[i] as number;
        values.push({ metricName: `${name}_bucket`, labels: { ...labels, le }, value: cumulative });
      });
      values.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: h.count });
      values.push({ metricName: `${name}_sum`, labels: { ...labels }, value: h.sum });
      values.push({ metricName: `${name}_count`, labels: { ...labels }, value: h.count });
    }
    return {
      name,
      help,
      // prom-client's typings declare a numeric enum; the Registry prints this string.
      type: 'histogram' as unknown as MetricSnapshot['type'],
      aggregator: 'sum',
      values,
      collect: () => undefined,
    };
  }
}

type TopologyLabel = Exclude<(typeof IDENTITY_LABELS)[number], 'run_id' | 'benchmark_case_id'>;

/**
 * The job's topology as hot-metric label values (a missing one reads `unknown`).
 * @throws ValidationError naming each `metadata.labels` entry a hot label refuses.
 */
export function topologyLabels(job: BenchmarkJob, jobFile: string | null): Record<TopologyLabel, string> {
  const topology = jobTopology(job);
  const values: Record<TopologyLabel, string> = {
    cluster: topology.cluster ?? UNKNOWN,
    region: topology.region ?? UNKNOWN,
    node_pool: topology.node_pool ?? UNKNOWN,
    gpu_model: topology.gpu_model ?? UNKNOWN,
    scheduler_path: topology.scheduler_path,
  };
  const issues: ValidationIssue[] = [];
  for (const [name, value] of Object.entries(values) as [TopologyLabel, string][]) {
    const problem = hotLabelProblem(name, value);
    if (!problem) continue;
    issues.push({
      ...(jobFile ? { file: jobFile } : {}),
      path:
        name === 'gpu_model'
          ? 'spec.serviceMetadata.gpuType'
          : `metadata.labels["${TOPOLOGY_LABEL_KEYS[name]}"]`,
      value,
      message: `not usable as the hot-metric label ${name}: ${problem}`,
    });
  }
  if (issues.length > 0) throw new ValidationError(issues);
  return values;
}

/**
 * The registry and the run events that feed it. A split run's records are in its workers'
 * processes: its coordinator hands their totals in through `readShards`, and a scrape
 * serves this process's own totals plus every shard's latest.
 */
export class HotMetrics implements ShardTotalsSink {
  readonly registry = new Registry();
  private identity: HotLabels | null = null;
  private local = new HotTotals();
  private shards: (() => Iterable<HotSeriesWire>) | null = null;
  private readonly labels = new Map<ConcurrencyBucket, HotLabels>();
  private inFlight = 0;
  private iterationIndex = -1;
  private iterationsPlanned = 0;
  private readonly loopDelay: IntervalHistogram;
  private loopDelaySample = { p99_s: 0, max_s: 0 };

  constructor(private readonly topology: Readonly<Record<TopologyLabel, string>>) {
    this.loopDelay = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });
    this.loopDelay.enable();
    this.declare();
  }

  /** The events to pass to executeRun (merged with the caller's own). */
  readonly events: Required<Pick<RunEvents, 'onRunStart' | 'onIterationStart' | 'onProgress' | 'onRecord'>> =
    {
      // Each run of a group is counted under its own run_id, from 0.
      onRunStart: ({ runId, benchmarkCaseId, plans }) => {
        this.identity = hotLabels({ run_id: runId, benchmark_case_id: benchmarkCaseId, ...this.topology });
        this.iterationsPlanned = plans.length;
        this.local = new HotTotals();
        this.labels.clear();
      },
      onIterationStart: (plan) => {
        this.iterationIndex = plan.index;
        this.local.startIteration(plan);
      },
      onProgress: (_plan, snapshot) => {
        this.inFlight = snapshot.in_flight;
      },
      onRecord: (plan, record) => this.local.record(plan, record),
    };

  readShards(read: () => Iterable<HotSeriesWire>): void {
    this.shards = read;
  }

  /** Stops watching the event loop. */
  close(): void {
    this.loopDelay.disable();
  }

  /** What a scrape shows: this process's totals, plus the shards' latest summed when there are shards. */
  private served(): [HotLabels, SeriesTotals][] {
    if (!this.identity) return [];
    let totals = this.local;
    if (this.shards) {
      totals = new HotTotals();
      for (const bucket of this.local.buckets.keys()) totals.add(this.local.wire(bucket) as HotSeriesWire);
      for (const series of this.shards()) totals.add(series);
    }
    return [...totals.buckets].map(([bucket, series]) => [this.labelsFor(bucket), series]);
  }

  private labelsFor(bucket: ConcurrencyBucket): HotLabels {
    let labels = this.labels.get(bucket);
    if (!labels) {
      labels = hotLabels({ ...(this.identity ?? {}), concurrency_bucket: bucket });
      this.labels.set(bucket, labels);
    }
    return labels;
  }

  private declare(): void {
    const { registry } = this;
    const all = (): [HotLabels, SeriesTotals][] => this.served();
    // Counters are rebuilt from the plain totals at each scrape (as the simulator's are).
    const counter = (
      definition: { name: string; help: string; labels: readonly string[] },
      fill: (emit: (labels: HotLabels, value: number) => void) => void,
    ): void => {
      new Counter({
        name: definition.name,
        help: definition.help,
        labelNames: [...definition.labels],
        registers: [registry],
        collect() {
          this.reset();
          fill((labels, value) => this.inc(labels, value));
        },
      });
    };
    // Every enum combination is emitted from the start, at 0, so rate() sees the first increment.
    counter(HOT_METRICS.requests, (emit) => {
      for (const [labels, s] of all())
        PHASES.forEach((phase, p) =>
          OUTCOMES.forEach((outcome, o) =>
            emit(hotLabels({ ...labels, phase, outcome }), s.requests[p * OUTCOMES.length + o] as number),
          ),
        );
    });
    counter(HOT_METRICS.errors, (emit) => {
      for (const [labels, s] of all())
        ERROR_CLASSES.forEach((error_class, i) =>
          emit(hotLabels({ ...labels, error_class }), s.errors[i] as number),
        );
    });
    counter(HOT_METRICS.outputTokens, (emit) => {
      for (const [labels, s] of all()) emit(labels, s.outputTokens);
    });

    const histogram = (
      definition: { name: string; help: string; labels: readonly string[] },
      bounds: readonly number[],
      pick: (s: SeriesTotals) => HistogramCounts,
    ): void => {
      new CountsHistogram(definition, bounds, registry, () =>
        all().map(([labels, s]): [HotLabels, HistogramCounts] => [labels, pick(s)]),
      );
    };
    histogram(HOT_METRICS.ttft, TTFT_BUCKETS_S, (s) => s.ttft);
    histogram(HOT_METRICS.tpot, TOKEN_GAP_BUCKETS_S, (s) => s.tpot);
    histogram(HOT_METRICS.itl, TOKEN_GAP_BUCKETS_S, (s) => s.itl);
    histogram(HOT_METRICS.e2e, E2E_BUCKETS_S, (s) => s.e2e);

    const gauge = (
      definition: { name: string; help: string; labels: readonly string[] },
      read: () => number,
    ): void => {
      const identity = (): HotLabels | null => this.identity;
      new Gauge({
        name: definition.name,
        help: definition.help,
        labelNames: [...definition.labels],
        registers: [registry],
        collect() {
          this.reset();
          const labels = identity();
          if (labels) this.set(labels, read());
        },
      });
    };
    gauge(HOT_METRICS.inFlight, () => this.inFlight);
    gauge(HOT_METRICS.iterationIndex, () => this.iterationIndex);
    gauge(HOT_METRICS.iterationsPlanned, () => this.iterationsPlanned);
    // Registered before the max gauge, so its collect (which samples and resets the window) runs first.
    gauge(HOT_METRICS.loopDelayP99, () => {
      this.loopDelaySample = {
        p99_s: lateS(this.loopDelay.percentile(99)),
        max_s: lateS(this.loopDelay.max),
      };
      this.loopDelay.reset();
      return this.loopDelaySample.p99_s;
    });
    gauge(HOT_METRICS.loopDelayMax, () => this.loopDelaySample.max_s);
  }
}

/** Lateness in seconds: the histogram records each sampling interval, so the resolution is subtracted. */
function lateS(nanos: number): number {
  return Number.isFinite(nanos) ? Math.max(0, nanos / 1e9 - LOOP_DELAY_RESOLUTION_MS / 1000) : 0;
}
