/**
 * Server /metrics scrapes (Prometheus text format) turned into telemetry slices:
 * what changed over an iteration. Counters give their increase, gauges their value
 * at the end, histograms and summaries their mean over the window (Δsum / Δcount).
 * Label sets stay in the metric name; a scrape's labels are the server's own and
 * few (vLLM's `model_name`, `engine`), so this does not explode cardinality.
 */

export interface TelemetrySlice {
  /** `vllm:num_preemptions_total{model_name="m"}`, or `<histogram>:mean`. */
  metric: string;
  value: number;
  unit: string | null;
}

interface Parsed {
  types: Map<string, string>;
  samples: Map<string, number>;
}

/** Parses the text format: `# TYPE` lines and `name{labels} value [timestamp]` samples. */
export function parsePrometheusText(text: string): Parsed {
  const types = new Map<string, string>();
  const samples = new Map<string, number>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      const type = /^#\s*TYPE\s+(\S+)\s+(\S+)/.exec(line);
      if (type) types.set(type[1] as string, type[2] as string);
      continue;
    }
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{.*\})?)\s+(\S+)/.exec(line);
    if (!match) continue;
    const value = Number(match[2]);
    if (Number.isFinite(value)) samples.set(match[1] as string, value);
  }
  return { types, samples };
}

/** The slices between a scrape at the start and one at the end of a window. */
export function telemetrySlices(startText: string, endText: string): TelemetrySlice[] {
  const start = parsePrometheusText(startText);
  const end = parsePrometheusText(endText);
  const out: TelemetrySlice[] = [];
  for (const [series, value] of end.samples) {
    const name = series.replace(/\{.*$/, '');
    const family = familyOf(name, end.types);
    const type = end.types.get(family);
    if (type === 'counter') {
      out.push({ metric: series, value: value - (start.samples.get(series) ?? 0), unit: 'increase' });
    } else if (type === 'gauge' || type === undefined) {
      out.push({ metric: series, value, unit: 'value_at_end' });
    } else if ((type === 'histogram' || type === 'summary') && name.endsWith('_sum')) {
      const countSeries = series.replace(/_sum(\{|$)/, '_count$1');
      const dSum = value - (start.samples.get(series) ?? 0);
      const dCount = (end.samples.get(countSeries) ?? 0) - (start.samples.get(countSeries) ?? 0);
      if (dCount > 0)
        out.push({ metric: series.replace(/_sum(\{|$)/, ':mean$1'), value: dSum / dCount, unit: 'mean' });
    }
  }
  return out;
}

/** The `# TYPE` family a sample belongs to (`x_bucket` → `x` for histograms). */
function familyOf(name: string, types: Map<string, string>): string {
  if (types.has(name)) return name;
  for (const suffix of ['_bucket', '_sum', '_count', '_total', '_created']) {
    if (name.endsWith(suffix) && types.has(name.slice(0, -suffix.length)))
      return name.slice(0, -suffix.length);
  }
  return name;
}
