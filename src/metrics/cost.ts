/**
 * What a point of a benchmark cost, from the deployment's price per hour and the
 * point's throughputs: per request, and per million output tokens. Ingest of a run
 * and every importer fill the warehouse's cost columns with this one formula.
 */

export interface ServingCosts {
  cost_per_request_usd: number | null;
  cost_per_million_output_tokens_usd: number | null;
}

/** The throughputs a cost is taken over (an IterationSummary has them, as an outcome row does). */
export interface CostThroughputs {
  request_throughput_rps?: number | null;
  output_throughput_tokens_per_s?: number | null;
}

/**
 * Price per second over requests per second, and over output tokens per second (× 10⁶).
 * Null without a price, and where a throughput is missing or 0 (nothing completed: no cost per unit).
 */
export function servingCosts(pricePerHourUsd: number | null, point: CostThroughputs): ServingCosts {
  const perSecond = pricePerHourUsd === null ? null : pricePerHourUsd / 3600;
  const rps = point.request_throughput_rps;
  const tps = point.output_throughput_tokens_per_s;
  return {
    cost_per_request_usd: perSecond === null || !rps ? null : perSecond / rps,
    cost_per_million_output_tokens_usd: perSecond === null || !tps ? null : (perSecond / tps) * 1e6,
  };
}
