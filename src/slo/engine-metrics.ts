/**
 * What each serving engine exposes for an SLO: the latency histogram of each SLO metric
 * (names from the telemetry families, metrics/telemetry-families.ts), its default bucket
 * boundaries (an SLI counts requests at or below a boundary, so the threshold must map to
 * one), the label that names the model, and how its failed requests are counted.
 * Boundaries are the engines' defaults; a deployment that changed them passes its own.
 */
import { TELEMETRY_FAMILIES, type TelemetryFamilyName } from '../metrics/telemetry-families.js';
import type { SloMetric } from '../spec/slo-types.js';

export const ENGINES = ['vllm', 'sglang', 'tgi', 'llamacpp'] as const;
export type Engine = (typeof ENGINES)[number];

/** The SLO metrics an engine histogram can stand for. */
export type ExportMetric = Extract<SloMetric, 'ttft_ms' | 'tpot_ms' | 'e2e_latency_ms'>;
export const EXPORT_METRICS: readonly ExportMetric[] = ['ttft_ms', 'tpot_ms', 'e2e_latency_ms'];

/** Short names for labels and panel titles. */
export const SLI_NAMES: Record<ExportMetric, string> = {
  ttft_ms: 'ttft',
  tpot_ms: 'tpot',
  e2e_latency_ms: 'e2e',
};

const FAMILY_OF: Record<ExportMetric, TelemetryFamilyName> = {
  ttft_ms: 'server_ttft',
  tpot_ms: 'server_tpot',
  e2e_latency_ms: 'server_e2e_latency',
};

// vLLM's defaults (vllm/v1/metrics/loggers.py); SGLang documents the same TTFT boundaries.
const VLLM_TTFT_S = [
  0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640,
  2560,
];
const VLLM_TPOT_S = [
  0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80,
];
const VLLM_E2E_S = [
  0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680,
];
const SGLANG_E2E_S = [0.1, 0.2, 0.4, 0.6, 0.8, 1, 2, 4, 6, 8, 10, 20, 40, 60, 80, 100, 200, 400, 800];
/** TGI's router: 35 boundaries, each 1.5× the last, from 0.0001 × 1.5 (every `*_duration` histogram). */
const TGI_DURATION_S = ((): number[] => {
  const out: number[] = [];
  let value = 0.0001;
  for (let i = 0; i < 35; i++) {
    value *= 1.5;
    out.push(value);
  }
  return out;
})();

const DEFAULT_BUCKETS_S: Record<Engine, Partial<Record<ExportMetric, readonly number[]>>> = {
  vllm: { ttft_ms: VLLM_TTFT_S, tpot_ms: VLLM_TPOT_S, e2e_latency_ms: VLLM_E2E_S },
  sglang: { ttft_ms: VLLM_TTFT_S, e2e_latency_ms: SGLANG_E2E_S },
  tgi: { e2e_latency_ms: TGI_DURATION_S },
  llamacpp: {},
};

/** The label an engine puts the served model's name in; null when one server serves one model unnamed. */
export const MODEL_LABEL: Record<Engine, string | null> = {
  vllm: 'model_name',
  sglang: 'model_name',
  tgi: null,
  llamacpp: null,
};

/** One engine histogram standing for an SLO metric. */
export interface EngineHistogram {
  family: TelemetryFamilyName;
  /** The Prometheus family as exposed, without `_bucket`/`_count`. */
  name: string;
  buckets_s: readonly number[];
}

/** The histogram of `metric` on `engine`, or why there is none. */
export function engineHistogram(
  engine: Engine,
  metric: SloMetric,
  buckets_s?: readonly number[],
): EngineHistogram | { missing: string } {
  if (!(EXPORT_METRICS as readonly string[]).includes(metric)) {
    return { missing: `${metric}: no serving engine exposes a per-request histogram of it` };
  }
  const family = FAMILY_OF[metric as ExportMetric];
  const spellings = (TELEMETRY_FAMILIES[family].spellings as Readonly<Record<string, readonly string[]>>)[
    engine
  ];
  const name = spellings?.[0];
  if (name === undefined) {
    return { missing: `${metric}: ${engine} exposes no histogram of it (telemetry family ${family})` };
  }
  const buckets = buckets_s ?? DEFAULT_BUCKETS_S[engine][metric as ExportMetric];
  if (buckets === undefined || buckets.length === 0) {
    return { missing: `${metric}: the bucket boundaries of ${name} are unknown: pass them with --buckets` };
  }
  return { family, name, buckets_s: [...buckets].sort((a, b) => a - b) };
}

/** How an engine's failed requests and all its requests are counted, as PromQL counter selectors. */
export interface EngineErrors {
  /** A counter of failed requests, with its matchers (`tgi_request_failure`). */
  failed: string;
  /** Counters whose sum is every request the same way counted. */
  total: readonly string[];
  /** What "failed" means for this engine, for the docs and annotations. */
  meaning: string;
}

/** The error counters of `engine`, or null when it exposes none. */
export function engineErrors(engine: Engine): EngineErrors | null {
  if (engine === 'vllm') {
    const finished = TELEMETRY_FAMILIES.server_requests_finished.spellings.vllm[0];
    return {
      failed: `${finished}{finished_reason="abort"}`,
      total: [finished],
      meaning:
        'requests the engine aborted (client gone, or an engine error); HTTP errors are not engine metrics',
    };
  }
  if (engine === 'tgi') {
    return {
      failed: TELEMETRY_FAMILIES.server_request_failures.spellings.tgi[0],
      total: [
        TELEMETRY_FAMILIES.server_requests_finished.spellings.tgi[0],
        TELEMETRY_FAMILIES.server_request_failures.spellings.tgi[0],
      ],
      meaning: 'requests TGI answered with an error (tgi_request_failure), over those it finished or failed',
    };
  }
  return null;
}
