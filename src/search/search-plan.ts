/**
 * An SLA search as a growing plan (engine/run.ts, PlanExtension): one run whose iterations
 * are the probes, each decided when the one before has ended. Every load is run spec.repeats
 * times (a probe passes only if every repeat does; a failing repeat ends its probe), judged
 * by probe-verdict.ts, and the next load chosen by bisect.ts. At the end it writes search.json
 * into the run folder, sealed with it: the knee, the last passing and first failing probes
 * with their SLO checks and evidence, every probe, the Pareto frontier and the cost at the knee.
 */
import type { PlanExtension } from '../engine/run.js';
import { servingCosts, type HourlyPrice, type ServingCosts } from '../metrics/cost.js';
import type { IterationSummary } from '../metrics/iteration-summary.js';
import { OPEN_LOOP_MAX_IN_FLIGHT } from '../plan/build-plan.js';
import type { IterationPlan, PlannedIteration } from '../plan/plan.js';
import { formatSlo } from '../spec/slo.js';
import { MAX_REQUESTS_PER_ITERATION } from '../spec/job-limits.js';
import type { ParsedScenario, ValidatedJob } from '../spec/validated-job.js';
import { checkedPercentile } from '../metrics/goodput.js';
import {
  bracket as bracketFn,
  nextStep,
  probeBound,
  type ProbeResult,
  type SearchBounds,
  type SearchPhase,
  type StopReason,
} from './bisect.js';
import { paretoFrontier, type FrontierPoint } from './pareto.js';
import { judgeProbe, mostSamplesNeeded, type ProbeVerdict } from './probe-verdict.js';

export const SEARCH_FILE = 'search.json';
export const SEARCH_SCHEMA_VERSION = 1;

export type SearchBy = 'rate' | 'concurrency';

/** What a search is asked (spec.search with the command line's overrides applied). */
export interface SearchSettings {
  by: SearchBy;
  bounds: SearchBounds;
  scenario: ParsedScenario;
  /** Iterations per probe. */
  repeats: number;
}

/** One probe's iterations and their verdicts. */
interface ProbeState {
  load: number;
  phase: SearchPhase;
  iterations: IterationSummary[];
  verdicts: ProbeVerdict[];
}

/** A probe as search.json writes it. */
export interface SearchProbe {
  probe: number;
  load: number;
  phase: SearchPhase;
  pass: boolean;
  /** Open loop: the capacity an overloaded probe showed (no rate above it can pass). */
  ceiling_rps: number | null;
  /** Over its repeats: the mean throughputs, and their costs. */
  request_throughput_rps: number | null;
  output_throughput_tokens_per_s: number | null;
  input_throughput_tokens_per_s: number | null;
  cost: ServingCosts;
  repeats: Array<
    ProbeVerdict & {
      /** The iteration's folder in the run folder, and its summary. */
      evidence: { dir: string; summary: string; records: string };
    }
  >;
}

/** search.json. */
export interface SearchDocument {
  schema_version: number;
  by: SearchBy;
  scenario: string;
  slos: string[];
  bounds: SearchBounds & { probe_bound: number };
  repeats: number;
  /** Measured requests each probe iteration plans (raised to what the SLOs' percentiles need). */
  requests_per_probe: number;
  /** Why the search stopped; `interrupted` when the run was (its bracket is what was found by then). */
  stopped_by: StopReason | 'interrupted';
  /** The highest load at which every SLO held (null when none did). */
  knee: number | null;
  /** The lowest failing load or proven capacity above the knee (null when nothing failed). */
  upper: number | null;
  probes_run: number;
  last_pass: SearchProbe | null;
  first_fail: SearchProbe | null;
  price: HourlyPrice | null;
  /** Cost per request and per million tokens at the knee: "cost within SLO". */
  cost_at_knee: ServingCosts | null;
  /** The SLO whose percentile the frontier's latency is. */
  frontier_latency: string;
  frontier: FrontierPoint[];
  probes: SearchProbe[];
}

export class SearchPlan implements PlanExtension {
  readonly maxInFlight: number;
  private readonly probes: ProbeState[] = [];
  private seen = 0;
  private stopped: { reason: StopReason; knee: number | null; upper: number | null } | null = null;
  readonly requestsPerProbe: number;

  constructor(
    private readonly job: ValidatedJob,
    private readonly settings: SearchSettings,
    private readonly price: HourlyPrice | null,
  ) {
    const { bounds, by } = settings;
    this.maxInFlight = by === 'concurrency' ? Math.ceil(bounds.max) : OPEN_LOOP_MAX_IN_FLIGHT;
    const needed = mostSamplesNeeded(job.parsed.slos.map(checkedPercentile));
    this.requestsPerProbe = Math.min(
      MAX_REQUESTS_PER_ITERATION,
      Math.max(job.spec.maxRequestsPerIteration, needed),
    );
  }

  describe(): Record<string, unknown> {
    const { by, bounds, scenario, repeats } = this.settings;
    return {
      kind: 'sla-search',
      by,
      scenario: scenario.text,
      slos: this.job.parsed.slos.map(formatSlo),
      bounds,
      repeats,
      requests_per_probe: this.requestsPerProbe,
    };
  }

  next(ran: readonly IterationSummary[]): PlannedIteration | null {
    for (; this.seen < ran.length; this.seen++) {
      const summary = ran[this.seen] as IterationSummary;
      const probe = this.probes[this.probes.length - 1];
      if (!probe) break;
      probe.iterations.push(summary);
      probe.verdicts.push(judgeProbe(summary));
    }
    const current = this.probes[this.probes.length - 1];
    if (current && current.verdicts.every((v) => v.pass) && current.verdicts.length < this.settings.repeats) {
      return this.iterationAt(current.load);
    }
    const step = nextStep(this.settings.bounds, this.results());
    if (step.kind === 'done') {
      this.stopped = { reason: step.reason, knee: step.knee, upper: step.upper };
      return null;
    }
    this.probes.push({ load: step.load, phase: step.phase, iterations: [], verdicts: [] });
    return this.iterationAt(step.load);
  }

  documents(ran: readonly IterationSummary[]): Record<string, unknown> {
    return { [SEARCH_FILE]: this.document(ran) };
  }

  /** search.json, from the probes judged so far (the run's summaries agree with them). */
  document(_ran: readonly IterationSummary[] = []): SearchDocument {
    const { by, bounds, scenario, repeats } = this.settings;
    const finished = this.probes.filter((p) => p.verdicts.length > 0);
    const probes = finished.map((p, i) => this.probeOut(p, i));
    const results = this.results();
    const outcome = this.stopped ?? { reason: 'interrupted' as const, ...bracketOf(results) };
    const lastPass = probes.find((p) => p.pass && p.load === outcome.knee) ?? null;
    const firstFail =
      probes
        .filter((p) => !p.pass && (outcome.knee === null || p.load > outcome.knee))
        .sort((a, b) => a.load - b.load)[0] ?? null;
    const primary = this.job.parsed.slos[0];
    const frontier = paretoFrontier(
      finished.flatMap((p) =>
        p.iterations.map((s) => ({
          iteration: s.iteration,
          load: p.load,
          output_tokens_per_s: s.output_throughput_tokens_per_s,
          latency_ms: s.slo_checks?.[0]?.measured ?? null,
        })),
      ),
    );
    return {
      schema_version: SEARCH_SCHEMA_VERSION,
      by,
      scenario: scenario.text,
      slos: this.job.parsed.slos.map(formatSlo),
      bounds: { ...bounds, probe_bound: probeBound(bounds) },
      repeats,
      requests_per_probe: this.requestsPerProbe,
      stopped_by: outcome.reason,
      knee: outcome.knee,
      upper: outcome.upper,
      probes_run: probes.length,
      last_pass: lastPass,
      first_fail: firstFail,
      price: this.price,
      cost_at_knee: lastPass && this.price ? lastPass.cost : null,
      frontier_latency: primary ? formatSlo(primary) : '',
      frontier,
      probes,
    };
  }

  /** Each finished probe's load, verdict and ceiling (the highest ceiling among failing repeats). */
  private results(): ProbeResult[] {
    return this.probes
      .filter((p) => p.verdicts.length > 0)
      .map((p) => {
        const pass = p.verdicts.every((v) => v.pass);
        const ceilings = p.verdicts.filter((v) => !v.pass).map((v) => v.ceiling_rps);
        const ceiling = pass || ceilings.some((c) => c === null) ? null : Math.max(...(ceilings as number[]));
        return { load: p.load, pass, ceiling };
      });
  }

  private probeOut(p: ProbeState, index: number): SearchProbe {
    const mean = (pick: (s: IterationSummary) => number | null): number | null => {
      const values = p.iterations.map(pick);
      if (values.some((v) => v === null) || values.length === 0) return null;
      return (values as number[]).reduce((a, b) => a + b, 0) / values.length;
    };
    const throughputs = {
      request_throughput_rps: mean((s) => s.request_throughput_rps),
      output_throughput_tokens_per_s: mean((s) => s.output_throughput_tokens_per_s),
      input_throughput_tokens_per_s: mean((s) => s.input_throughput_tokens_per_s),
    };
    const result = this.results()[index] as ProbeResult;
    return {
      probe: index,
      load: p.load,
      phase: p.phase,
      pass: result.pass,
      ceiling_rps: result.ceiling,
      ...throughputs,
      cost: servingCosts(this.price?.per_hour_usd ?? null, throughputs),
      repeats: p.verdicts.map((v) => {
        const dir = `iterations/${String(v.iteration).padStart(3, '0')}`;
        return {
          ...v,
          evidence: { dir, summary: `${dir}/summary.json`, records: `${dir}/requests.jsonl` },
        };
      }),
    };
  }

  /** A probe's iteration at `load` (its index is set by the run). */
  private iterationAt(load: number): PlannedIteration {
    const { spec } = this.job;
    const { by, scenario } = this.settings;
    const common = {
      index: -1,
      scenario: scenario.text,
      max_requests: this.requestsPerProbe,
      max_time_s: spec.maxTimePerIteration * 60,
      warmup: { requests: spec.warmup?.requests ?? 0, seconds: spec.warmup?.seconds ?? 0 },
    };
    const plan: IterationPlan =
      by === 'concurrency'
        ? { ...common, mode: 'concurrency', concurrency: load, max_in_flight: load }
        : {
            ...common,
            mode: 'rate',
            rate_rps: load,
            arrival: { distribution: spec.arrival.distribution, burstiness: spec.arrival.burstiness ?? 1 },
            max_in_flight: OPEN_LOOP_MAX_IN_FLIGHT,
          };
    return { plan, workload: { kind: 'scenario', scenario: scenario.scenario } };
  }
}

function bracketOf(results: ProbeResult[]): { knee: number | null; upper: number | null } {
  const { lower, upper } = bracketFn(results);
  return { knee: lower, upper };
}
