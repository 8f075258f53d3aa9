/**
 * What a point of a benchmark cost, from the deployment's price per hour and the
 * point's throughputs: per request, and per million input and output tokens. Ingest of a
 * run, every importer, the report and the SLA search take costs from this one formula;
 * the price itself comes from `pricePerHour` (docs/cost.md).
 */
import type { BenchmarkJobSpec } from '../spec/job-schema.js';

export interface ServingCosts {
  cost_per_request_usd: number | null;
  /** The deployment's time over the prompt tokens it read in that time (× 10⁶). */
  cost_per_million_input_tokens_usd: number | null;
  cost_per_million_output_tokens_usd: number | null;
}

/** The throughputs a cost is taken over (an IterationSummary has them, as an outcome row does). */
export interface CostThroughputs {
  request_throughput_rps?: number | null;
  input_throughput_tokens_per_s?: number | null;
  output_throughput_tokens_per_s?: number | null;
}

/**
 * Price per second over requests per second, and over input and output tokens per second (× 10⁶).
 * Each is the whole price over that one throughput (not a split of it): the cost of a million
 * output tokens while serving the workload's inputs alongside. Null without a price, and where
 * a throughput is missing or 0 (nothing completed: no cost per unit).
 */
export function servingCosts(pricePerHourUsd: number | null, point: CostThroughputs): ServingCosts {
  const perSecond = pricePerHourUsd === null ? null : pricePerHourUsd / 3600;
  const per = (rate: number | null | undefined, scale: number): number | null =>
    perSecond === null || !rate ? null : (perSecond / rate) * scale;
  return {
    cost_per_request_usd: per(point.request_throughput_rps, 1),
    cost_per_million_input_tokens_usd: per(point.input_throughput_tokens_per_s, 1e6),
    cost_per_million_output_tokens_usd: per(point.output_throughput_tokens_per_s, 1e6),
  };
}

/** The deployment's price per hour and where it came from (run.json's `price`). */
export interface HourlyPrice {
  per_hour_usd: number;
  /** `costPerHourUsd`, `gpuHourUsd × gpuCount`, or `priceTable[gpuType] × gpuCount`, with the values. */
  source: string;
}

/** A price table: GPU type → USD per GPU-hour (spec/price-table.ts reads and checks the file). */
export type PriceTable = Readonly<Record<string, number>>;

/**
 * The price per hour of the job's deployment: spec.costPerHourUsd, else spec.cost.gpuHourUsd ×
 * serviceMetadata.gpuCount, else the price table's entry for serviceMetadata.gpuType ×
 * gpuCount; null when the job gives no price. The fields each way needs are checked when the
 * job is validated (job-rules.ts) and the table when it is read; a table without the GPU type
 * gives null here (price-table.ts refuses it first).
 */
export function pricePerHour(
  spec: Pick<BenchmarkJobSpec, 'costPerHourUsd' | 'cost' | 'serviceMetadata'>,
  table: PriceTable | null,
): HourlyPrice | null {
  if (spec.costPerHourUsd !== undefined)
    return { per_hour_usd: spec.costPerHourUsd, source: `costPerHourUsd ${spec.costPerHourUsd}` };
  const gpus = spec.serviceMetadata?.gpuCount;
  // No GPUs counted: no price (0 × a price would read as free).
  if (gpus === undefined || gpus < 1) return null;
  if (spec.cost?.gpuHourUsd !== undefined) {
    return {
      per_hour_usd: spec.cost.gpuHourUsd * gpus,
      source: `gpuHourUsd ${spec.cost.gpuHourUsd} × gpuCount ${gpus}`,
    };
  }
  const type = spec.serviceMetadata?.gpuType;
  const perGpu = table && type !== undefined ? table[type] : undefined;
  if (perGpu === undefined || !spec.cost?.priceTable) return null;
  return {
    per_hour_usd: perGpu * gpus,
    source: `priceTable ${spec.cost.priceTable} ${type} ${perGpu} × gpuCount ${gpus}`,
  };
}
